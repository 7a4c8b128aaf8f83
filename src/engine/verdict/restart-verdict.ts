import { confirmationDueInMs } from './confirmation.js';
import { crashesSinceSignal, isCrashLoop } from './crash-loop.js';
import { formatDuration } from '../units.js';
import { countByGroup, describeWorker, type HostSnapshot, type WorkerProcess } from '../workers/worker-snapshot.js';

/** What a restart cost, measured on the host (its clock): null where it could not be measured. */
export interface RestartCost {
  /** From the stop signal to every TCP port of the app listening again: the time new connections were refused. */
  readonly unservedMs: number | null;
  /** From the stop signal to the old master gone: the requests in hand finishing. */
  readonly stopMs: number | null;
  /** Client connections the stop closed (idle keep-alive, WebSocket): they reconnect to the new master. */
  readonly connectionsClosed: number | null;
  /** Old workers killed because they ran past stop-timeout. */
  readonly killedAfterStopTimeout: number;
}

/**
 * The rules that decide whether a restart worked: a new master runs (not
 * the one stopped), every group the new definitions name is up with its new
 * count, every worker started after the restart began, and the picture holds
 * for settle with no crash loop. Pure, like the reload verdict.
 */

export interface RestartBaseline {
  readonly oldMasterPid: number;
  /** Host time just before the stop. */
  readonly startedAt: number;
  /** The worker count of every group, from the new code's definitions. */
  readonly expected: ReadonlyMap<string, number>;
}

export interface RestartState {
  readonly baseline: RestartBaseline;
  readonly stable: { readonly pids: string; readonly since: number } | null;
  readonly newSeen: ReadonlySet<number>;
  readonly deaths: number;
}

export type RestartVerdict =
  | { readonly kind: 'starting'; readonly detail: string }
  | { readonly kind: 'settling'; readonly stableForMs: number }
  | { readonly kind: 'restarted'; readonly masterPid: number; readonly workers: readonly WorkerProcess[] }
  | { readonly kind: 'failed'; readonly reason: 'crash-loop' | 'several-masters'; readonly message: string };

export function startRestartWatch(baseline: RestartBaseline): RestartState {
  return { baseline, stable: null, newSeen: new Set(), deaths: 0 };
}

export function observeRestart(
  state: RestartState,
  snapshot: HostSnapshot,
  rules: { readonly settleMs: number; readonly confirmAgeMs: number; readonly crashLimit?: number },
): { state: RestartState; verdict: RestartVerdict } {
  const { baseline } = state;
  const current = snapshot.workers.filter((worker) => worker.startedAt >= baseline.startedAt);
  const pids = new Set(current.map((worker) => worker.pid));
  let deaths = state.deaths;
  for (const pid of state.newSeen) if (!pids.has(pid)) deaths += 1;
  const next: RestartState = { ...state, newSeen: pids, deaths };
  const groups = new Set(baseline.expected.keys());
  // A new master's own counts start at zero: every crash it counted happened since the restart.
  const crashes = crashesSinceSignal(new Map(), snapshot, deaths, groups);
  if (isCrashLoop(crashes, rules.crashLimit)) {
    return {
      state: next,
      verdict: { kind: 'failed', reason: 'crash-loop', message: `the restarted app crash-loops: ${crashes} new worker(s) exited abnormally since the restart` },
    };
  }
  const masters = snapshot.masters.filter((master) => master.pid !== baseline.oldMasterPid);
  if (masters.length > 1) {
    return {
      state: next,
      verdict: {
        kind: 'failed',
        reason: 'several-masters',
        message: `more than one master runs the app after the restart (pids ${masters.map((m) => m.pid).join(', ')})`,
      },
    };
  }
  const unsettled = (detail: string) => ({ state: { ...next, stable: null }, verdict: { kind: 'starting' as const, detail } });
  if (masters.length === 0 || snapshot.masters.some((master) => master.pid === baseline.oldMasterPid)) {
    return unsettled(snapshot.masters.length === 0 ? 'no master yet' : `the old master (pid ${baseline.oldMasterPid}) still runs`);
  }
  const old = snapshot.workers.filter((worker) => worker.startedAt < baseline.startedAt);
  if (old.length > 0) return unsettled(`old workers still run: ${old.map(describeWorker).join(', ')}`);
  const have = countByGroup(current);
  const short = [...baseline.expected].filter(([group, count]) => (have.get(group) ?? 0) !== count);
  if (short.length > 0) return unsettled(short.map(([group, count]) => `${group} ${have.get(group) ?? 0}/${count}`).join(', '));

  const key = [...pids].sort((a, b) => a - b).join(',');
  const stable = state.stable?.pids === key ? state.stable : { pids: key, since: snapshot.at };
  const stableForMs = Math.max(0, Math.round((snapshot.at - stable.since) * 1000));
  const settled = { ...next, stable };
  const confirmed = confirmationDueInMs(current, snapshot.at, rules.confirmAgeMs) === 0;
  if (stableForMs >= rules.settleMs && confirmed) return { state: settled, verdict: { kind: 'restarted', masterPid: masters[0]!.pid, workers: current } };
  return { state: settled, verdict: { kind: 'settling', stableForMs } };
}

/** `ports unserved 144 ms, 1 client connection(s) closed`: what a restart cost, as far as it was measured. */
export function describeRestartCost(cost: RestartCost): string {
  return [
    cost.unservedMs !== null ? `ports unserved ${formatDuration(cost.unservedMs)}` : undefined,
    cost.connectionsClosed !== null ? `${cost.connectionsClosed} client connection(s) closed` : undefined,
    cost.killedAfterStopTimeout > 0 ? `${cost.killedAfterStopTimeout} worker(s) killed after stop-timeout` : undefined,
  ]
    .filter((part) => part !== undefined)
    .join(', ');
}
