/**
 * src/engine/verdict/: whether a reload really replaced every worker: this
 * file (the watch's rules, snapshot by snapshot), the crash-loop rule
 * (crash-loop.ts), the restart verdict and the app log's lines. Imported by
 * the report, the status sources, the rollout and the action; it imports only
 * src/engine/.
 */

import { confirmationDueInMs } from './confirmation.js';
import { countByGroup, describeWorker, type HostSnapshot, type WorkerProcess } from '../workers/worker-snapshot.js';
import { crashesSinceSignal, isCrashLoop } from './crash-loop.js';
import { describeUnmatched, groupPlanFor, keptBecause, unmatchedWorkers, type ReloadPlan } from '../plan/reload-plan.js';

/** An old worker the watch stopped itself, because the master was waiting on it (rollout/reload-watch.ts). */
export interface ForcedStop {
  readonly pid: number;
  readonly group: string;
  readonly signal: 'INT' | 'KILL';
  readonly connections: number | null;
  /** Why this worker: the evidence that the master was waiting on it. */
  readonly why: string;
}

/**
 * The rules that decide whether one host's reload really happened. Pure: it
 * sees only snapshots over time and returns a verdict, so every rule is tested
 * without a host. The watch loop acts on the verdict (escalating a pinned
 * reload, failing, or reporting success).
 */

export interface ReloadBaseline {
  readonly masterPid: number;
  /** Host time just before the reload signal was sent. */
  readonly signalAt: number;
  /**
   * Host time by which the signal had surely reached the master (the
   * baseline's time plus the runner's wait for the snapshot and the signal).
   * A worker forked before it may be one the reload itself replaces (the
   * master forks while a crash loop dies down, as after a rollback's restore),
   * so only workers started after it are counted when they die.
   */
  readonly signalReachedBy?: number;
  /** Workers the master replaces, in the order it replaces them: definition order, then fork order. */
  readonly tracked: readonly WorkerProcess[];
  /** Workers never waited for, and why (reloadable = false, ignore-workers). */
  readonly kept: readonly KeptWorker[];
  /** The worker count each replaced group must come back to. */
  readonly expected: ReadonlyMap<string, number>;
  readonly plan: ReloadPlan;
  /** Crash exits per group before the signal, where the source counts them. */
  readonly crashExits?: ReadonlyMap<string, number>;
}

export interface KeptWorker extends WorkerProcess {
  readonly keptBecause: string;
}

export interface VerdictRules {
  readonly settleMs: number;
  /** The signal sent: graceful reloads can be pinned, quick ones cannot. */
  readonly reloadMode: ReloadPlan['mode'];
  /** Expected revision; checked only on workers whose source reports one. */
  readonly revision?: string;
  /** How old every new worker must be when seen, even with no settle (src/engine/verdict/confirmation.ts): one poll interval. */
  readonly confirmAgeMs: number;
  /** How long a graceful reload may stand still before it counts as pinned. */
  readonly gracefulTimeoutMs: number;
  /** How long nothing at all may happen after the signal before it counts as swallowed. */
  readonly noProgressMs: number;
  /** Once a pinned reload is being forced, how long to wait on the master before stopping the next holder. */
  readonly forceStepMs: number;
  /** Crash exits of new workers that make a crash loop (src/engine/verdict/crash-loop.ts). */
  readonly crashLimit?: number;
  /** reload-mode auto under a graceful signal: how long a non-listening worker may hold the reload. */
  readonly quickStopAfterMs?: number;
}

export type FailureReason =
  'no-master' | 'master-gone' | 'master-replaced' | 'several-masters' | 'crash-loop' | 'pinned' | 'no-progress' | 'revision-not-loaded' | 'wrong-revision';

export type Verdict =
  | {
      readonly kind: 'replacing';
      readonly replaced: number;
      readonly total: number;
      readonly stillOld: readonly WorkerProcess[];
      /** New workers that report another revision than the expected one. */
      readonly wrongRevision: readonly WorkerProcess[];
      /** Workers that started before the signal but are not in the baseline: an earlier reload's, maybe on older code. */
      readonly stale: readonly WorkerProcess[];
      readonly stalledForMs: number;
    }
  | {
      /** Graceful reload stalled: the still-old workers, the one the master waits on first. */
      readonly kind: 'pinned';
      readonly replaced: number;
      readonly total: number;
      readonly holders: readonly WorkerProcess[];
      readonly stalledForMs: number;
      /** reload-mode auto: the holder does not listen, so it is stopped as a quick reload would, whatever on-graceful-timeout says. */
      readonly quickStop: boolean;
    }
  /** confirmInMs: only the youngest worker's age is missing, and it is reached this much later. */
  | { readonly kind: 'settling'; readonly total: number; readonly stableForMs: number; readonly confirmInMs?: number }
  | { readonly kind: 'replaced'; readonly total: number; readonly workers: readonly WorkerProcess[] }
  | { readonly kind: 'failed'; readonly reason: FailureReason; readonly message: string; readonly stillOld?: readonly WorkerProcess[] };

export interface WatchState {
  readonly baseline: ReloadBaseline;
  /** The PIDs of the last snapshot that looked complete, and since when. */
  readonly stable: { readonly pids: string; readonly since: number; readonly crashes: number } | null;
  /** The last time the number of replaced workers went up (host time). */
  readonly progress: { readonly replaced: number; readonly at: number };
  /** New workers (started after the signal) seen so far; one that vanishes died. */
  readonly newSeen: ReadonlySet<number>;
  readonly deaths: number;
  /** Set once a pinned reload is being forced: later stalls are forced sooner. */
  readonly forcing: boolean;
  /** Workers the watch itself stopped, per group: their exits are ours, not crashes (PHP 8.2 workers may exit 2 on SIGINT). */
  readonly stoppedByUs: ReadonlyMap<string, number>;
}

export class BaselineError extends Error {}

/** Master order: definition order, then fork order within a group. Unknown groups go last. */
function inReplacementOrder(plan: ReloadPlan): (a: WorkerProcess, b: WorkerProcess) => number {
  const order = (worker: WorkerProcess) => groupPlanFor(plan, worker)?.order ?? Number.MAX_SAFE_INTEGER;
  return (a, b) => order(a) - order(b) || a.startedAt - b.startedAt || a.pid - b.pid;
}

/** The counts the app defines for each replaced group; where it is silent, the count found before the signal. */
function expectedCounts(plan: ReloadPlan, tracked: readonly WorkerProcess[]): Map<string, number> {
  const expected = countByGroup(tracked);
  for (const group of expected.keys()) {
    const defined = plan.groups.filter((candidate) => candidate.name === group && candidate.kept === undefined);
    if (defined.length > 0)
      expected.set(
        group,
        defined.reduce((sum, candidate) => sum + candidate.count, 0),
      );
  }
  return expected;
}

/** Takes the "before" picture from the snapshot read just before the signal. */
export function takeBaseline(snapshot: HostSnapshot, plan: ReloadPlan): ReloadBaseline {
  const master = onlyMaster(snapshot);
  if (master.kind === 'failed') throw new BaselineError(master.message);
  const unmatched = unmatchedWorkers(plan, snapshot.workers);
  if (unmatched.length > 0) throw new BaselineError(describeUnmatched(plan, unmatched));
  const kept: KeptWorker[] = [];
  const tracked: WorkerProcess[] = [];
  for (const worker of snapshot.workers) {
    const why = keptBecause(plan, worker);
    if (why === undefined) tracked.push(worker);
    else kept.push({ ...worker, keptBecause: why });
  }
  if (tracked.length === 0) {
    const groups = [...countByGroup(snapshot.workers).keys()].join(', ') || 'none';
    const keptGroups = [...new Set(kept.map((worker) => `${worker.group} (${worker.keptBecause})`))].join(', ') || 'none';
    throw new BaselineError(`the master (pid ${master.pid}) has no reloadable worker to replace (groups: ${groups}; kept: ${keptGroups})`);
  }
  return {
    masterPid: master.pid,
    signalAt: snapshot.at,
    tracked: tracked.sort(inReplacementOrder(plan)),
    kept,
    expected: expectedCounts(plan, tracked),
    plan,
    ...(snapshot.crashExits ? { crashExits: snapshot.crashExits } : {}),
  };
}

function onlyMaster(snapshot: HostSnapshot): { kind: 'ok'; pid: number } | Extract<Verdict, { kind: 'failed' }> {
  if (snapshot.masters.length === 0) {
    return { kind: 'failed', reason: 'no-master', message: 'no Workerman master process is running for this app' };
  }
  if (snapshot.masters.length > 1) {
    const pids = snapshot.masters.map((master) => master.pid).join(', ');
    return { kind: 'failed', reason: 'several-masters', message: `more than one master process runs this app (pids ${pids})` };
  }
  return { kind: 'ok', pid: snapshot.masters[0]!.pid };
}

export function startWatch(baseline: ReloadBaseline): WatchState {
  return { baseline, stable: null, progress: { replaced: 0, at: baseline.signalAt }, newSeen: new Set(), deaths: 0, forcing: false, stoppedByUs: new Map() };
}

/** Marks that the watch loop stopped a worker holding the reload; `pinned`: a pinned graceful reload is being forced, so later stalls are forced sooner. */
export function markStopped(state: WatchState, worker: WorkerProcess, pinned: boolean): WatchState {
  const stoppedByUs = new Map(state.stoppedByUs);
  stoppedByUs.set(worker.group, (stoppedByUs.get(worker.group) ?? 0) + 1);
  return { ...state, forcing: state.forcing || pinned, stoppedByUs };
}

/** The crash counts before the signal, plus the exits the watch caused itself. */
function expectedExits(state: WatchState): ReadonlyMap<string, number> | undefined {
  const before = state.baseline.crashExits;
  if (!before || state.stoppedByUs.size === 0) return before;
  const expected = new Map(before);
  for (const [group, count] of state.stoppedByUs) expected.set(group, (expected.get(group) ?? 0) + count);
  return expected;
}

const ms = (seconds: number) => Math.max(0, Math.round(seconds * 1000));

/** Start times from /proc come in 10 ms ticks against an uptime read to 10 ms: two ticks of doubt either way. */
export const START_TIME_SLACK_SECONDS = 0.02;

/** Whether a new worker's death may count against the new code: it started surely after the master had the signal. */
function countsIfItDies(baseline: ReloadBaseline, worker: WorkerProcess): boolean {
  return worker.startedAt >= (baseline.signalReachedBy ?? baseline.signalAt) + START_TIME_SLACK_SECONDS;
}

/** The master the reload was signalled to must still be the only one: otherwise the reload cannot be proven. */
function masterProblem(baseline: ReloadBaseline, snapshot: HostSnapshot): Extract<Verdict, { kind: 'failed' }> | undefined {
  const master = onlyMaster(snapshot);
  if (master.kind === 'failed') {
    return master.reason === 'no-master' ?
        { kind: 'failed', reason: 'master-gone', message: `the master process (pid ${baseline.masterPid}) died during the reload` }
      : master;
  }
  if (master.pid === baseline.masterPid) return undefined;
  return {
    kind: 'failed',
    reason: 'master-replaced',
    message: `the master was replaced during the reload (pid ${baseline.masterPid} is gone, pid ${master.pid} runs now): the app was restarted, so a rolling reload cannot be proven`,
  };
}

/** One snapshot's workers against the baseline: the ones watched now, the old ones left, the ones started since the signal. */
interface WorkerPicture {
  readonly current: WorkerProcess[];
  readonly stillOld: WorkerProcess[];
  readonly fresh: WorkerProcess[];
}

function workerPicture(baseline: ReloadBaseline, snapshot: HostSnapshot): WorkerPicture {
  const current = snapshot.workers.filter((worker) => keptBecause(baseline.plan, worker) === undefined);
  // PID and start time together: a crash loop can hand a recorded PID to a new worker.
  const currentStarts = new Map(current.map((worker) => [worker.pid, worker.startedAt]));
  const stillOld = baseline.tracked.filter((worker) => Math.abs((currentStarts.get(worker.pid) ?? Number.NaN) - worker.startedAt) < 0.05);
  const fresh = current.filter((worker) => worker.startedAt >= baseline.signalAt);
  return { current, stillOld, fresh };
}

/** The watch after this snapshot: new workers seen (a vanished one counts as a death) and the replacement's progress. */
function advance(state: WatchState, snapshot: HostSnapshot, { current, stillOld, fresh }: WorkerPicture): WatchState {
  const currentPids = new Set(current.map((worker) => worker.pid));
  const newSeen = new Set(state.newSeen);
  let deaths = state.deaths;
  for (const pid of state.newSeen) {
    if (!currentPids.has(pid)) {
      deaths += 1;
      newSeen.delete(pid);
    }
  }
  for (const worker of fresh) if (countsIfItDies(state.baseline, worker)) newSeen.add(worker.pid);
  const replaced = state.baseline.tracked.length - stillOld.length;
  const progress = replaced > state.progress.replaced ? { replaced, at: snapshot.at } : state.progress;
  return { ...state, newSeen, deaths, progress };
}

/** Folds one snapshot into the watch and says where the reload stands. */
export function observe(state: WatchState, snapshot: HostSnapshot, rules: VerdictRules): { state: WatchState; verdict: Verdict } {
  const { baseline } = state;
  const masterFailed = masterProblem(baseline, snapshot);
  if (masterFailed) return { state, verdict: masterFailed };

  const picture = workerPicture(baseline, snapshot);
  const { current, stillOld, fresh } = picture;
  const next = advance(state, snapshot, picture);
  const total = baseline.tracked.length;
  const replaced = total - stillOld.length;
  const trackedGroups = new Set(baseline.tracked.map((worker) => worker.group));
  const crashes = crashesSinceSignal(expectedExits(state), snapshot, next.deaths, trackedGroups);

  if (isCrashLoop(crashes, rules.crashLimit)) {
    return {
      state: next,
      verdict: {
        kind: 'failed',
        reason: 'crash-loop',
        message: `the new code crash-loops: ${crashes} new worker(s) exited abnormally since the reload signal (${replaced}/${total} old workers replaced)`,
        stillOld: stillOld,
      },
    };
  }

  const stalledForMs = ms(snapshot.at - next.progress.at);
  const wrongRevision = rules.revision === undefined ? [] : fresh.filter((worker) => worker.revision !== undefined && worker.revision !== rules.revision);
  const have = countByGroup(current);
  const short = [...baseline.expected].some(([group, count]) => (have.get(group) ?? 0) < count);
  // A worker that started before the signal but is not in the baseline was
  // forked by an earlier reload still in flight; it may hold older code.
  const oldPids = new Set(stillOld.map((worker) => worker.pid));
  const stale = current.filter((worker) => worker.startedAt < baseline.signalAt && !oldPids.has(worker.pid));

  if (stillOld.length === 0 && !short && stale.length === 0 && wrongRevision.length > 0 && stalledForMs >= rules.settleMs) {
    return { state: { ...next, stable: null }, verdict: wrongRevisionVerdict(wrongRevision, baseline, rules) };
  }
  if (stillOld.length > 0 || short || stale.length > 0 || wrongRevision.length > 0) {
    const stall = classifyStall(next, rules, snapshot, stillOld, stale, replaced, stalledForMs);
    if (stall) return { state: { ...next, stable: null }, verdict: stall };
    return { state: { ...next, stable: null }, verdict: { kind: 'replacing', replaced, total, stillOld: stillOld, wrongRevision, stale, stalledForMs } };
  }
  return settling(state, next, snapshot, current, crashes, rules);
}

/** Every worker is new: the reload counts once the same workers held, with no new crash, for settle. */
function settling(
  state: WatchState,
  next: WatchState,
  snapshot: HostSnapshot,
  current: WorkerProcess[],
  crashes: number,
  rules: VerdictRules,
): { state: WatchState; verdict: Verdict } {
  const total = state.baseline.tracked.length;
  const pids = current
    .map((worker) => worker.pid)
    .sort((a, b) => a - b)
    .join(',');
  // The picture must hold for settle: same PIDs, and no crash exit in between.
  const stable = state.stable?.pids === pids && state.stable.crashes === crashes ? state.stable : { pids, since: snapshot.at, crashes };
  const stableForMs = ms(snapshot.at - stable.since);
  const settled = { ...next, stable };
  // Crash counts come from a slower lane than the PIDs: only figures taken
  // after the picture became stable can vouch for the settle window.
  const countsCurrent = snapshot.crashExitsAt === undefined || snapshot.crashExitsAt >= stable.since;
  const confirmInMs = confirmationDueInMs(current, snapshot.at, rules.confirmAgeMs);
  if (stableForMs >= rules.settleMs && countsCurrent) {
    if (confirmInMs === 0) return { state: settled, verdict: { kind: 'replaced', total, workers: current } };
    return { state: settled, verdict: { kind: 'settling', total, stableForMs, confirmInMs } };
  }
  return { state: settled, verdict: { kind: 'settling', total, stableForMs } };
}

/**
 * Every old worker is gone, yet new ones report another revision than the
 * expected one. The same revision the old workers had means the code that
 * reports it is loaded outside the worker callbacks (at the start script's
 * top level): it lives in the master, and a reload never refreshes it. Any
 * other revision means the new code was loaded, but it is not the revision
 * the deploy expected.
 */
function wrongRevisionVerdict(wrong: readonly WorkerProcess[], baseline: ReloadBaseline, rules: VerdictRules): Verdict {
  const shown = wrong
    .slice(0, 5)
    .map((worker) => `${describeWorker(worker)}=${worker.revision}`)
    .join(', ');
  const before = new Set(baseline.tracked.map((worker) => worker.revision));
  before.delete(undefined);
  const stillOld = wrong.every((worker) => before.has(worker.revision));
  return {
    kind: 'failed',
    reason: stillOld ? 'revision-not-loaded' : 'wrong-revision',
    message:
      stillOld ?
        `every old worker was replaced, but new workers still report the old revision, not ${rules.revision} (${shown}): ` +
        "the code that reports it is loaded outside the worker callbacks (at the start script's top level), so it lives in the master and only a restart loads it. " +
        'Load business code in onWorkerStart, or restart the app'
      : `every old worker was replaced, and the new workers loaded new code, but they report another revision than ${rules.revision} (${shown}): ` +
        'the deployed code is not the revision the revision input names (check the checkout and what writes the revision)',
  };
}

/**
 * Why a reload stands still. A swallowed signal (an earlier reload still runs,
 * and the master ignores reload signals meanwhile) and a graceful reload pinned
 * by an open connection both look like "no PID changes"; the app log's
 * "reloading" line, or failing that the old workers' connections, tell them apart.
 */
function classifyStall(
  state: WatchState,
  rules: VerdictRules,
  snapshot: HostSnapshot,
  stillOld: readonly WorkerProcess[],
  stale: readonly WorkerProcess[],
  replaced: number,
  stalledForMs: number,
): Verdict | null {
  if (stillOld.length === 0) return null;
  const total = state.baseline.tracked.length;
  // stillOld keeps the baseline's master order: the first one is the worker the master waits on.
  const current = new Map(snapshot.workers.map((worker) => [worker.pid, worker]));
  const holders = stillOld.map((worker) => current.get(worker.pid) ?? worker);
  const connected = holders.filter((worker) => (worker.connections ?? 0) > 0);

  if (replaced === 0 && stalledForMs >= rules.noProgressMs) {
    const swallowed = snapshot.reloadStarted === false || (snapshot.reloadStarted === undefined && rules.reloadMode === 'quick');
    const connectionsKnown = holders.every((worker) => typeof worker.connections === 'number');
    const unexplained = snapshot.reloadStarted === undefined && connectionsKnown && connected.length === 0 && stalledForMs >= rules.gracefulTimeoutMs;
    if (swallowed || unexplained) {
      return {
        kind: 'failed',
        reason: 'no-progress',
        message:
          `no progress: not one of ${total} workers was replaced in ${(stalledForMs / 1000).toFixed(1)} s after the reload signal` +
          (snapshot.reloadStarted === false ? ', and the app log shows no "reloading" line: the master did not act on the signal' : '') +
          '. The master ignores reload signals while an earlier reload is still running' +
          (stale.length > 0 ? ` (workers ${stale.map(describeWorker).join(', ')} are not from this reload)` : '') +
          '; wait for it, or unpin it, and deploy again',
        stillOld,
      };
    }
  }

  if (rules.reloadMode !== 'graceful') return null;
  const first = holders[0]!;
  const listen = first.listen ?? groupPlanFor(state.baseline.plan, first)?.listen;
  // Only once the master is known to be replacing: a worker it is not waiting on is never stopped.
  const underWay = replaced > 0 || snapshot.reloadStarted === true;
  if (rules.quickStopAfterMs !== undefined && listen === 'none' && underWay && stalledForMs >= rules.quickStopAfterMs) {
    return { kind: 'pinned', replaced, total, holders, stalledForMs, quickStop: true };
  }
  const limit = state.forcing ? rules.forceStepMs : rules.gracefulTimeoutMs;
  if (stalledForMs < limit) return null;
  return { kind: 'pinned', replaced, total, holders, stalledForMs, quickStop: false };
}
