import { spawn } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';

export interface Exec {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

/** Runs a program with an argument array (no shell) and collects its output. */
export function execFile(
  command: string,
  args: readonly string[],
  options: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    input?: string;
    timeoutMs?: number;
    echo?: (text: string) => void;
    signal?: AbortSignal;
    onSpawn?: (pid: number) => void;
  } = {},
): Promise<Exec> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    // A cancelled job: the runner kills the step's process outright.
    options.signal?.addEventListener('abort', () => child.kill('SIGKILL'), { once: true });
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      options.echo?.(chunk.toString());
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      options.echo?.(chunk.toString());
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, stderr, code });
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(options.input ?? '');
  });
}

export async function mustExec(command: string, args: readonly string[], options: Parameters<typeof execFile>[2] = {}): Promise<string> {
  const result = await execFile(command, args, options);
  if (result.code !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.code}): ${result.stderr.trim() || result.stdout.trim()}`);
  }
  return result.stdout;
}

/** Polls `check` until it gives a value (not undefined, not false) and returns it; past `timeoutMs`, throws naming `what`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, timeoutMs = 15_000, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A process's command line, or its title for a Workerman process; empty once it is gone. */
export async function processTitle(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').trim();
}

/** Every live process whose command line (the title, for Workerman processes) mentions `text`. */
export async function processesMentioning(text: string): Promise<{ pid: number; title: string }[]> {
  const found: { pid: number; title: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const title = await processTitle(Number(entry));
    if (title.includes(text)) found.push({ pid: Number(entry), title });
  }
  return found;
}
