import { countByGroup, type HostSnapshot, type WorkerProcess } from './worker-snapshot.js';

/**
 * The rules that decide whether one host's reload really happened. Pure: it
 * sees only snapshots (host time, PIDs, start times) and returns a verdict, so
 * every rule is tested without a host.
 */

export interface ReloadBaseline {
  readonly masterPid: number;
  /** Host uptime (s) just before the reload signal was sent. */
  readonly signalAt: number;
  /** Reloadable workers that must all be replaced. */
  readonly tracked: readonly WorkerProcess[];
  /** Workers never waited for (ignore-workers): listed in the report as kept. */
  readonly kept: readonly WorkerProcess[];
}

export interface VerdictRules {
  readonly ignoreGroups: readonly string[];
  readonly settleMs: number;
}

export type Verdict =
  | { readonly kind: 'replacing'; readonly replaced: number; readonly total: number; readonly stillOld: readonly WorkerProcess[] }
  | { readonly kind: 'settling'; readonly total: number; readonly stableForMs: number }
  | { readonly kind: 'replaced'; readonly total: number; readonly workers: readonly WorkerProcess[] }
  | { readonly kind: 'failed'; readonly reason: FailureReason; readonly message: string };

export type FailureReason = 'no-master' | 'master-gone' | 'master-replaced' | 'several-masters';

export interface WatchState {
  readonly baseline: ReloadBaseline;
  /** The PIDs of the last snapshot that looked complete, and since when (host time). */
  readonly stable: { readonly pids: string; readonly since: number } | null;
}

export class BaselineError extends Error {}

/** Takes the "before" picture from the snapshot read just before the signal. */
export function takeBaseline(snapshot: HostSnapshot, rules: Pick<VerdictRules, 'ignoreGroups'>): ReloadBaseline {
  const master = onlyMaster(snapshot);
  if (master.kind === 'failed') throw new BaselineError(master.message);
  const ignored = new Set(rules.ignoreGroups);
  const tracked = snapshot.workers.filter((worker) => !ignored.has(worker.group));
  if (tracked.length === 0) {
    const groups = [...countByGroup(snapshot.workers).keys()].join(', ') || 'none';
    throw new BaselineError(`the master (pid ${master.pid}) has no reloadable worker to replace (groups: ${groups}; ignored: ${rules.ignoreGroups.join(', ') || 'none'})`);
  }
  return {
    masterPid: master.pid,
    signalAt: snapshot.at,
    tracked,
    kept: snapshot.workers.filter((worker) => ignored.has(worker.group)),
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
  return { baseline, stable: null };
}

function describe(worker: WorkerProcess): string {
  return `${worker.group}:${worker.pid}`;
}

/** Folds one snapshot into the watch and says where the reload stands. */
export function observe(state: WatchState, snapshot: HostSnapshot, rules: VerdictRules): { state: WatchState; verdict: Verdict } {
  const { baseline } = state;
  const master = onlyMaster(snapshot);
  if (master.kind === 'failed') {
    const verdict: Verdict =
      master.reason === 'no-master'
        ? { kind: 'failed', reason: 'master-gone', message: `the master process (pid ${baseline.masterPid}) died during the reload; nothing serves the app until it is started again` }
        : master;
    return { state, verdict };
  }
  if (master.pid !== baseline.masterPid) {
    return {
      state,
      verdict: {
        kind: 'failed',
        reason: 'master-replaced',
        message: `the master was replaced during the reload (pid ${baseline.masterPid} is gone, pid ${master.pid} runs now): someone restarted the app, so a rolling reload cannot be proven`,
      },
    };
  }

  const ignored = new Set(rules.ignoreGroups);
  const current = snapshot.workers.filter((worker) => !ignored.has(worker.group));
  const currentPids = new Set(current.map((worker) => worker.pid));
  const stillOld = baseline.tracked.filter((worker) => currentPids.has(worker.pid));
  const total = baseline.tracked.length;
  const replacing = (): { state: WatchState; verdict: Verdict } => ({
    state: { ...state, stable: null },
    verdict: { kind: 'replacing', replaced: total - stillOld.length, total, stillOld },
  });
  if (stillOld.length > 0) return replacing();

  const wanted = countByGroup(baseline.tracked);
  const have = countByGroup(current);
  const short = [...wanted].some(([group, count]) => (have.get(group) ?? 0) < count);
  // A worker that started before the signal but is not in the baseline was
  // forked by an earlier reload still in flight; it does not hold the new code.
  const stale = current.some((worker) => worker.startedAt < baseline.signalAt);
  if (short || stale) return replacing();

  const pids = current.map((worker) => worker.pid).sort((a, b) => a - b).join(',');
  const stable = state.stable?.pids === pids ? state.stable : { pids, since: snapshot.at };
  const stableForMs = Math.max(0, Math.round((snapshot.at - stable.since) * 1000));
  const next = { ...state, stable };
  if (stableForMs >= rules.settleMs) return { state: next, verdict: { kind: 'replaced', total, workers: current } };
  return { state: next, verdict: { kind: 'settling', total, stableForMs } };
}

export { describe as describeWorker };
