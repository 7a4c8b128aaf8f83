import { CRASH_LIMIT } from '../engine/verdict/crash-loop.js';
import type { RolloutSettings } from '../engine/inputs/settings.js';
import { watchReload, type WatchOutcome } from './reload-watch.js';
import type { ReloadBaseline, VerdictRules } from '../engine/verdict/verdict.js';
import { describeWorker, type WorkerProcess } from '../engine/workers/worker-snapshot.js';
import type { StatusSource } from '../status/status-source.js';
import { liveWorkersCommand, stopWorkerCommand } from '../workerman/commands.js';
import type { HostRun } from './context.js';

/** Nothing at all happening this long after the signal means the master did not act on it. */
const NO_PROGRESS_MS = 10_000;
/** Once forcing a pinned reload, how long the master gets before the next holder is stopped. */
const FORCE_STEP_MS = 3000;

export function verdictRules(settings: RolloutSettings, baseline: ReloadBaseline): VerdictRules {
  const { plan } = baseline;
  return {
    settleMs: settings.settleMs,
    confirmAgeMs: settings.pollIntervalMs,
    reloadMode: plan.mode,
    ...(settings.revision !== undefined ? { revision: settings.revision } : {}),
    gracefulTimeoutMs: settings.gracefulTimeoutMs,
    noProgressMs: plan.mode === 'graceful' ? Math.min(NO_PROGRESS_MS, settings.gracefulTimeoutMs) : NO_PROGRESS_MS,
    forceStepMs: FORCE_STEP_MS,
    crashLimit: CRASH_LIMIT,
    ...(plan.quickStopAfterMs !== undefined ? { quickStopAfterMs: plan.quickStopAfterMs } : {}),
  };
}

/** Watches the workers until the reload is proven, or fails saying why. */
export async function verifyStep(run: HostRun, source: StatusSource, baseline: ReloadBaseline): Promise<WatchOutcome> {
  const { settings, label, io } = run;
  run.facts.step = 'verify';
  const outcome = await watchReload({
    label,
    baseline,
    rules: verdictRules(settings, baseline),
    timeoutMs: settings.timeoutMs,
    pollIntervalMs: settings.pollIntervalMs,
    onGracefulTimeout: settings.onGracefulTimeout,
    snapshot: () => source.snapshot(),
    stopWorker: async (worker, signal) => {
      const result = await run.shell.run(stopWorkerCommand(worker.pid, baseline.masterPid, signal), { timeoutMs: settings.commandTimeoutMs });
      return result.code === 0;
    },
    logSinceSignal: () => source.logSinceSignal(),
    log: io.log,
    now: run.now,
    ...(io.sleep ? { sleep: io.sleep } : {}),
    ...(run.cancelled ? { cancelled: run.cancelled } : {}),
  });
  if (!outcome.ok && outcome.reason === 'master-gone') return { ...outcome, message: await afterMasterDied(run, baseline, outcome.message) };
  return outcome;
}

/**
 * A master that died leaves its workers running on their own: they still
 * serve (old code, or new) and hold the ports, so a start fails until they
 * are stopped. Say which are left, or that nothing serves.
 */
async function afterMasterDied(run: HostRun, baseline: ReloadBaseline, message: string): Promise<string> {
  const known: WorkerProcess[] = [...baseline.tracked, ...baseline.kept];
  const result = await run.shell
    .run(liveWorkersCommand(known.map((worker) => worker.pid)), { timeoutMs: run.settings.commandTimeoutMs })
    .catch(() => undefined);
  if (result === undefined) return `${message}; whether its workers still run could not be checked`;
  const alive = new Set(
    result.stdout
      .split('\n')
      .filter((line) => /^\d+$/.test(line))
      .map(Number),
  );
  const orphans = known.filter((worker) => alive.has(worker.pid));
  if (orphans.length === 0) return `${message}; none of its workers is left, so nothing serves the app until it is started again`;
  return (
    `${message}; ${orphans.length} of its workers still run without it (${orphans.map(describeWorker).join(', ')}), serving code from before the reload ` +
    'and holding the listen ports: stop them before starting the app again, or the start will fail'
  );
}
