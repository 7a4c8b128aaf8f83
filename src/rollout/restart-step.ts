import { setTimeout as realSleep } from 'node:timers/promises';
import { CRASH_LIMIT } from '../engine/verdict/crash-loop.js';
import { formatDuration } from '../engine/units.js';
import { StepError } from '../engine/step-error.js';
import type { RestartCost } from '../engine/report/report.js';
import { describeRestartCost, observeRestart, startRestartWatch, type RestartVerdict } from '../engine/verdict/restart-verdict.js';
import type { AppDefinitions } from '../engine/workers/worker-definitions.js';
import type { WorkerProcess } from '../engine/workers/worker-snapshot.js';
import type { StatusSource } from '../status/status-source.js';
import { restartCommand } from '../workerman/commands.js';
import { parseRestartOutput, tcpPorts, type RestartMeasure } from '../workerman/restart-output.js';
import type { HostRun } from './context.js';

/** What src/remote/restart.sh may wait beyond stop-timeout and the start: 5 s for the master to exit, 10 s for the new listeners. */
const RESTART_SCRIPT_WAITS_MS = 16_000;

export interface RestartOutcome {
  readonly masterPid: number;
  readonly workers: readonly WorkerProcess[];
  readonly cost: RestartCost;
  readonly restartedAt: number;
}

/**
 * Restarts the app for a master-level change: the host drained first where a
 * load balancer is named, then one remote command stops the master (SIGINT:
 * requests in hand finish, idle connections close, stragglers are killed
 * after stop-timeout) and starts the new one as soon as it is gone; then the
 * watch proves a new master runs every group the new definitions name, at
 * its new count, stable for settle.
 */
export async function restartStep(
  run: HostRun,
  source: StatusSource,
  oldMasterPid: number,
  synced: AppDefinitions,
  why: string,
  /** The start command returned: the watch that proves the new master begins. */
  onStarted: () => void = () => undefined,
): Promise<RestartOutcome> {
  const { settings, io, label, facts } = run;
  facts.step = 'restart';
  io.log.warning(
    `${label}: restarting the app (${why}): a reload cannot apply this change. Open connections are closed; requests in hand get ${formatDuration(settings.stopTimeoutMs)} (stop-timeout)`,
  );
  await run.drain?.before(run);
  facts.step = 'restart';
  const baselineAt = (await source.snapshot()).at;
  // From here on the app log is read for the new master: its errors, not the old one's.
  source.markSignal();
  facts.stopped = true;
  const ports = tcpPorts(synced.groups.map((group) => group.listen));
  const result = await run.shell.run(restartCommand(settings, oldMasterPid, settings.stopTimeoutMs, ports), {
    timeoutMs: settings.stopTimeoutMs + settings.commandTimeoutMs + RESTART_SCRIPT_WAITS_MS,
  });
  const measure = parseRestartOutput(result);
  failUnlessStarted(run, oldMasterPid, measure);
  const cost = restartCost(measure);
  onStarted();
  io.log.info(`${label}: started again (${describeRestartCost(cost) || 'no TCP listener to time'}); watching the new master`);
  const outcome = await watchRestart(run, source, oldMasterPid, baselineAt, synced);
  return { ...outcome, cost, restartedAt: baselineAt };
}

function failUnlessStarted(run: HostRun, oldMasterPid: number, measure: RestartMeasure): void {
  const { settings } = run;
  const said = measure.startOutput.split('\n').slice(-3).join(' | ');
  switch (measure.outcome) {
    case 'started':
      return;
    case 'signal-failed':
      run.facts.stopped = false;
      throw new StepError('restart', `the master (pid ${oldMasterPid}) could not be signalled to stop (${measure.exit}); nothing was stopped`);
    case 'not-stopped':
      throw new StepError(
        'restart',
        `the master (pid ${oldMasterPid}) did not exit after its workers were stopped (${measure.killed} killed after stop-timeout); nothing was started`,
      );
    case 'start-failed':
      throw new StepError('restart', `"${settings.php} ${settings.startFile} start -d" failed (${measure.exit}): ${said || '(no output)'}. The app is stopped`);
  }
}

function restartCost(measure: RestartMeasure): RestartCost {
  const since = (at: number | undefined) => (at !== undefined && measure.signalledAt !== undefined ? Math.max(0, at - measure.signalledAt) : null);
  return {
    unservedMs: since(measure.listeningAt),
    stopMs: since(measure.stoppedAt),
    connectionsClosed: measure.connectionsClosed,
    killedAfterStopTimeout: measure.killed,
  };
}

async function watchRestart(
  run: HostRun,
  source: StatusSource,
  oldMasterPid: number,
  startedAt: number,
  synced: AppDefinitions,
): Promise<{ masterPid: number; workers: readonly WorkerProcess[] }> {
  const { settings, io, label } = run;
  const sleep = io.sleep ?? realSleep;
  const expected = new Map<string, number>();
  for (const group of synced.groups) expected.set(group.name, (expected.get(group.name) ?? 0) + group.count);
  let state = startRestartWatch({ oldMasterPid, startedAt, expected });
  const deadline = run.now() + settings.timeoutMs;
  let verdict: RestartVerdict | undefined;
  let shown = '';
  for (;;) {
    if (run.cancelled?.aborted) throw new StepError('restart', 'the run was cancelled while the restarted app was watched; nothing proved it came back');
    const step = observeRestart(state, await source.snapshot(), {
      settleMs: settings.settleMs,
      confirmAgeMs: settings.pollIntervalMs,
      crashLimit: CRASH_LIMIT,
    });
    state = step.state;
    verdict = step.verdict;
    if (verdict.kind === 'restarted') {
      io.log.info(`${label}: new master ${verdict.masterPid} runs ${verdict.workers.length} worker(s), stable`);
      return verdict;
    }
    if (verdict.kind === 'failed') throw new StepError('restart', verdict.message);
    const line = verdict.kind === 'starting' ? `starting: ${verdict.detail}` : 'every group up, settling';
    if (line !== shown) io.log.info(`${label}: ${line}`);
    shown = line;
    if (run.now() + settings.pollIntervalMs > deadline) break;
    await sleep(settings.pollIntervalMs);
  }
  throw new StepError(
    'restart',
    `the app did not come back within the timeout (${formatDuration(settings.timeoutMs)}): ${verdict?.kind === 'starting' ? verdict.detail : 'it did not stay stable for settle'}`,
  );
}
