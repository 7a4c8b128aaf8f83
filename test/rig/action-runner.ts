import { rmSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { execFile } from './process.js';
import { REPO, suiteTag } from './rig.js';

export interface ActionRun {
  readonly code: number | null;
  /** Everything the action printed, stdout and stderr. */
  readonly log: string;
  readonly outputs: Record<string, string>;
  readonly state: Record<string, string>;
  /** What the action wrote to GITHUB_STEP_SUMMARY (Markdown; empty when it wrote none). */
  readonly summary: string;
  readonly runnerTemp: string;
}

/** The runner's own files in RUNNER_TEMP (outputs, state, the step summary): anything else there was written by the action. */
export const RUNNER_FILE_NAMES: readonly string[] = ['output', 'state', 'step-summary.md'];

/** Every RUNNER_TEMP made in this process, removed when it exits, whatever a test did. */
const runnerTemps = new Set<string>();
process.on('exit', () => {
  for (const dir of runnerTemps) rmSync(dir, { recursive: true, force: true });
});

/** Reads a GITHUB_OUTPUT / GITHUB_STATE file (name<<delimiter ... delimiter blocks). */
export function parseCommandFile(text: string): Record<string, string> {
  const values: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^<=]+)<<(.+)$/.exec(lines[i]!);
    if (!heredoc) continue;
    const end = lines.indexOf(heredoc[2]!, i + 1);
    values[heredoc[1]!] = lines.slice(i + 1, end).join('\n');
    i = end;
  }
  return values;
}

/**
 * Runs dist/index.cjs the way a GitHub runner does: inputs as INPUT_<NAME>
 * variables, outputs, state and the job summary through files, on the Node 24 that
 * `npm test` puts first on PATH. Returns after the main step; `post` runs the
 * post step with the saved state.
 */
export async function runAction(
  inputs: Record<string, string>,
  options: { env?: Record<string, string>; workspace?: string; echo?: (text: string) => void; signal?: AbortSignal; onSpawn?: (pid: number) => void } = {},
): Promise<ActionRun> {
  const runnerTemp = await mkdtemp(join(tmpdir(), `gr-runner-${suiteTag()}`));
  runnerTemps.add(runnerTemp);
  const outputFile = join(runnerTemp, 'output');
  const stateFile = join(runnerTemp, 'state');
  const summaryFile = join(runnerTemp, 'step-summary.md');
  await writeFile(outputFile, '');
  await writeFile(stateFile, '');
  await writeFile(summaryFile, '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    RUNNER_TEMP: runnerTemp,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STATE: stateFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_WORKSPACE: options.workspace ?? REPO,
    ...options.env,
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase()}`] = value;
  const result = await execFile(process.execPath, [join(REPO, 'dist/index.cjs')], {
    env,
    timeoutMs: 300_000,
    ...(options.echo ? { echo: options.echo } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onSpawn ? { onSpawn: options.onSpawn } : {}),
  });
  return {
    code: result.code,
    log: result.stdout + result.stderr,
    outputs: parseCommandFile(await readFile(outputFile, 'utf8')),
    state: parseCommandFile(await readFile(stateFile, 'utf8')),
    summary: await readFile(summaryFile, 'utf8'),
    runnerTemp,
  };
}

export async function removeRunnerTemp(run: ActionRun): Promise<void> {
  await rm(run.runnerTemp, { recursive: true, force: true });
}
