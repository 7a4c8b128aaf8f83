/**
 * src/workerman/: Workerman's own commands and outputs: this file (the
 * reload signal, start and stop), the app's worker definitions read on the
 * host, the host probe and restart's output. Imported by src/status/ and
 * src/rollout/; it imports src/engine/ and src/remote/.
 */

import LIVE_WORKERS_SCRIPT from '../remote/live-workers.sh';
import RESTART_SCRIPT from '../remote/restart.sh';
import STOP_WORKER_SCRIPT from '../remote/stop-worker.sh';
import { commandLine, quote } from '../engine/shell-quote.js';
import { startFilePath, type ReloadMode, type RolloutSettings } from '../engine/inputs/settings.js';

type Target = Pick<RolloutSettings, 'target' | 'startFile' | 'php'>;

/**
 * The reload itself: what `php start.php reload` (SIGUSR1, quick) and
 * `reload -g` (SIGUSR2, graceful) send, sent straight to the master the
 * baseline was taken of. Workerman's command would start PHP and run the
 * start script only to read the pid file, and exits 0 even when the signal
 * went nowhere; kill says so.
 */
export function reloadSignalCommand(masterPid: number, mode: Exclude<ReloadMode, 'auto'>): string {
  return commandLine(['kill', '-s', mode === 'graceful' ? 'USR2' : 'USR1', String(masterPid)]);
}

/**
 * Before anything changes: the app directory, the start file, php and rsync
 * must be there (else a `missing-*` word and exit 3).
 */
export function layoutCheckCommand(settings: Target): string {
  const start = startFilePath(settings);
  return [
    `test -d ${quote(settings.target)} || { echo "missing-target"; exit 3; }`,
    `test -f ${quote(start)} || { echo "missing-start-file"; exit 3; }`,
    `command -v ${quote(settings.php)} >/dev/null || { echo "missing-php"; exit 3; }`,
    `command -v rsync >/dev/null || { echo "missing-rsync"; exit 3; }`,
  ].join('; ');
}

/**
 * The old workers among `pids` that still run (a worker title in /proc),
 * one PID a line: after the master died, these serve old code on their own.
 */
export function liveWorkersCommand(pids: readonly number[]): string {
  return commandLine(['sh', '-c', LIVE_WORKERS_SCRIPT, 'live-workers', ...pids.map(String)]);
}

/**
 * Sends a signal to one old worker, but only while that PID is still a child
 * of the master: PIDs are reused, and a stale one must never be signalled.
 */
export function stopWorkerCommand(pid: number, masterPid: number, signal: 'INT' | 'KILL'): string {
  return commandLine(['sh', '-c', STOP_WORKER_SCRIPT, 'stop-worker', String(pid), String(masterPid), signal]);
}

/**
 * The deploy user's right to signal the master (it may run as another user),
 * checked before anything changes: Workerman's own `reload` would exit 0
 * even when the kernel refused its signal.
 */
export function canSignalCommand(masterPid: number): string {
  return commandLine(['kill', '-0', String(masterPid)]);
}

/**
 * The restart, stop to new listener, as one command (src/remote/restart.sh):
 * SIGINT to the master, its workers killed after stopTimeoutMs, `start -d`
 * as soon as the master is gone, then the TCP ports awaited. It starts with
 * the deploy user's login environment: a master's own environment cannot be
 * read back (setting its process title overwrites /proc/<pid>/environ), so
 * an app must read its settings from files such as .env, as Workerman apps do.
 */
export function restartCommand(settings: Target, masterPid: number, stopTimeoutMs: number, ports: readonly number[]): string {
  const args = [String(masterPid), String(stopTimeoutMs), settings.target, settings.php, settings.startFile, ...ports.map(String)];
  return commandLine(['sh', '-c', RESTART_SCRIPT, 'restart', ...args]);
}

/** Removes rsync's --delay-updates staging directories (`.~tmp~`) that a sync cut short left in the live tree. */
export function removeStagingCommand(target: string): string {
  return commandLine(['find', target, '-depth', '-type', 'd', '-name', '.~tmp~', '-exec', 'rm', '-rf', '{}', '+']);
}
