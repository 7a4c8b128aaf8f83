import { describeMasterChange, masterLevelPaths, needsRestart, staleFiles, type MasterChange } from '../engine/master-change.js';
import { StepError } from '../engine/ports.js';
import type { AppDefinitions } from '../engine/worker-definitions.js';
import type { HostRun } from './context.js';
import { masterFilesToChange } from './sync-step.js';

const CHOICES = 'on-master-change: restart restarts the app (dropping open connections), reload reloads anyway and leaves the master on the old code';

/** What counts as master-level code on this host: loaded at top level by the running start script, or listed in master-files. */
export function masterLevel(run: HostRun, live: AppDefinitions): (path: string) => boolean {
  return masterLevelPaths(live, run.settings.target, run.settings.masterFiles);
}

/** Files of the running master changed after it started: an earlier deploy reloaded where it should have restarted. */
export function staleMaster(run: HostRun, live: AppDefinitions, masterStartedAt: number | undefined): readonly string[] {
  const stale = staleFiles(live, masterStartedAt, run.settings.target);
  if (stale.length > 0) {
    run.io.log.warning(`${run.label}: the running master is older than its own code: ${stale.slice(0, 5).join(', ')} changed after it started. An earlier deploy reloaded where a restart was needed`);
  }
  return stale;
}

/** on-master-change: fail stops here, before any file changes, when the sync would change master-level code. */
export async function refuseMasterChange(run: HostRun, live: AppDefinitions, stale: readonly string[]): Promise<void> {
  const files = await masterFilesToChange(run, live, masterLevel(run, live));
  const change: MasterChange = { files, definitions: [], stale };
  if (!needsRestart(change)) return;
  throw new StepError('preflight', `a reload cannot apply this deploy: ${describeMasterChange(change)}. Nothing was changed (on-master-change: fail); ${CHOICES}`);
}

/** After the sync: reload, restart, or stop, as on-master-change says. */
export function decide(run: HostRun, change: MasterChange): 'reload' | 'restart' {
  if (!needsRestart(change)) return 'reload';
  const what = describeMasterChange(change);
  switch (run.settings.onMasterChange) {
    case 'restart':
      return 'restart';
    case 'reload':
      run.io.log.warning(`${run.label}: reloading although ${what}: the master keeps the old code and definitions until the app is restarted (on-master-change: reload)`);
      return 'reload';
    case 'fail':
      throw new StepError('sync', `a reload cannot apply this deploy: ${what}. The files were synced but no reload was sent (on-master-change: fail); ${CHOICES}`);
  }
}
