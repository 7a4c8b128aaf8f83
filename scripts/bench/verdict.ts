// 2. Time to verdict: from the last worker replaced (its start time in
// /proc/<pid>/stat: the rig shares the pid namespace with its hosts) to the
// action printing that all workers are replaced, settle 0s, every other input
// at its default. Also the time on to the action's exit (lock release, report),
// and for new code that crashes at start, the time from the signal to the
// failure against its budget (settle plus one poll, at their defaults).
import { readFile } from 'node:fs/promises';
import { parseInputs } from '../../src/engine/inputs/inputs.js';
import { makeCrashingSource } from '../../test/rig/scenario.js';
import type { Benchmark } from './benchmark.js';
import { actionInputs, endpointsOf, nextVersion, runTimedAction, startFleet, withRig, type Fleet } from './fleet.js';
import { table, type Section } from './markdown.js';
import { formatMs, formatRatio, meets, median, ratio } from './stats.js';

/** The action's verdict line for a host: "all 5 workers replaced and stable". */
const VERDICT_LINE = /\ball \d+ workers? replaced\b/;
const GOAL = { atMost: 60 };

/** Boot time in epoch ms, to 10 ms (btime in /proc/stat is whole seconds, too coarse here). */
async function bootTimeMs(): Promise<number> {
  const uptime = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
  return Date.now() - uptime * 1000;
}

/** When a process started, in epoch ms (clock ticks of 10 ms after boot). */
async function startedAtMs(pid: number, boot: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  return boot + ticks * 10;
}

interface Sample {
  readonly toVerdict: number;
  readonly toExit: number;
}

interface CrashLoop {
  /** The verify phase: from the signal to the failure. */
  readonly verdictMs: number;
  readonly budgetMs: number;
  readonly why: string;
}

/** Deploys code whose web workers die in onWorkerStart, settle and poll interval at their defaults; the host is rolled back after. */
async function crashLoop(fleet: Fleet): Promise<CrashLoop> {
  const inputs: Record<string, string> = { ...actionInputs(fleet, endpointsOf(fleet.hosts)), source: await makeCrashingSource(fleet.rig) };
  delete inputs['settle'];
  const { settleMs, pollIntervalMs } = parseInputs((name) => inputs[name] ?? '').rollout;
  const result = await runTimedAction(inputs);
  const report = result.reports[0];
  const verify = report?.phases?.find((p) => p.name === 'verify');
  if (!report || report.ok || !verify) {
    return {
      verdictMs: Number.NaN,
      budgetMs: settleMs + pollIntervalMs,
      why: report?.ok ? 'the crashing code was reported ok' : `no verify phase in the report: ${result.why}`,
    };
  }
  return { verdictMs: verify.end - verify.start, budgetMs: settleMs + pollIntervalMs, why: [report.reason, report.error].filter(Boolean).join(': ') };
}

export const verdict: Benchmark = {
  name: 'verdict',
  async run(context) {
    const runs = context.quick ? 3 : 9;
    const samples: Sample[] = [];
    const failures: string[] = [];
    let crash: CrashLoop | undefined;
    await withRig(async (rig) => {
      const fleet = await startFleet(rig, 1);
      const boot = await bootTimeMs();
      for (let i = 0; i < runs; i++) {
        await nextVersion(fleet);
        let verdictAt = 0;
        const result = await runTimedAction(actionInputs(fleet, endpointsOf(fleet.hosts)), {
          onLine: (line, at) => {
            if (!verdictAt && VERDICT_LINE.test(line)) verdictAt = performance.timeOrigin + at;
          },
        });
        const exitedAt = Date.now();
        const workers = result.reports[0]?.workers ?? [];
        if (!result.ok || !verdictAt || workers.length === 0) {
          failures.push(result.ok ? `run ${i + 1}: no line matching ${VERDICT_LINE} in the output` : `run ${i + 1}: ${result.why}`);
          continue;
        }
        const lastReplaced = Math.max(...(await Promise.all(workers.map((w) => startedAtMs(w.pid, boot)))));
        samples.push({ toVerdict: verdictAt - lastReplaced, toExit: exitedAt - lastReplaced });
        context.log(
          `verdict run ${i + 1}/${runs}: ${Math.round(verdictAt - lastReplaced)} ms to the verdict, ${Math.round(exitedAt - lastReplaced)} ms to exit`,
        );
      }
      crash = await crashLoop(fleet);
      context.log(`verdict, crash loop: ${formatMs(crash.verdictMs)} from the signal to the failure (budget ${formatMs(crash.budgetMs)}): ${crash.why}`);
    });
    return report(samples, failures, runs, crash!);
  },
};

function report(samples: readonly Sample[], failures: readonly string[], runs: number, crash: CrashLoop): Section {
  const toVerdict = samples.map((s) => s.toVerdict);
  const toExit = samples.map((s) => s.toExit);
  const row = (label: string, values: number[]) => [label, formatMs(median(values)), formatMs(Math.min(...values)), formatMs(Math.max(...values))];
  const measured = median(toVerdict);
  return {
    title: '2. Time to verdict',
    goals: [{ figure: 'last worker replaced → verdict, median', measured: formatMs(measured), goal: '≤ 60 ms', met: meets(measured, GOAL) }],
    body: [
      `${samples.length} of ${runs} one-host deploys measured (settle \`0s\`, poll interval and every other input at their defaults). ` +
        'The last worker replaced is the newest start time among the workers the report names, read from `/proc/<pid>/stat` on the rig ' +
        '(the rig shares the pid namespace with its hosts; start times have 10 ms resolution); the verdict is the moment the action’s output line ' +
        `matching \`${VERDICT_LINE.source}\` reaches the benchmark.`,
      '',
      table(['from the last worker replaced to', 'median', 'min', 'max'], [row('the verdict line', toVerdict), row('the action’s exit', toExit)]),
      ...(failures.length ? ['', 'Runs not measured:', '', ...failures.map((f) => `- ${f}`)] : []),
      '',
      `**Crash loop**: one deploy of code whose web workers throw in \`onWorkerStart\`, settle and poll interval at their defaults: ` +
        `${formatMs(crash.verdictMs)} from the signal to the failure (the report’s verify phase), ${formatRatio(ratio(crash.verdictMs, crash.budgetMs))} ` +
        `of its budget of settle plus one poll (${formatMs(crash.budgetMs)}). The action said: ${crash.why || '–'}`,
    ].join('\n'),
    figures: [],
  };
}
