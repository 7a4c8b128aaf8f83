import { setTimeout as realSleep } from 'node:timers/promises';
import { CRASH_LIMIT } from '../engine/crash-loop.js';
import { formatDuration } from '../engine/duration.js';
import { RemoteCommandTimeout, StepError, describeExit } from '../engine/ports.js';
import { observeRestart, startRestartWatch, type RestartVerdict } from '../engine/restart-verdict.js';
import type { AppDefinitions } from '../engine/worker-definitions.js';
import type { WorkerProcess } from '../engine/worker-snapshot.js';
import type { StatusSource } from '../status/status-source.js';
import { startCommand, stopCommand } from '../workerman/commands.js';
import type { HostRun } from './context.js';

export interface RestartOutcome {
  readonly masterPid: number;
  readonly workers: readonly WorkerProcess[];
  /** How the old master went: a graceful stop, or a plain one after graceful-timeout. */
  readonly stoppedWith: 'stop -g' | 'stop';
  readonly restartedAt: number;
}

/**
 * Restarts the app for a master-level change: `stop -g` bounded by
 * graceful-timeout, then `stop`; `start -d`; then watches until a new master runs every group the new
 * definitions name, at its new count, stable for settle.
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
  io.log.warning(`${label}: restarting the app (${why}). A restart closes every open connection: a reload cannot apply this change`);
  const baselineAt = (await source.snapshot()).at;
  // From here on the app log is read for the new master: its errors, not the old one's.
  source.markSignal();
  facts.stopped = true;
  const stoppedWith = await stopMaster(run, source, oldMasterPid);
  const started = await run.shell.run(startCommand(settings), { timeoutMs: settings.commandTimeoutMs });
  if (started.code !== 0) {
    throw new StepError('restart', `"${settings.php} ${settings.startFile} start -d" failed (${describeExit(started)}): ${started.stdout.trim().split('\n').slice(-3).join(' | ')}. The app is stopped`);
  }
  onStarted();
  io.log.info(`${label}: started again; watching the new master`);
  const outcome = await watchRestart(run, source, oldMasterPid, baselineAt, synced);
  return { ...outcome, stoppedWith, restartedAt: baselineAt };
}

async function masterAlive(source: StatusSource, pid: number): Promise<boolean> {
  return (await source.snapshot()).masters.some((master) => master.pid === pid);
}

async function stopMaster(run: HostRun, source: StatusSource, pid: number): Promise<'stop -g' | 'stop'> {
  const { settings, io, label } = run;
  io.log.info(`${label}: stopping gracefully (stop -g, at most ${formatDuration(settings.gracefulTimeoutMs)})`);
  try {
    await run.shell.run(stopCommand(settings, true), { timeoutMs: settings.gracefulTimeoutMs });
  } catch (error) {
    if (!(error instanceof RemoteCommandTimeout)) throw error;
  }
  if (!(await masterAlive(source, pid))) return 'stop -g';
  io.log.warning(`${label}: the master (pid ${pid}) still runs after graceful-timeout; stopping it (stop)`);
  const stopped = await run.shell.run(stopCommand(settings, false), { timeoutMs: settings.commandTimeoutMs });
  if (await masterAlive(source, pid)) {
    throw new StepError('restart', `the master (pid ${pid}) did not stop (${describeExit(stopped)}: ${stopped.stdout.trim().split('\n').pop() ?? ''}); nothing was started`);
  }
  return 'stop';
}

async function watchRestart(run: HostRun, source: StatusSource, oldMasterPid: number, startedAt: number, synced: AppDefinitions): Promise<{ masterPid: number; workers: readonly WorkerProcess[] }> {
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
    const step = observeRestart(state, await source.snapshot(), { settleMs: settings.settleMs, crashLimit: CRASH_LIMIT });
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
  throw new StepError('restart', `the app did not come back within the timeout (${formatDuration(settings.timeoutMs)}): ${verdict?.kind === 'starting' ? verdict.detail : 'it did not stay stable for settle'}`);
}
