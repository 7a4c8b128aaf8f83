import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { RunnerCommand, UserCommandResult } from '../engine/ports.js';

/** After the timeout's SIGTERM, how long the command's process group has before SIGKILL. */
const KILL_AFTER_MS = 2000;

/**
 * Runs a user's command on the runner with bash, in `cwd`, as its own
 * process group so a timeout ends what it started too (a socat, a curl).
 * Output (stdout and stderr together) is handed over line by line.
 */
export function runnerCommand(cwd: string): RunnerCommand {
  return (command, { env, timeoutMs, onLine }) =>
    new Promise<UserCommandResult>((resolve) => {
      const started = Date.now();
      const child = spawn('bash', ['-c', command], { cwd, env: { ...process.env, ...env }, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
      for (const stream of [child.stdout, child.stderr]) createInterface({ input: stream, crlfDelay: Infinity }).on('line', onLine);
      let timedOut = false;
      const signalGroup = (signal: NodeJS.Signals) => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, signal);
        } catch {
          // Already gone.
        }
      };
      let killer: NodeJS.Timeout | undefined;
      const timer = setTimeout(() => {
        timedOut = true;
        signalGroup('SIGTERM');
        killer = setTimeout(() => signalGroup('SIGKILL'), KILL_AFTER_MS);
      }, timeoutMs);
      let settled = false;
      const finish = (code: number | null, signal: string | null, error?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        clearTimeout(killer);
        if (error) onLine(`could not run bash: ${error.message}`);
        resolve({ code, ...(signal ? { signal } : {}), timedOut, durationMs: Date.now() - started });
      };
      child.on('error', (error) => finish(null, null, error));
      child.on('close', (code, signal) => finish(code, signal));
    });
}
