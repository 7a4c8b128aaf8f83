import { spawn } from 'node:child_process';
import type { HostSpec } from '../engine/host-spec.js';
import { StepError, type FileSync, type SyncSummary } from '../engine/ports.js';
import type { RolloutSettings } from '../engine/settings.js';
import type { OpenSshFiles } from './openssh-files.js';

/**
 * rsync splits its `-e` value itself (no shell). Every option lives in the
 * generated config file, whose path needs no quoting, so the only values here
 * are that path and a validated port.
 */
export function sshCommandForRsync(host: HostSpec, files: Pick<OpenSshFiles, 'configFile'>): string {
  return `ssh -F ${files.configFile} -p ${host.port}`;
}

export function remoteDestination(host: HostSpec, target: string): string {
  const name = host.host.includes(':') ? `[${host.host}]` : host.host;
  return `${host.username}@${name}:${target}/`;
}

/**
 * The rsync argument list. Files are updated in place (a symlink switch would
 * leave the master serving the old release after a reload) with
 * --delay-updates, so a worker forked mid-sync never sees half a release.
 * --checksum: a CI checkout gives every file a fresh mtime, and a changed file
 * of the same size and second would otherwise be skipped silently.
 */
export function rsyncArguments(host: HostSpec, settings: RolloutSettings, rsh: string): string[] {
  return [
    '--recursive',
    '--links',
    '--perms',
    '--times',
    '--checksum',
    '--compress',
    '--delete',
    '--delete-delay',
    '--delay-updates',
    '--protect-args',
    '--stats',
    '--itemize-changes',
    // A transfer that stalls (a hung disk or network) fails instead of hanging the job.
    `--timeout=${Math.max(5, Math.ceil(settings.commandTimeoutMs / 1000))}`,
    ...settings.exclude.map((pattern) => `--exclude=${pattern}`),
    ...settings.protect.map((pattern) => `--filter=protect ${pattern}`),
    '--rsh', rsh,
    '--',
    `${settings.source.replace(/\/+$/, '')}/`,
    remoteDestination(host, settings.target),
  ];
}

export function parseRsyncStats(stdout: string): SyncSummary {
  const transferred = /Number of regular files transferred:\s*([\d,]+)/.exec(stdout)?.[1];
  const deleted = /Number of deleted files:\s*([\d,]+)/.exec(stdout)?.[1];
  return {
    filesTransferred: Number((transferred ?? '0').replaceAll(',', '')),
    filesDeleted: Number((deleted ?? '0').replaceAll(',', '')),
  };
}

/** The runner's environment minus the action's INPUT_* variables, which carry the secrets. */
function childEnvironment(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('INPUT_')));
}

export class RsyncSync implements FileSync {
  constructor(
    private readonly host: HostSpec,
    private readonly settings: RolloutSettings,
    private readonly files: OpenSshFiles,
    private readonly debug?: (line: string) => void,
  ) {}

  sync(): Promise<SyncSummary> {
    const args = rsyncArguments(this.host, this.settings, sshCommandForRsync(this.host, this.files));
    this.debug?.(`rsync ${args.map((arg) => JSON.stringify(arg)).join(' ')}`);
    return new Promise((resolve, reject) => {
      const child = spawn('rsync', args, {
        env: { ...childEnvironment(), ...this.files.env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      child.on('error', (error) => reject(new StepError('sync', `cannot run rsync (${error.message}); install rsync on the runner`)));
      child.on('close', (code) => {
        this.debug?.(`rsync exited ${code}: ${stdout.trim().split('\n').slice(-16).join(' | ')}`);
        if (code === 0) resolve(parseRsyncStats(stdout));
        else {
          const hostKey = /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|No .* host key is known/i.test(stderr);
          reject(
            new StepError(
              hostKey ? 'host-key' : 'sync',
              `rsync failed (exit ${code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}`,
            ),
          );
        }
      });
    });
  }
}
