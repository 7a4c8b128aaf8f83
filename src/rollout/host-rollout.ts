/**
 * src/rollout/: one host's rollout and the fleet's: this file (a host from
 * lock to report), a function per step (preflight, sync, signal, verify,
 * restart, rollback), the watch loops, the lock and snapshots, and the fleet
 * (fleet-rollout.ts). All I/O comes in through HostRolloutIO, so a fake shell
 * can drive it. Imported by src/run/ and the two front ends; it imports
 * src/engine/, src/status/, src/workerman/, src/remote/ and src/adapters/
 * (the real I/O, in real-io.ts).
 */

import type { HostSpec } from '../engine/inputs/host-spec.js';
import { definitionChanges, describeMasterChange, type MasterChange, type StaleCheck } from '../engine/plan/master-change.js';
import { StepError } from '../engine/step-error.js';
import type { HostReport } from '../engine/report/report.js';
import type { RolloutSettings } from '../engine/inputs/settings.js';
import { traced, type HostFacts, type HostRolloutIO, type HostRun } from './context.js';
import { beforeReloadStep } from './hooks-step.js';
import { NoTargetForLock } from './host-lock.js';
import { decide, masterChangeOf, masterLevel, refuseMasterChange, staleMaster } from './master-change-step.js';
import { recordLoaded } from './master-record.js';
import { phaseClock, type PhaseClock } from './phase-clock.js';
import { preflight, type Preflight } from './preflight.js';
import { restartStep } from './restart-step.js';
import { signalStep } from './signal-step.js';
import { sourceTransfer, syncStep, type Synced, type Transfer } from './sync-step.js';
import { verifyStep } from './verify-step.js';

export type { HostRolloutIO } from './context.js';

function describeApp(run: HostRun, checked: Preflight): void {
  const { definitions } = checked;
  run.io.log.info(
    `${run.label}: master ${checked.masterPid} running (Workerman ${definitions.workerman}); groups ${definitions.groups
      .map((group) => `${group.name}×${group.count}${group.reloadable ? '' : ' (not reloadable)'}`)
      .join(', ')}; ` + (checked.logFile ? `log ${checked.logFile}` : 'no app log to read'),
  );
}

/** The revision a host's report names: the one its workers are checked against. */
export function revisionField(settings: RolloutSettings): { revision?: string } {
  return settings.revision !== undefined ? { revision: settings.revision } : {};
}

/**
 * After a proven reload, what the master loaded is known for a master with no
 * record yet, when the file times said it was up to date: the files as they
 * were before this sync. With a record, it stands; after a guess that said
 * stale, nothing is known.
 */
function recordAfterReload(stale: StaleCheck): boolean {
  return stale.basis === 'times' && stale.stale.length === 0;
}

/** The rolling reload: baseline, signal, and the watch that proves it. */
async function reloadReport(run: HostRun, checked: Preflight, started: number, clock: PhaseClock, stale: StaleCheck): Promise<HostReport> {
  const { facts, io, host, now } = run;
  const { source, plan } = checked;
  clock.begin('reload');
  const { baseline, signalledAt } = await signalStep(run, source, plan);
  clock.begin('verify');
  const outcome = await verifyStep(run, source, baseline);
  clock.end(outcome.ok);
  const common = {
    host: host.label,
    ...revisionField(run.settings),
    action: 'reload' as const,
    filesChanged: facts.filesChanged,
    signalled: facts.signalled,
    ...(facts.sync ? { sync: facts.sync } : {}),
    masterPid: baseline.masterPid,
    reloadMode: plan.mode,
    reloadModeReason: plan.modeReason,
    kept: baseline.kept.map(({ pid, group, keptBecause }) => ({ pid, group, keptBecause })),
    forced: outcome.forced,
    durationMs: now() - started,
    reloadMs: now() - signalledAt,
    replacement: { replaced: outcome.ok ? baseline.tracked.length : outcome.replaced, of: baseline.tracked.length },
    phases: clock.phases,
  };
  if (outcome.ok && recordAfterReload(stale)) await recordLoaded(run, baseline.masterPid, checked.definitions);
  if (!outcome.ok) {
    // Quoted in the host's one annotation and in the job summary: here they are log lines, not annotations of their own.
    for (const line of outcome.appErrors) io.log.info(`${host.label}: app log: ${line}`);
    return {
      ...common,
      ok: false,
      step: 'verify',
      reason: outcome.reason,
      appErrors: outcome.appErrors,
      error:
        outcome.message +
        (outcome.appErrors.length > 0 ? `. The app log says: ${outcome.appErrors[0]}` : '') +
        ` (${describeFacts(facts)}; ${outcome.replaced}/${baseline.tracked.length} old workers replaced)`,
      stillOld: outcome.stillOld.map(({ pid, group }) => ({ pid, group })),
    };
  }
  return {
    ...common,
    ok: true,
    step: 'done',
    replaced: baseline.tracked.map(({ pid, group }) => ({ group, oldPid: pid })),
    workers: outcome.workers.map(({ pid, group }) => ({ pid, group })),
  };
}

/** A master-level change: stop, start, and the watch that proves the new master. */
async function restartReport(run: HostRun, checked: Preflight, synced: Synced, change: MasterChange, started: number, clock: PhaseClock): Promise<HostReport> {
  const why = describeMasterChange(change);
  clock.begin('restart');
  const outcome = await restartStep(run, checked.source, checked.masterPid, synced.definitions, why, () => clock.begin('verify'));
  clock.end(true);
  // The new master loaded the synced tree: its files, as the probe after the sync read them.
  await recordLoaded(run, outcome.masterPid, synced.definitions);
  return {
    host: run.host.label,
    ...revisionField(run.settings),
    ok: true,
    step: 'done',
    action: 'restart',
    restartBecause: change,
    filesChanged: run.facts.filesChanged,
    signalled: true,
    ...(run.facts.sync ? { sync: run.facts.sync } : {}),
    masterPid: outcome.masterPid,
    previousMasterPid: checked.masterPid,
    restartCost: outcome.cost,
    workers: outcome.workers.map(({ pid, group }) => ({ pid, group })),
    durationMs: run.now() - started,
    phases: clock.phases,
  };
}

/** What a failure leaves on the host, in words: files changed or not, reload signalled or not. */
export function describeFacts(facts: HostFacts): string {
  const files =
    !facts.filesChanged ? 'no file was changed'
    : facts.sync ? `files synced (${facts.sync.filesTransferred} sent, ${facts.sync.filesDeleted} deleted)`
    : 'the sync did not finish, so some files may have changed';
  const signal =
    facts.stopped ? 'the app was stopped for a restart'
    : facts.signalled ? 'the reload was signalled'
    : 'no reload was signalled';
  return `${files}; ${signal}`;
}

/** A host connected and checked (and locked, in a fleet), nothing changed yet. */
export interface PreparedHost {
  readonly run: HostRun;
  readonly checked: Preflight;
  readonly started: number;
  /** The host's phases so far; the fleet adds its own (snapshot, canary, rollback). */
  readonly clock: PhaseClock;
  /** Releases what preparing took (lock, status source, connection); never throws. */
  readonly finish: () => Promise<void>;
  /** The host's lock, in a fleet. */
  readonly lock?: LockHold;
}

export type Prepared = { readonly ok: true; readonly host: PreparedHost } | { readonly ok: false; readonly report: HostReport };

/** What happens to the live tree: new files from a transfer, or none (sync: false, the manual reload). */
export type Delivery = Transfer | 'none';

/** What a failure report is built from: the host, what is known about it, and its phases so far. */
interface FailedHost {
  readonly host: HostSpec;
  readonly settings: RolloutSettings;
  readonly facts: HostFacts;
  readonly now: () => number;
  readonly clock: PhaseClock;
}

function failureReport({ host, settings, facts, now, clock }: FailedHost, error: unknown, started: number): HostReport {
  clock.end(false);
  const stepError = error instanceof StepError ? error : new StepError(facts.step, (error as Error).message ?? String(error), { cause: error });
  const known = facts.filesChanged || facts.signalled || facts.stopped ? ` (${describeFacts(facts)})` : '';
  return {
    host: host.label,
    ...revisionField(settings),
    ok: false,
    step: stepError.step,
    error: stepError.message + known,
    filesChanged: facts.filesChanged,
    // A restart's stop counts: the master was told to go.
    signalled: facts.signalled || facts.stopped === true,
    ...(facts.sync ? { sync: facts.sync } : {}),
    durationMs: now() - started,
    phases: clock.phases,
  };
}

/** What guarding a host took (its lock), and whether another run held it first. */
export interface HostGuard {
  readonly release: () => Promise<void>;
  readonly waited: boolean;
  readonly lock?: LockHold;
}

/** The host's lock while this run holds it: `lost` once another run took it (or it vanished); `renew` asks the host now. */
export interface LockHold {
  readonly lost: AbortSignal;
  renew(): Promise<boolean>;
}

/** Before changing the host: a lock found lost by the heartbeat stops the run here. */
function stillLocked(lock: LockHold | undefined, before: string): void {
  if (lock?.lost.aborted) throw new StepError('lock', `${String(lock.lost.reason)}; this run stopped before ${before}`);
}

/**
 * The guard (lock, free space) and the preflight side by side: both only
 * read until the lock is taken, and each costs round trips. A lock that had
 * to wait for another run means the host may have changed under the first
 * look, so the preflight runs again.
 */
async function guardedPreflight(
  run: HostRun,
  guard: ((run: HostRun) => Promise<HostGuard>) | undefined,
  releases: (() => Promise<unknown>)[],
): Promise<{ checked: Preflight; lock?: LockHold }> {
  run.facts.step = 'preflight';
  const [guarded, checked] = await Promise.allSettled([guard?.(run), preflight(run)]);
  if (guarded.status === 'fulfilled' && guarded.value) releases.push(guarded.value.release);
  if (checked.status === 'fulfilled') releases.push(async () => checked.value.source.stop());
  // A target the lock refused to sit beside is one preflight refused too, and says why better.
  if (guarded.status === 'rejected') throw checked.status === 'rejected' && guarded.reason instanceof NoTargetForLock ? checked.reason : guarded.reason;
  const lock = guarded.value?.lock ? { lock: guarded.value.lock } : {};
  if (!guarded.value?.waited) {
    if (checked.status === 'rejected') throw checked.reason;
    return { checked: checked.value, ...lock };
  }
  if (checked.status === 'fulfilled') checked.value.source.stop();
  const again = await preflight(run);
  releases.push(async () => again.source.stop());
  return { checked: again, ...lock };
}

/**
 * Connects and runs the preflight: nothing on the host changes. `guard`
 * runs right after connecting (a fleet takes the host's lock there) and
 * returns what to release at the end. `alone`: no other host logs meanwhile.
 */
export async function prepareHost(
  host: HostSpec,
  settings: RolloutSettings,
  io: HostRolloutIO,
  guard?: (run: HostRun) => Promise<HostGuard>,
  alone = true,
): Promise<Prepared> {
  const now = io.now ?? Date.now;
  const started = now();
  const facts: HostFacts = { step: 'connect', filesChanged: false, signalled: false };
  const clock = phaseClock(host.label, now, io.log);
  clock.alone = alone;
  clock.begin('preflight');
  const releases: (() => Promise<unknown>)[] = [];
  const finish = async () => {
    for (const release of releases.reverse()) await release().catch(() => undefined);
    releases.length = 0;
  };
  try {
    io.log.info(`${host.label}: connecting`);
    const shell = await io.openShell(host);
    releases.push(() => shell.close());
    const run: HostRun = { host, label: host.label, settings, io, shell: traced(shell, io.log, host.label), now, facts };
    const { checked, lock } = await guardedPreflight(run, guard, releases);
    describeApp(run, checked);
    clock.end(true);
    return { ok: true, host: { run, checked, started, clock, finish, ...(lock ? { lock } : {}) } };
  } catch (error) {
    await finish();
    return { ok: false, report: failureReport({ host, settings, facts, now, clock }, error, started) };
  }
}

/**
 * Changes the host: delivers the files, then reloads, or restarts for a
 * master-level change, and proves it. Never throws: every outcome is a report.
 */
export async function deployHost(prepared: PreparedHost, delivery: Delivery = sourceTransfer(prepared.run), cancelled?: AbortSignal): Promise<HostReport> {
  const { checked, started, clock, lock } = prepared;
  // A lock another run took stops the watch as a cancel does: the host is no longer this run's to judge.
  const stops = [cancelled, lock?.lost].filter((signal) => signal !== undefined);
  const run: HostRun = stops.length > 0 ? { ...prepared.run, cancelled: AbortSignal.any(stops) } : prepared.run;
  const { settings } = run;
  try {
    stillLocked(lock, 'changing any file');
    if (settings.drain.when === 'always' && run.drain) await run.drain.before(run);
    const stale = staleMaster(run, checked);
    const watch = masterLevel(run, checked.definitions);
    if (settings.onMasterChange === 'fail' && delivery !== 'none') {
      // A check before any file changes: on the timeline, a second look of preflight's.
      clock.begin('preflight');
      await refuseMasterChange(run, checked.definitions, stale);
    }
    if (delivery !== 'none') clock.begin('sync');
    const synced: Synced =
      delivery === 'none' ? { definitions: checked.definitions, masterFilesChanged: [] } : await syncStep(run, checked.definitions, watch, delivery);
    clock.end(true);
    stillLocked(lock, 'signalling the app (the files were synced)');
    const change = masterChangeOf(run, checked.definitions, synced.masterFilesChanged, definitionChanges(checked.definitions, synced.definitions), stale);
    const action = decide(run, change);
    await beforeReloadStep(run);
    if (action === 'restart') return await restartReport(run, checked, synced, change, started, clock);
    return await reloadReport(run, checked, started, clock, stale);
  } catch (error) {
    return failureReport({ ...run, clock }, error, started);
  }
}

/**
 * One host's rollout on its own: connect, preflight, sync, then reload (or
 * restart), each its own function. It never throws; every outcome is a
 * report that says which step failed and what was left on the host.
 */
export async function rolloutHost(host: HostSpec, settings: RolloutSettings, io: HostRolloutIO, drain?: HostRun['drain']): Promise<HostReport> {
  const prepared = await prepareHost(host, settings, io);
  if (!prepared.ok) return prepared.report;
  try {
    return await deployHost(drain ? { ...prepared.host, run: { ...prepared.host.run, drain } } : prepared.host);
  } finally {
    await prepared.host.finish();
  }
}
