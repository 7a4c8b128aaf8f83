import { createInterface } from 'node:readline';
import HOST_COMMAND from '../remote/host-command.sh';
import { formatDuration } from '../engine/units.js';
import { OutputLines } from '../engine/report/output-lines.js';
import { describeExit, type UserCommandResult } from '../engine/ports.js';
import type { CommandRecord } from '../engine/report/report.js';
import { commandLine } from '../engine/shell-quote.js';
import type { HostRun } from './context.js';

/**
 * The user's own commands around a rollout, wherever they run (the runner's
 * drain-command, the host's before-reload): logged line by line under the
 * host, bounded in time, and recorded for the report the same way.
 */

/** GNU timeout's exits: the command ran past its time (124), or did not end on SIGTERM and was killed (137). */
const TIMEOUT_EXITS = new Set([124, 137]);

/** Runs one user command through `start`, logging its lines, and records how it ended in `run.commands`. */
export async function recordCommand(
  run: Pick<HostRun, 'io' | 'label' | 'commands'>,
  name: CommandRecord['name'],
  timeoutMs: number,
  start: (onLine: (line: string) => void) => Promise<UserCommandResult>,
): Promise<CommandRecord> {
  run.io.log.info(`${run.label}: running ${name}`);
  const lines = new OutputLines((line) => run.io.log.info(`${run.label}: ${name}: ${line}`));
  const result = await start(lines.take);
  const exit = result.timedOut ? `timed out after ${formatDuration(timeoutMs)}` : describeExit(result);
  const record: CommandRecord = { name, ok: result.code === 0 && !result.timedOut, exit, durationMs: result.durationMs, lastLines: lines.last.slice(-5) };
  run.commands?.push(record);
  const ended = `${run.label}: ${name} ${exit} (${formatDuration(record.durationMs)})`;
  if (record.ok) run.io.log.info(ended);
  else run.io.log.warning(ended);
  return record;
}

/** What the host's commands find in their environment. */
export function hookEnvironment(run: HostRun): Record<string, string> {
  return { GRACEFUL_RELOAD_REVISION: run.settings.revision ?? '', GRACEFUL_RELOAD_HOST: run.label, GRACEFUL_RELOAD_TARGET: run.settings.target };
}

/** The remote command line: src/remote/host-command.sh with the environment, the target, the bound and the user's command. */
export function hostCommandLine(target: string, command: string, env: Readonly<Record<string, string>>, timeoutMs: number): string {
  const assignments = Object.entries(env).map(([name, value]) => `${name}=${value}`);
  return commandLine(['env', ...assignments, 'sh', '-c', HOST_COMMAND, 'host-command', target, String(Math.ceil(timeoutMs / 1000)), command]);
}

/** The host's own timeout ends the command; the runner gives it this much longer before it closes the channel itself. */
const RUNNER_GRACE_MS = 15_000;

/**
 * Runs a user's command on the host, its output streamed line by line where
 * the shell can stream (a test's fake shell cannot: its output comes at the end).
 */
export async function runOnHost(run: HostRun, command: string, timeoutMs: number, onLine: (line: string) => void): Promise<UserCommandResult> {
  const started = run.now();
  const line = hostCommandLine(run.settings.target, command, hookEnvironment(run), timeoutMs);
  const result =
    run.shell.stream ? await streamed(run, line, timeoutMs + RUNNER_GRACE_MS, onLine) : await collected(run, line, timeoutMs + RUNNER_GRACE_MS, onLine);
  const timedOut = result.timedOut || (result.code !== null && TIMEOUT_EXITS.has(result.code));
  return { ...result, timedOut, durationMs: run.now() - started };
}

type Ended = Pick<UserCommandResult, 'code' | 'signal' | 'timedOut'>;

async function streamed(run: HostRun, line: string, boundMs: number, onLine: (line: string) => void): Promise<Ended> {
  const stream = await run.shell.stream!(line);
  stream.io.end();
  createInterface({ input: stream.io, crlfDelay: Infinity }).on('line', onLine);
  createInterface({ input: stream.stderr, crlfDelay: Infinity }).on('line', onLine);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    stream.close();
  }, boundMs);
  try {
    const ended = await stream.ended;
    if (ended.lost !== undefined) onLine(`(the connection was lost: ${ended.lost})`);
    return { code: ended.code, ...(ended.signal ? { signal: ended.signal } : {}), timedOut };
  } finally {
    clearTimeout(timer);
  }
}

async function collected(run: HostRun, line: string, boundMs: number, onLine: (line: string) => void): Promise<Ended> {
  const result = await run.shell.run(line, { timeoutMs: boundMs });
  for (const text of `${result.stdout}${result.stderr}`.split('\n').filter((text) => text !== '')) onLine(text);
  return { code: result.code, ...(result.signal ? { signal: result.signal } : {}), timedOut: false };
}
