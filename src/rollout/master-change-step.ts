import {
  describeMasterChange,
  masterLevelPaths,
  masterLevelReasons,
  needsRestart,
  staleFiles,
  type MasterChange,
  type StaleCheck,
} from '../engine/plan/master-change.js';
import { StepError } from '../engine/step-error.js';
import type { AppDefinitions } from '../engine/workers/worker-definitions.js';
import type { HostRun } from './context.js';
import type { Preflight } from './preflight.js';
import { masterFilesToChange } from './sync-step.js';

const CHOICES = 'on-master-change: restart restarts the app (dropping open connections), reload reloads anyway and leaves the master on the old code';

/** What counts as master-level code on this host: loaded at top level by the running start script and frozen there, or listed in master-files. */
export function masterLevel(run: HostRun, live: AppDefinitions): (path: string) => boolean {
  return masterLevelPaths(live, run.settings.target, run.settings.masterFiles);
}

/** Master-level files the running master did not load as they are now: an earlier deploy reloaded where it should have restarted. */
export function staleMaster(run: HostRun, checked: Pick<Preflight, 'definitions' | 'masterStartedAt' | 'record'>): StaleCheck {
  const check = staleFiles(checked.definitions, { startedAt: checked.masterStartedAt, record: checked.record }, run.settings.target);
  if (check.stale.length > 0) {
    const named = check.stale.slice(0, 5).map((file) => `${file} (${check.evidence[file]})`);
    run.io.log.warning(`${run.label}: the running master did not load the current ${named.join(', ')}. An earlier deploy reloaded where a restart was needed`);
  }
  return check;
}

/**
 * The change in full: the files the sync changes, the definitions, the
 * stale files, and for each file what changed and why a reload cannot apply it.
 */
export function masterChangeOf(run: HostRun, live: AppDefinitions, files: readonly string[], definitions: readonly string[], stale: StaleCheck): MasterChange {
  const reason = masterLevelReasons(live, run.settings.target, run.settings.masterFiles);
  const evidence: Record<string, string> = { ...stale.evidence };
  for (const file of files) {
    evidence[file] =
      evidence[file] === undefined ? `changed by this deploy; ${reason(file) ?? 'master-level'}` : `${evidence[file]}; this deploy changes it again`;
  }
  return { files, definitions, stale: stale.stale, evidence };
}

/** on-master-change: fail stops here, before any file changes, when the sync would change master-level code. */
export async function refuseMasterChange(run: HostRun, live: AppDefinitions, stale: StaleCheck): Promise<void> {
  const files = await masterFilesToChange(run, live, masterLevel(run, live));
  const change = masterChangeOf(run, live, files, [], stale);
  if (!needsRestart(change)) return;
  throw new StepError(
    'preflight',
    `a reload cannot apply this deploy: ${describeMasterChange(change)}. Nothing was changed (on-master-change: fail); ${CHOICES}`,
  );
}

/** After the sync: reload, restart, or stop, as on-master-change says. */
export function decide(run: HostRun, change: MasterChange): 'reload' | 'restart' {
  if (!needsRestart(change)) return 'reload';
  const what = describeMasterChange(change);
  switch (run.settings.onMasterChange) {
    case 'restart':
      return 'restart';
    case 'reload':
      run.io.log.warning(
        `${run.label}: reloading although ${what}: the master keeps the old code and definitions until the app is restarted (on-master-change: reload)`,
      );
      return 'reload';
    case 'fail':
      throw new StepError(
        'sync',
        `a reload cannot apply this deploy: ${what}. The files were synced but no reload was sent (on-master-change: fail); ${CHOICES}`,
      );
  }
}
