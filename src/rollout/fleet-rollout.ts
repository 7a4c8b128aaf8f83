import { budgetExceeded, planBatches } from '../engine/inputs/fleet-plan.js';
import type { HostSpec } from '../engine/inputs/host-spec.js';
import type { CommandRecord, HostReport, HostStatus } from '../engine/report/report.js';
import { changedNothing, type SyncSummary } from '../engine/ports.js';
import { type Step } from '../engine/step-error.js';
import type { RolloutSettings } from '../engine/inputs/settings.js';
import type { HostRolloutIO, HostRun } from './context.js';
import { watchCanary } from './canary-watch.js';
import { HostDrain } from './drain.js';
import { afterReloadStep } from './hooks-step.js';
import { acquireLock, type LockOwner } from './host-lock.js';
import { deployHost, prepareHost, revisionField, type Delivery, type PreparedHost } from './host-rollout.js';
import type { PhaseClock } from './phase-clock.js';
import { rollBack, snapshotTransfer } from './rollback-step.js';
import { dropUnchangedSnapshot, freeSpaceCheck, listSnapshots, pruneSnapshots, takeSnapshot } from './host-snapshot.js';
import { protectRules, sourceTransfer, type Transfer } from './sync-step.js';

export interface FleetHost {
  readonly spec: HostSpec;
  /** Its place in the whole host list (before sharding), from 1: GRACEFUL_RELOAD_HOST_INDEX. */
  readonly position?: number;
  /** The rollout settings for this host (the inventory may override target, start-file, status-url). */
  readonly settings: RolloutSettings;
}

export interface FleetSettings {
  /** deploy: the source goes out; rollback: every host gets its newest snapshot back. */
  readonly mode: 'deploy' | 'rollback';
  /** false: reload and verify without uploading anything (the manual reload). */
  readonly sync: boolean;
  readonly maxParallel: number;
  readonly canary: boolean;
  readonly canarySettleMs: number;
  /** Failed hosts allowed; the rollout fails once this is exceeded. */
  readonly maxFailures: number;
  readonly rollback: 'failed-hosts' | 'all' | 'none';
  readonly keepSnapshots: number;
  readonly lock: { readonly owner: LockOwner; readonly timeoutMs: number; readonly force: boolean };
  /**
   * Free space each host needs beside the target: at most every source file
   * changes (a hard-link snapshot costs next to nothing). A promise, so the
   * source tree is walked while the hosts are being connected.
   */
  readonly neededBytes?: number | Promise<number>;
}

/** Preflights at once: enough to hide latency, few enough for a runner's file descriptors and a bastion's MaxStartups. */
export const PREFLIGHT_CONCURRENCY = 16;

export async function inParallel<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  });
  await Promise.all(lanes);
  return results;
}

const withStatus = (report: HostReport, status: HostStatus, extra: Partial<HostReport> = {}): HostReport => ({ ...report, status, ...extra });

/** A host never changed; its preflight, when it had one, stays on its timeline. */
function untouched(host: FleetHost, status: 'skipped' | 'cancelled', why: string, clock?: PhaseClock): HostReport {
  return {
    host: host.spec.label,
    ...revisionField(host.settings),
    ok: false,
    status,
    step: 'preflight',
    skippedBecause: why,
    error: why,
    filesChanged: false,
    signalled: false,
    durationMs: 0,
    ...(clock ? { phases: clock.phases } : {}),
  };
}

/**
 * A fleet's rollout. Every host is connected, locked and preflighted first;
 * if any fails, none is changed. Then batches of max-parallel (a canary
 * first, watched for canary-settle), a snapshot before each host's sync,
 * a verified rollback of what failed, and no new host once the failure
 * budget is exceeded or the run is cancelled. Every host gets a report.
 */
export async function rolloutFleet(
  hosts: readonly FleetHost[],
  fleet: FleetSettings,
  io: HostRolloutIO,
  cancelled: AbortSignal = new AbortController().signal,
  /** Each host's report as soon as it is known, so a run cut short can still write them. */
  onReport: (host: FleetHost, report: HostReport) => void = () => undefined,
  /** After a cancel: when the hosts in flight stop watching (they get to settle until then). */
  watchesEnd: AbortSignal = cancelled,
): Promise<HostReport[]> {
  const guard = async (run: HostRun) => {
    const lock = await acquireLock(run, fleet.lock.owner, { timeoutMs: fleet.lock.timeoutMs, force: fleet.lock.force });
    try {
      if (fleet.mode === 'deploy' && fleet.sync && fleet.neededBytes !== undefined) await freeSpaceCheck(run, await fleet.neededBytes);
    } catch (error) {
      await lock.release();
      throw error;
    }
    return { release: () => lock.release(), waited: lock.waited, lock };
  };
  // Preflights run side by side: one log group for all of them, or the host's own groups when it is the only one.
  const alone = hosts.length === 1;
  if (!alone) io.log.startGroup?.(`preflight of ${hosts.length} hosts: connect, lock, check`);
  const prepared = await inParallel(hosts, PREFLIGHT_CONCURRENCY, (host) => prepareHost(host.spec, host.settings, io, guard, alone));
  if (!alone) io.log.endGroup?.();
  const reports = new Map<FleetHost, HostReport>();
  try {
    const failedPreflight = prepared.filter((entry) => !entry.ok).length;
    if (failedPreflight > 0) {
      // A warning: each failed host gets its own error annotation from the action.
      io.log.warning(`${failedPreflight} of ${hosts.length} host(s) failed preflight: no host was changed`);
      return hosts.map((host, index) => {
        const entry = prepared[index]!;
        return entry.ok ?
            untouched(host, 'skipped', `${failedPreflight} other host(s) failed preflight, so no host was changed`, entry.host.clock)
          : withStatus(entry.report, 'failed');
      });
    }
    const ready = prepared.map((entry, index) => ({ host: hosts[index]!, prepared: (entry as { ok: true; host: PreparedHost }).host }));
    await runBatches(ready, fleet, io, { cancelled, watchesEnd }, reports, onReport);
    if (fleet.rollback === 'all' && [...reports.values()].some((report) => report.status === 'failed' || report.status === 'rolled-back')) {
      await rollBackSucceeded(ready, fleet.maxParallel, io, reports);
    }
    return hosts.map((host) => reports.get(host) ?? untouched(host, 'skipped', 'not reached'));
  } finally {
    await Promise.all(prepared.map((entry) => (entry.ok ? entry.host.finish() : undefined)));
  }
}

type Ready = { readonly host: FleetHost; readonly prepared: PreparedHost };

async function runBatches(
  ready: readonly Ready[],
  fleet: FleetSettings,
  io: HostRolloutIO,
  { cancelled, watchesEnd }: { readonly cancelled: AbortSignal; readonly watchesEnd: AbortSignal },
  reports: Map<FleetHost, HostReport>,
  onReport: (host: FleetHost, report: HostReport) => void,
): Promise<void> {
  const hasCanary = fleet.canary && ready.length > 1;
  const hooks = ready[0]?.host.settings.hooks;
  // before-reload-on: first runs once, on the first host (the canary when there is one), before any other host reloads.
  // mode: rollback puts old code back: no command meant for new code runs.
  const deploying = fleet.mode === 'deploy';
  const onFirstOnly = deploying && hooks !== undefined && hooks.beforeReload !== '' && hooks.beforeReloadOn === 'first';
  const runsBeforeReload = (entry: Ready) => deploying && (!onFirstOnly || entry === ready[0]);
  const batches = planBatches(ready, fleet.maxParallel, hasCanary || onFirstOnly);
  let failures = 0;
  let canaryFailed = false;
  let hookFailed: string | undefined;
  const record = (host: FleetHost, report: HostReport) => {
    reports.set(host, report);
    onReport(host, report);
  };
  for (const [index, batch] of batches.entries()) {
    const stop =
      cancelled.aborted ? 'the run was cancelled before this host started'
      : canaryFailed ? 'the canary failed, so no other host gets the new code'
      : hookFailed !== undefined ? `before-reload failed on ${hookFailed}, so no other host runs it or gets the new code`
      : budgetExceeded(failures, fleet.maxFailures) ? `the failure budget (max-failures: ${fleet.maxFailures}) was exceeded before this host started`
      : undefined;
    if (stop !== undefined) {
      for (const entry of batch) {
        record(entry.host, untouched(entry.host, cancelled.aborted ? 'cancelled' : 'skipped', stop, entry.prepared.clock));
        await entry.prepared.finish();
      }
      continue;
    }
    io.log.info(`batch ${index + 1} of ${batches.length}: ${batch.map((entry) => entry.host.spec.label).join(', ')}`);
    const isCanary = index === 0 && hasCanary;
    // Hosts side by side interleave their lines: one group for the batch, a header line per host and phase.
    const together = batch.length > 1;
    if (together) io.log.startGroup?.(`${batch.map((entry) => entry.host.spec.label).join(', ')} side by side (batch ${index + 1} of ${batches.length})`);
    for (const entry of batch) entry.prepared.clock.alone = !together;
    await Promise.all(
      batch.map(async (entry) => {
        const report = await deployOne(entry, fleet, io, isCanary, watchesEnd, runsBeforeReload(entry));
        if (report.status !== 'ok') failures += 1;
        if (report.step === 'before-reload') hookFailed ??= entry.host.spec.label;
        if (isCanary && report.status !== 'ok') canaryFailed = true;
        record(entry.host, report);
        // Done with this host: its lock is released now, not when the whole fleet ends.
        if (fleet.rollback !== 'all') await entry.prepared.finish();
      }),
    );
    if (together) io.log.endGroup?.();
  }
}

/** A failed report for a host whose step threw, saying what is known about the host. */
function thrownReport(prepared: PreparedHost, error: unknown): HostReport {
  const { facts } = prepared.run;
  prepared.clock.end(false);
  return failedReport(prepared, facts.step, (error as Error).message ?? String(error), { filesChanged: facts.filesChanged, signalled: facts.signalled });
}

/** A prepared host that failed outside deployHost's own report: what it left is `left` (by default: nothing changed). */
function failedReport(prepared: PreparedHost, step: Step, error: string, left = { filesChanged: false, signalled: false }): HostReport {
  const { run, clock } = prepared;
  return {
    host: run.label,
    ...revisionField(run.settings),
    ok: false,
    status: 'failed',
    step,
    error,
    ...left,
    durationMs: run.now() - prepared.started,
    phases: clock.phases,
  };
}

/**
 * A host's run with the user's commands around it: its drain (where
 * drain-command is set: taken out before it stops serving, put back once it
 * serves again) and the record of every command, which `finish` puts in its
 * report after those already there.
 */
function withUserCommands(
  entry: Ready,
  io: HostRolloutIO,
  runsBeforeReload: boolean,
): { prepared: PreparedHost; finish: (report: HostReport) => Promise<HostReport> } {
  const { settings, spec, position } = entry.host;
  const commands: CommandRecord[] = [];
  const drain =
    settings.drain.command === '' ? undefined : new HostDrain(settings.drain, { label: spec.label, position: position ?? 1 }, io, settings.commandTimeoutMs);
  const run: HostRun = { ...entry.prepared.run, commands, runsBeforeReload, ...(drain ? { drain } : {}) };
  const finish = async (report: HostReport) => {
    const settled = drain ? await drain.settle(run, report) : report;
    return commands.length > 0 ? { ...settled, commands: [...(report.commands ?? []), ...commands] } : settled;
  };
  return { prepared: { ...entry.prepared, run }, finish };
}

/** One host of a batch, with the user's commands around it. Never throws. */
async function deployOne(
  entry: Ready,
  fleet: FleetSettings,
  io: HostRolloutIO,
  canary: boolean,
  watchesEnd: AbortSignal,
  runsBeforeReload: boolean,
): Promise<HostReport> {
  const { prepared, finish } = withUserCommands(entry, io, runsBeforeReload);
  return finish(await deployOrRollBack({ ...entry, prepared }, fleet, io, canary, watchesEnd));
}

/** Snapshot, deploy (canary-watched when it is the canary), and a verified rollback when it fails. Never throws. */
async function deployOrRollBack(entry: Ready, fleet: FleetSettings, io: HostRolloutIO, canary: boolean, watchesEnd: AbortSignal): Promise<HostReport> {
  const { prepared } = entry;
  const { run, clock } = prepared;
  /** A failure before any file changed, in the fleet's own steps. */
  const refused = (step: 'rollback' | 'sync', error: string) => failedReport(prepared, step, error);
  if (fleet.mode === 'rollback') {
    try {
      const [newest] = await listSnapshots(run);
      if (newest === undefined) return refused('rollback', 'no snapshot to roll back to on this host; nothing was changed');
      const report = await deployHost(prepared, snapshotTransfer(run, newest));
      return withStatus(report, report.ok ? 'ok' : 'failed', { snapshot: newest });
    } catch (error) {
      return thrownReport(prepared, error);
    }
  }
  const snapshotting = await snapshotFirst(prepared, fleet);
  if ('error' in snapshotting) return refused('sync', snapshotting.error);
  let report: HostReport;
  try {
    report = await afterReloadStep(run, await deployHost(prepared, snapshotting.transfer, watchesEnd));
    if (report.ok && canary) {
      clock.begin('canary');
      report = await watchCanary(prepared, report, fleet.canarySettleMs);
      clock.end(report.ok);
      report = { ...report, phases: clock.phases };
    }
  } catch (error) {
    report = thrownReport(prepared, error);
  }
  const snapshot = await snapshotting.kept();
  const kept = snapshot ? { snapshot } : {};
  if (report.ok) return withStatus(report, 'ok', kept);
  // Lost to another run: neither cancelled nor to be rolled back, since that run's code may be live now.
  if (prepared.lock?.lost.aborted) return withStatus(report, 'failed', kept);
  if (report.reason === 'cancelled') return withStatus(report, 'cancelled', kept);
  // after-reload failed on a host whose new code is proven: it serves, so it stays.
  if (report.step === 'after-reload') return withStatus(report, 'failed', kept);
  if (fleet.rollback === 'none' || snapshot === undefined || !report.filesChanged) return withStatus(report, 'failed', kept);
  const taken = await lockTaken(prepared);
  if (taken !== undefined) return withStatus({ ...report, error: `${report.error}; not rolled back: ${taken}` }, 'failed', kept);
  clock.begin('rollback');
  const back = await rollBack(prepared, snapshot, !report.signalled);
  clock.end(back.ok);
  io.log.info(`${run.label}: ${back.ok ? 'rolled back to the snapshot and verified' : `rollback failed: ${back.error}`}`);
  return withStatus(report, back.ok ? 'rolled-back' : 'failed', { snapshot, rollback: back, phases: clock.phases });
}

/**
 * Why this run may no longer roll the host back: its lock was taken (another
 * run's code may be live there now) or vanished. Asked of the host itself,
 * not the heartbeat's last word: a rollback overwrites whatever is live.
 */
async function lockTaken(prepared: PreparedHost): Promise<string | undefined> {
  const { lock } = prepared;
  if (!lock || (await lock.renew())) return undefined;
  return `${String(lock.lost.reason)}, so this run leaves the host to it`;
}

/** A host's snapshot before its sync, and the transfer that prunes the old ones once it knows whether it changed anything. */
interface Snapshotting {
  readonly transfer: Delivery;
  /** After the deploy, pruning done: the snapshot kept for this deploy; undefined when none was taken, or it was dropped as the live tree itself. */
  readonly kept: () => Promise<string | undefined>;
}

async function snapshotFirst(prepared: PreparedHost, fleet: FleetSettings): Promise<Snapshotting | { readonly error: string }> {
  const { run, clock } = prepared;
  if (!fleet.sync) return { transfer: 'none', kept: async () => undefined };
  if (fleet.keepSnapshots === 0) return { transfer: sourceTransfer(run), kept: async () => undefined };
  clock.begin('snapshot');
  let snapshot: string | undefined;
  try {
    // The app's runtime files and the excluded paths stay out: the sync never touches them, so a restore must not either.
    snapshot = await takeSnapshot(run, { exclude: [...protectRules(run, prepared.checked.definitions), ...run.settings.exclude] });
  } catch (cause) {
    clock.end(false);
    return { error: `the snapshot before the sync failed: ${(cause as Error).message}; no file was changed` };
  }
  clock.end(true);
  const taken = snapshot;
  let pruned: Promise<unknown> | undefined;
  // Pruning starts once the sync has said whether it changed anything, and runs while the reload does: off the critical path.
  const transfer = afterSync(sourceTransfer(run), (summary) => {
    const dropped = changedNothing(summary) ? dropUnchangedSnapshot(run, taken).then((gone) => gone && (snapshot = undefined)) : Promise.resolve();
    pruned = dropped.then(() => pruneSnapshots(run, fleet.keepSnapshots));
  });
  return {
    transfer,
    // A sync that never ended still prunes, counting this run's snapshot: files may have changed.
    kept: async () => (await (pruned ?? pruneSnapshots(run, fleet.keepSnapshots)), snapshot),
  };
}

/** The transfer, telling `synced` what it changed as soon as it ends. */
function afterSync(transfer: Transfer, synced: (summary: SyncSummary) => void): Transfer {
  return {
    ...transfer,
    run: async (protect, watch) => {
      const summary = await transfer.run(protect, watch);
      synced(summary);
      return summary;
    },
  };
}

/**
 * rollback: all: a failure anywhere brings the hosts that succeeded back to
 * their snapshots too, max-parallel at a time, as the deploy went out.
 */
async function rollBackSucceeded(ready: readonly Ready[], maxParallel: number, io: HostRolloutIO, reports: Map<FleetHost, HostReport>): Promise<void> {
  const succeeded = ready.filter((entry) => reports.get(entry.host)?.status === 'ok' && reports.get(entry.host)?.snapshot !== undefined);
  const together = Math.min(maxParallel, succeeded.length) > 1;
  if (together) io.log.startGroup?.(`rollback: all: ${succeeded.length} host(s), ${maxParallel} at a time`);
  await inParallel(succeeded, maxParallel, async (entry) => {
    const report = reports.get(entry.host)!;
    const taken = await lockTaken(entry.prepared);
    if (taken !== undefined) {
      io.log.warning(`${entry.host.spec.label}: rollback: all: not rolled back: ${taken}`);
      return;
    }
    const { clock } = entry.prepared;
    // Alone, a host's rollback gets a log group of its own; side by side, they share the one above.
    clock.alone = !together;
    clock.begin('rollback');
    // A rollback that restarts drains the host as its deploy would have.
    const { prepared, finish } = withUserCommands(entry, io, false);
    const back = await rollBack(prepared, report.snapshot!);
    clock.end(back.ok);
    io.log.info(`${entry.host.spec.label}: rollback: all: ${back.ok ? 'rolled back and verified' : `rollback failed: ${back.error}`}`);
    reports.set(entry.host, await finish(withStatus(report, back.ok ? 'rolled-back' : 'failed', { rollback: back, phases: clock.phases })));
  });
  if (together) io.log.endGroup?.();
}
