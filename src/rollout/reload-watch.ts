import { setTimeout as realSleep } from 'node:timers/promises';
import { phpErrors } from '../engine/verdict/app-log.js';
import { formatDuration } from '../engine/units.js';
import type { RolloutLog } from '../engine/ports.js';
import type { OnGracefulTimeout } from '../engine/inputs/settings.js';
import { markStopped, observe, startWatch, type ForcedStop, type ReloadBaseline, type Verdict, type VerdictRules } from '../engine/verdict/verdict.js';

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

/**
 * Polls the host until the verdict is final or the time is up, printing a
 * line only when something changes. A pinned graceful reload is forced (each
 * holding worker stopped in turn) or failed, as on-graceful-timeout says.
 */
export async function watchReload(options: WatchOptions): Promise<WatchOutcome> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const started = now();
  const forced: ForcedStop[] = [];
  let inFlight: { worker: WorkerProcess; at: number; killed: boolean; why: string } | undefined;
  let state = startWatch(options.baseline);
  let lastShape = '';
  let last: Verdict | undefined;
  const failure = (reason: string, message: string, stillOld: readonly WorkerProcess[]): WatchOutcome => {
    const appErrors = phpErrors(options.logSinceSignal());
    return { ok: false, reason, message, stillOld, replaced: state.progress.replaced, elapsedMs: now() - started, forced, appErrors };
  };

  for (;;) {
    if (options.cancelled?.aborted) {
      // A lock taken by another run stops the watch too, and its reason says so.
      const why = typeof options.cancelled.reason === 'string' ? options.cancelled.reason : 'the run was cancelled';
      return failure(
        'cancelled',
        `${why} while the reload was watched: the master goes on replacing workers, but nothing proved it finished`,
        last?.kind === 'replacing' ? last.stillOld : [],
      );
    }
    const snapshot = await options.snapshot();
    const elapsedMs = now() - started;
    const step = observe(state, snapshot, options.rules);
    state = step.state;
    last = step.verdict;
    const shape = last.kind === 'replacing' || last.kind === 'pinned' ? `${last.kind}${last.replaced}` : last.kind;
    if (shape !== lastShape) {
      options.log.info(progressLine(options.label, last, elapsedMs));
      lastShape = shape;
    }
    if (last.kind === 'replaced') return { ok: true, workers: last.workers, elapsedMs, forced };
    if (last.kind === 'failed') return failure(last.reason, last.message, last.stillOld ?? []);

    if (last.kind === 'pinned') {
      const holders = last.holders;
      if (options.onGracefulTimeout === 'fail' && !last.quickStop) {
        const waiting = holders.length - 1;
        return failure(
          'pinned',
          `the graceful reload stood still for ${formatDuration(last.stalledForMs)} (graceful-timeout): pinned by ${describeWorkerStates(holders.slice(0, 1))}` +
            (waiting > 0 ? `, with ${waiting} more old worker(s) waiting behind it (${describeWorkerStates(holders.slice(1))})` : '') +
            '. Close those clients, or set on-graceful-timeout: force',
          holders,
        );
      }
      const stillHolding = inFlight && holders.some((worker) => worker.pid === inFlight!.worker.pid);
      if (inFlight && stillHolding) {
        if (!inFlight.killed && now() - inFlight.at >= KILL_AFTER_MS) {
          options.log.warning(`${options.label}: ${describeWorker(inFlight.worker)} ignored SIGINT for ${KILL_AFTER_MS / 1000} s; sending SIGKILL`);
          if (await options.stopWorker(inFlight.worker, 'KILL')) forced.push(forcedStop(inFlight.worker, 'KILL', inFlight.why));
          inFlight = { ...inFlight, killed: true };
        }
      } else {
        const holder = holders[0]!;
        const why = waitedOnEvidence(options.baseline, holder);
        options.log.warning(
          last.quickStop ?
            `${options.label}: ${describeWorkerStates([holder])} holds the reload and does not listen, so a graceful stop cannot help it; stopping it with SIGINT, as a quick reload would (reload-mode: auto). ${why}`
          : `${options.label}: graceful reload pinned for ${formatDuration(last.stalledForMs)}; stopping ${describeWorkerStates([holder])} with SIGINT so the master can go on (on-graceful-timeout: force). ${why}`,
        );
        if (await options.stopWorker(holder, 'INT')) forced.push(forcedStop(holder, 'INT', why));
        inFlight = { worker: holder, at: now(), killed: false, why };
        state = markStopped(state, holder, !last.quickStop);
      }
    }

    if (elapsedMs + options.pollIntervalMs > options.timeoutMs) break;
    await sleep(options.pollIntervalMs);
  }

  const stillOld =
    last.kind === 'replacing' ? last.stillOld
    : last.kind === 'pinned' ? last.holders
    : [];
  let where = '';
  if (last.kind === 'replacing' || last.kind === 'pinned') {
    where = `${last.replaced}/${last.total} workers replaced; still old: ${describeWorkerStates(stillOld)}.${untouchedGroupsHint(options.baseline, stillOld)}`;
    if (last.kind === 'replacing' && last.stale.length > 0) {
      where += ` Workers ${last.stale.map(describeWorker).join(', ')} started before the signal: an earlier reload forked them, so they may run older code.`;
    }
    if (last.kind === 'replacing' && last.wrongRevision.length > 0) {
      where += ` New workers report another revision than ${options.rules.revision}: ${last.wrongRevision.map((w) => `${describeWorker(w)}=${w.revision}`).join(', ')}.`;
    }
  } else if (last.kind === 'settling') {
    where = 'every worker was replaced, but the new set did not stay stable for settle';
  }
  return failure('timeout', `the reload did not finish within the timeout (${formatDuration(options.timeoutMs)}): ${where}`, stillOld);
}
