// npm run bench [-- [--quick] [--out FILE] [NAME...]]
//
// Runs the benchmarks of issue 11 on the rig (real sshd hosts, real
// Workerman; root) and writes BENCHMARKS.md with the figures, the machine and
// the method, and its plots under benchmarks/; the file's hand-written part
// ("How fast, and why", at its end) is kept. NAMEs pick some benchmarks
// (overhead verdict delta downtime scale startup restart); a partial run prints its
// report instead of writing BENCHMARKS.md, unless --out names a file.
// --quick (or BENCH_QUICK=1) runs each benchmark fewer times: a glance while
// working, not figures to quote.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { execFile } from '../../test/rig/process.js';
import { REPO } from '../../test/rig/rig.js';
import type { Benchmark, BenchContext } from './benchmark.js';
import { delta } from './delta.js';
import { downtime } from './downtime.js';
import { describeCommit, describeMachine } from './machine.js';
import { keepHandWritten, renderDocument, type Section } from './markdown.js';
import { overhead } from './overhead.js';
import { restart } from './restart.js';
import { scale } from './scale.js';
import { startup } from './startup.js';
import { verdict } from './verdict.js';

const BENCHMARKS: readonly Benchmark[] = [overhead, verdict, delta, downtime, scale, startup, restart];

function parseArgs(args: readonly string[]): { quick: boolean; out: string | null; selected: Benchmark[] } {
  let quick = process.env['BENCH_QUICK'] === '1';
  let out: string | null = null;
  const names: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--quick') quick = true;
    else if (arg === '--out') out = args[++i] ?? '';
    else names.push(arg);
  }
  const unknown = names.filter((name) => !BENCHMARKS.some((b) => b.name === name));
  if (unknown.length > 0 || out === '') {
    throw new Error(
      `usage: npm run bench -- [--quick] [--out FILE] [NAME...]; ${unknown.length ? `unknown benchmark "${unknown.join('", "')}"` : '--out needs a file'}; names: ${BENCHMARKS.map((b) => b.name).join(' ')}`,
    );
  }
  const selected = names.length ? BENCHMARKS.filter((b) => names.includes(b.name)) : [...BENCHMARKS];
  return { quick, out: out ?? (selected.length === BENCHMARKS.length ? join(REPO, 'BENCHMARKS.md') : null), selected };
}

/** The benchmarks measure dist/index.cjs: it must be the bundle of the sources, or the figures describe other code. */
async function checkBundleFresh(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'gr-bench-bundle-'));
  try {
    const fresh = join(dir, 'index.cjs');
    const built = await execFile(process.execPath, [join(REPO, 'scripts/bundle.mjs'), fresh], { cwd: REPO, timeoutMs: 120_000 });
    if (built.code !== 0) throw new Error(`bundling src/ failed: ${built.stderr.trim()}`);
    const [now, wanted] = await Promise.all([readFile(join(REPO, 'dist/index.cjs'), 'utf8').catch(() => ''), readFile(fresh, 'utf8')]);
    if (now !== wanted) throw new Error('dist/index.cjs is not the bundle of the current sources: run npm run build (node scripts/bundle.mjs) first');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A benchmark that threw still gets a section (and the run exits 1), so one failure does not lose the others' figures. */
async function runOne(benchmark: Benchmark, context: BenchContext): Promise<Section> {
  const started = performance.now();
  try {
    const section = await benchmark.run(context);
    context.log(`${benchmark.name}: done in ${Math.round((performance.now() - started) / 1000)} s`);
    return section;
  } catch (error) {
    context.log(`${benchmark.name}: FAILED: ${(error as Error).stack ?? error}`);
    process.exitCode = 1;
    return {
      title: `${benchmark.name}: failed`,
      goals: [],
      body: `The benchmark stopped with an error:\n\n\`\`\`\n${(error as Error).message}\n\`\`\``,
      figures: [],
    };
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the benchmarks start sshd in private mount namespaces, which needs root: run them as root');
  const { quick, out, selected } = parseArgs(process.argv.slice(2));
  await checkBundleFresh();
  const started = performance.now();
  const context: BenchContext = { quick, log: (line) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${line}`) };
  const machine = await describeMachine();
  const sections: Section[] = [];
  for (const benchmark of selected) sections.push(await runOne(benchmark, context));
  machine.push([
    'load average at the end',
    loadavg()
      .map((n) => n.toFixed(2))
      .join(', '),
  ]);
  const { commit, dirty } = await describeCommit();
  const figuresDir = 'benchmarks';
  const args = [...(quick ? ['--quick'] : []), ...(selected.length < BENCHMARKS.length ? selected.map((b) => b.name) : [])];
  const command = `npm run bench${args.length ? ` -- ${args.join(' ')}` : ''}`;
  const document = renderDocument(
    { date: new Date().toISOString().slice(0, 16).replace('T', ' ') + ' UTC', commit, dirty, quick, command, durationMs: performance.now() - started },
    machine,
    sections,
    figuresDir,
  );
  if (out === null) {
    console.log(`\n${document}`);
    return;
  }
  const figures = join(dirname(out), figuresDir);
  await mkdir(figures, { recursive: true });
  for (const figure of sections.flatMap((s) => s.figures)) await writeFile(join(figures, figure.file), figure.svg);
  const previous = await readFile(out, 'utf8').catch(() => undefined);
  await writeFile(out, keepHandWritten(document, previous));
  console.log(`wrote ${relative(process.cwd(), out) || out} and its figures in ${relative(process.cwd(), figures) || figures}/`);
}

await main().catch((error: Error) => {
  console.error(error.message);
  process.exitCode = 1;
});
