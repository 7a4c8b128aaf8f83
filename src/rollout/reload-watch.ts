import { setTimeout as realSleep } from 'node:timers/promises';
import { phpErrors } from '../engine/verdict/app-log.js';
import { formatDuration } from '../engine/units.js';
import type { RolloutLog } from '../engine/ports.js';
import type { OnGracefulTimeout } from '../engine/inputs/settings.js';
import {
  markStopped,
  observe,
  startWatch,
  type ForcedStop,
  type ReloadBaseline,
  type Verdict,
  type VerdictRules,
  type WatchState,
} from '../engine/verdict/verdict.js';

export type { ForcedStop };
import { countByGroup, describeWorker, describeWorkerStates, type HostSnapshot, type WorkerProcess } from '../engine/workers/worker-snapshot.js';

export interface WatchOptions {
  readonly label: string;
  readonly baseline: ReloadBaseline;
  readonly rules: VerdictRules;
  readonly timeoutMs: number;
  readonly pollIntervalMs: number;
  readonly onGracefulTimeout: OnGracefulTimeout;
  readonly snapshot: () => Promise<HostSnapshot>;
  /** Signals one old worker that holds a pinned graceful reload; false when it was already gone. */
  readonly stopWorker: (worker: WorkerProcess, signal: 'INT' | 'KILL') => Promise<boolean>;
  /** The app log since the signal, to quote PHP errors in failures. */
  readonly logSinceSignal: () => string;
  readonly log: RolloutLog;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  /** The run was cancelled: stop watching at the next look. */
  readonly cancelled?: AbortSignal;
}

export type WatchOutcome =
  | { readonly ok: true; readonly workers: readonly WorkerProcess[]; readonly elapsedMs: number; readonly forced: readonly ForcedStop[] }
  | {
      readonly ok: false;
      readonly reason: string;
      readonly message: string;
      readonly stillOld: readonly WorkerProcess[];
      /** How many old workers were seen replaced before it failed. */
      readonly replaced: number;
      readonly elapsedMs: number;
      readonly forced: readonly ForcedStop[];
      readonly appErrors: readonly string[];
    };

/** How long a worker sent SIGINT gets before SIGKILL. */
const KILL_AFTER_MS = 5000;

function progressLine(label: string, verdict: Verdict, elapsedMs: number): string {
  const at = `(${formatDuration(elapsedMs)})`;
  switch (verdict.kind) {
    case 'replacing':
      return `${label}: ${verdict.replaced}/${verdict.total} workers replaced ${at}`;
    case 'pinned':
      return `${label}: ${verdict.replaced}/${verdict.total} workers replaced; the graceful reload stands still, held by ${describeWorkerStates(verdict.holders.slice(0, 1))} ${at}`;
    case 'settling':
      return `${label}: ${verdict.total}/${verdict.total} workers replaced, settling ${at}`;
    case 'replaced':
      return `${label}: all ${verdict.total} workers replaced and stable ${at}`;
    case 'failed':
      return `${label}: ${verdict.message} ${at}`;
  }
}

function forcedStop(worker: WorkerProcess, signal: ForcedStop['signal'], why: string): ForcedStop {
  return { pid: worker.pid, group: worker.group, signal, connections: worker.connections ?? null, why };
}

/**
 * Why the master is waiting on this worker: it replaces workers one at a time
 * in definition order, then fork order, and every worker before this one in
 * that order has been replaced.
 */
function waitedOnEvidence(baseline: ReloadBaseline, holder: WorkerProcess): string {
  const groups = [...new Set(baseline.tracked.map((worker) => worker.group))];
  const ofGroup = baseline.tracked.filter((worker) => worker.group === holder.group);
  const position = ofGroup.findIndex((worker) => worker.pid === holder.pid) + 1;
  const before = baseline.tracked.findIndex((worker) => worker.pid === holder.pid);
  return (
    `The master replaces one worker at a time in definition order, then fork order: ${describeWorker(holder)} is ` +
    `worker ${position} of ${ofGroup.length} in ${holder.group} (replaced group ${groups.indexOf(holder.group) + 1} of ${groups.length}), ` +
    `and the ${before} worker(s) before it are replaced`
  );
}

/** A hint for the commonest reason a group never moves: reloadable = false. */
function untouchedGroupsHint(baseline: ReloadBaseline, stillOld: readonly WorkerProcess[]): string {
  const oldByGroup = countByGroup(stillOld);
  const groups = countByGroup(baseline.tracked);
  const untouched = [...groups].filter(([group, count]) => oldByGroup.get(group) === count).map(([group]) => group);
  if (untouched.length === 0 || untouched.length === groups.size) return '';
  return ` No worker of ${untouched.join(', ')} was replaced while others were: if the running master has it as reloadable = false (its start script changed since it started), restart the app, or list it in ignore-workers.`;
}

type Pinned = Extract<Verdict, { kind: 'pinned' }>;

/** The holder the watch stopped last: SIGKILL follows its SIGINT once it ignored it for KILL_AFTER_MS. */
interface InFlightStop {
  readonly worker: WorkerProcess;
  readonly at: number;
  readonly killed: boolean;
  readonly why: string;
}

/** What the watch carries from one snapshot to the next. */
interface Watch {
  state: WatchState;
  inFlight: InFlightStop | undefined;
  readonly forced: ForcedStop[];
}

/** on-graceful-timeout: fail: the holder and the workers behind it, named. */
function pinnedMessage(pinned: Pinned): string {
  const { holders } = pinned;
  const waiting = holders.length - 1;
  return (
    `the graceful reload stood still for ${formatDuration(pinned.stalledForMs)} (graceful-timeout): pinned by ${describeWorkerStates(holders.slice(0, 1))}` +
    (waiting > 0 ? `, with ${waiting} more old worker(s) waiting behind it (${describeWorkerStates(holders.slice(1))})` : '') +
    '. Close those clients, or set on-graceful-timeout: force'
  );
}

/**
 * A pinned reload, forced: the worker stopped last still holds it, so it gets
 * SIGKILL once it ignored SIGINT long enough; otherwise the first holder gets SIGINT.
 */
async function forcePinned(options: WatchOptions, pinned: Pinned, watch: Watch, now: () => number): Promise<void> {
  const { inFlight } = watch;
  if (inFlight && pinned.holders.some((worker) => worker.pid === inFlight.worker.pid)) {
    if (!inFlight.killed && now() - inFlight.at >= KILL_AFTER_MS) {
      options.log.warning(`${options.label}: ${describeWorker(inFlight.worker)} ignored SIGINT for ${KILL_AFTER_MS / 1000} s; sending SIGKILL`);
      if (await options.stopWorker(inFlight.worker, 'KILL')) watch.forced.push(forcedStop(inFlight.worker, 'KILL', inFlight.why));
      watch.inFlight = { ...inFlight, killed: true };
    }
    return;
  }
  const holder = pinned.holders[0]!;
  const why = waitedOnEvidence(options.baseline, holder);
  options.log.warning(
    pinned.quickStop ?
      `${options.label}: ${describeWorkerStates([holder])} holds the reload and does not listen, so a graceful stop cannot help it; stopping it with SIGINT, as a quick reload would (reload-mode: auto). ${why}`
    : `${options.label}: graceful reload pinned for ${formatDuration(pinned.stalledForMs)}; stopping ${describeWorkerStates([holder])} with SIGINT so the master can go on (on-graceful-timeout: force). ${why}`,
  );
  if (await options.stopWorker(holder, 'INT')) watch.forced.push(forcedStop(holder, 'INT', why));
  watch.inFlight = { worker: holder, at: now(), killed: false, why };
  watch.state = markStopped(watch.state, holder, !pinned.quickStop);
}

/** The workers still old when the time ran out. */
function oldAtTimeout(last: Verdict): readonly WorkerProcess[] {
  return (
    last.kind === 'replacing' ? last.stillOld
    : last.kind === 'pinned' ? last.holders
    : []
  );
}

/** Where the reload stood when the time ran out, with what may explain it. */
function whereAtTimeout(options: WatchOptions, last: Verdict): string {
  if (last.kind === 'settling') return 'every worker was replaced, but the new set did not stay stable for settle';
  if (last.kind !== 'replacing' && last.kind !== 'pinned') return '';
  const stillOld = oldAtTimeout(last);
  let where = `${last.replaced}/${last.total} workers replaced; still old: ${describeWorkerStates(stillOld)}.${untouchedGroupsHint(options.baseline, stillOld)}`;
  if (last.kind === 'replacing' && last.stale.length > 0) {
    where += ` Workers ${last.stale.map(describeWorker).join(', ')} started before the signal: an earlier reload forked them, so they may run older code.`;
  }
  if (last.kind === 'replacing' && last.wrongRevision.length > 0) {
    where += ` New workers report another revision than ${options.rules.revision}: ${last.wrongRevision.map((w) => `${describeWorker(w)}=${w.revision}`).join(', ')}.`;
  }
  return where;
}

/** The cancel's own reason when it gives one (a lock taken by another run stops the watch too). */
function cancelledMessage(cancelled: AbortSignal): string {
  const why = typeof cancelled.reason === 'string' ? cancelled.reason : 'the run was cancelled';
  return `${why} while the reload was watched: the master goes on replacing workers, but nothing proved it finished`;
}

/**
 * Polls the host until the verdict is final or the time is up, printing a
 * line only when something changes. A pinned graceful reload is forced (each
 * holding worker stopped in turn) or failed, as on-graceful-timeout says.
 */
export async function watchReload(options: WatchOptions): Promise<WatchOutcome> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const started = now();
  const watch: Watch = { state: startWatch(options.baseline), inFlight: undefined, forced: [] };
  const { forced } = watch;
  let lastShape = '';
  let last: Verdict | undefined;
  const failure = (reason: string, message: string, stillOld: readonly WorkerProcess[]): WatchOutcome => {
    const appErrors = phpErrors(options.logSinceSignal());
    return { ok: false, reason, message, stillOld, replaced: watch.state.progress.replaced, elapsedMs: now() - started, forced, appErrors };
  };

  for (;;) {
    if (options.cancelled?.aborted) return failure('cancelled', cancelledMessage(options.cancelled), last?.kind === 'replacing' ? last.stillOld : []);
    const snapshot = await options.snapshot();
    const elapsedMs = now() - started;
    const step = observe(watch.state, snapshot, options.rules);
    watch.state = step.state;
    last = step.verdict;
    const shape = last.kind === 'replacing' || last.kind === 'pinned' ? `${last.kind}${last.replaced}` : last.kind;
    if (shape !== lastShape) {
      options.log.info(progressLine(options.label, last, elapsedMs));
      lastShape = shape;
    }
    if (last.kind === 'replaced') return { ok: true, workers: last.workers, elapsedMs, forced };
    if (last.kind === 'failed') return failure(last.reason, last.message, last.stillOld ?? []);
    if (last.kind === 'pinned') {
      if (options.onGracefulTimeout === 'fail' && !last.quickStop) return failure('pinned', pinnedMessage(last), last.holders);
      await forcePinned(options, last, watch, now);
    }
    if (elapsedMs + options.pollIntervalMs > options.timeoutMs) break;
    // Waiting only for the youngest worker's age: look again as soon as it is reached.
    await sleep(last.kind === 'settling' && last.confirmInMs !== undefined ? Math.min(options.pollIntervalMs, last.confirmInMs) : options.pollIntervalMs);
  }
  const where = whereAtTimeout(options, last);
  return failure('timeout', `the reload did not finish within the timeout (${formatDuration(options.timeoutMs)}): ${where}`, oldAtTimeout(last));
}
