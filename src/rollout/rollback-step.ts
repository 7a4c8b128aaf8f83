import type { HostReport } from '../engine/report/report.js';
import { onLiveConnection, type HostRun } from './context.js';
import { deployHost, type PreparedHost } from './host-rollout.js';
import { restoreSnapshot } from './host-snapshot.js';
import { phaseClock } from './phase-clock.js';
import { preflight, type Preflight } from './preflight.js';
import { protectRules } from './sync-step.js';
import type { Transfer } from './sync-step.js';

export interface RollbackOutcome {
  readonly ok: boolean;
  readonly snapshot: string;
  /** reload, or restart when the restore changed master-level code back. */
  readonly action?: 'reload' | 'restart';
  readonly error?: string;
}

/** A rollback's transfer: the snapshot on the host copied back into the live tree, runtime files kept. */
export function snapshotTransfer(run: HostRun, snapshot: string): Transfer {
  return { from: `the snapshot ${snapshot}`, run: (protect, watch) => restoreSnapshot(run, snapshot, { protect, watch }) };
}

/**
 * Puts a host's snapshot back and proves the old code serves again, with the
 * same proof as a deploy: a fresh preflight (the master may be another one
 * now), the restore, then a reload, or a restart if master-level code
 * changed back, and the watch. A master the failed deploy never signalled
 * (`masterUntouched`: a drain or a check failed before the reload or the
 * stop) still runs the code it loaded, which the snapshot holds: its files
 * are put back and nothing is reloaded or restarted, so a failure before
 * the stop costs the app's users nothing.
 */
export async function rollBack(prepared: PreparedHost, snapshot: string, masterUntouched = false): Promise<RollbackOutcome> {
  prepared.run.io.log.warning(`${prepared.run.label}: rolling back to ${snapshot}`);
  prepared.checked.source.stop();
  try {
    // A deploy cut off by a lost connection is rolled back over a new one, as its clean-ups are.
    return await onLiveConnection(prepared.run, 'to roll back', (live) => rollBackOn(prepared, live, snapshot, masterUntouched));
  } catch (error) {
    return { ok: false, snapshot, error: `the rollback could not start: ${(error as Error).message}; nothing was restored` };
  }
}

async function rollBackOn(prepared: PreparedHost, live: HostRun, snapshot: string, masterUntouched: boolean): Promise<RollbackOutcome> {
  // A rollback is no deploy: before-reload does not run again.
  const run: HostRun = { ...live, runsBeforeReload: false, facts: { step: 'preflight', filesChanged: false, signalled: false } };
  let checked;
  try {
    checked = await preflight(run);
  } catch (error) {
    // No master to reload: at least the files go back, so a start serves the old code.
    const restored = await snapshotTransfer(run, snapshot)
      .run([], () => false)
      .then(() => 'the files were restored')
      .catch((restoreError: Error) => `the files could not be restored either (${restoreError.message})`);
    return { ok: false, snapshot, error: `${(error as Error).message}; ${restored}, but nothing was reloaded` };
  }
  if (masterUntouched && checked.masterPid === prepared.checked.masterPid) return restoreFilesOnly(run, checked, snapshot);
  let report: HostReport;
  try {
    // Its own clock, unannounced: the host's timeline shows the whole rollback as one phase.
    report = await deployHost({ ...prepared, run, checked, started: run.now(), clock: phaseClock(run.label, run.now) }, snapshotTransfer(run, snapshot));
  } finally {
    checked.source.stop();
  }
  return report.ok ?
      { ok: true, snapshot, ...(report.action ? { action: report.action } : {}) }
    : { ok: false, snapshot, error: `${report.step} failed: ${report.error}` };
}

/** The files put back under a master that still runs the code they hold: no signal, no restart. */
async function restoreFilesOnly(run: HostRun, checked: Preflight, snapshot: string): Promise<RollbackOutcome> {
  try {
    await snapshotTransfer(run, snapshot).run(protectRules(run, checked.definitions), () => false);
    run.io.log.info(
      `${run.label}: the master (pid ${checked.masterPid}) was never signalled and runs the code of ${snapshot}: files restored, nothing reloaded`,
    );
    return { ok: true, snapshot };
  } catch (error) {
    return { ok: false, snapshot, error: `the files could not be restored (${(error as Error).message})` };
  } finally {
    checked.source.stop();
  }
}
