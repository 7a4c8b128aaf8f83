import { relativeToApp, type AppDefinitions } from '../workers/worker-definitions.js';

/**
 * What the sync must never delete because the running app writes it: the
 * master's pid, log, status and stdout files, wherever the app put them.
 * A directory below the target that holds them (a framework's runtime/, with
 * its sessions and caches beside them) is protected whole; inside Composer's
 * vendor/ (Workerman 4's default place) only the files are, since vendor/ is
 * code a deploy must be able to change. Pure: rsync filter rules out.
 */
export function runtimeProtectRules(
  definitions: Pick<AppDefinitions, 'pidFile' | 'logFile' | 'statusFile' | 'stdoutFile' | 'appDir'>,
  target: string,
): string[] {
  const rules = new Set<string>();
  for (const path of [definitions.pidFile, definitions.logFile, definitions.statusFile, definitions.stdoutFile]) {
    const relative = relativeToApp(path, target, definitions.appDir);
    if (relative === undefined || relative === '') continue;
    const slash = relative.lastIndexOf('/');
    const directory = slash < 0 ? '' : relative.slice(0, slash);
    // rsync's own wildcards in a name are literal to us.
    const literal = (text: string) => text.replace(/[[\]*?\\]/g, '\\$&');
    if (directory === '' || directory.split('/').includes('vendor')) rules.add(`/${literal(relative)}`);
    else rules.add(`/${literal(directory.split('/')[0]!)}/***`);
  }
  return [...rules];
}
