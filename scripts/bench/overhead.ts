// 1. Overhead: the action against the careful hand-written script
// (careful-deploy.sh: rsync -a --delete --delay-updates, then one ssh session
// per host that sends reload -g and polls pgrep -P on the host every 100 ms
// until the old workers are gone; all hosts at once), the earlier yardstick
// that opens an ssh command a poll (careful-deploy.sh -P), and the ssh
// loop most workflows run (ssh-loop.sh: rsync then reload, host after host,
// no check), on 1, 4 and 8 hosts. The four are interleaved round by round, in
// a rotating order, each deploying one changed file.
import type { Benchmark, BenchContext } from './benchmark.js';
import {
  actionInputs,
  endpointsOf,
  nextVersion,
  runCarefulScript,
  runSshLoop,
  runTimedAction,
  startFleet,
  waitSteady,
  withRig,
  type ActionResult,
  type Fleet,
} from './fleet.js';
import { table, type GoalRow, type Section } from './markdown.js';
import { formatMs, formatRatio, meets, median, ratio } from './stats.js';
import { renderSvg } from './svg.js';

const HOST_COUNTS = [1, 4, 8] as const;
const GOAL = { atMost: 1.1 };

type Method = 'action' | 'careful' | 'polling' | 'loop';
const METHODS: readonly Method[] = ['action', 'careful', 'polling', 'loop'];

interface Samples {
  readonly ms: Record<Method, number[]>;
  readonly failures: string[];
  /** The action's output lines with their time after spawn, one list per successful run. */
  readonly timelines: { ms: number; lines: string[] }[];
  /** Where each successful action run spent its time, ms per part (see breakdown). */
  readonly breakdowns: Record<string, number>[];
  /** CPU time (user + system) of each successful action run's node process. */
  readonly cpuMs: number[];
}

/** The parts of an action run, in order: the phases its reports time, and what comes before and after them. */
const PARTS = ['start-up', 'preflight', 'snapshot', 'sync', 'reload', 'verify', 'wrap-up'] as const;

/**
 * Where a run's wall time went: from spawn to the first phase (start-up: node,
 * inputs, connecting), each phase's duration (median over the hosts), and from
 * the last phase's end to the exit (wrap-up: lock release, report).
 */
function breakdown(result: ActionResult): Record<string, number> {
  const hosts = result.reports.map((r) => r.phases ?? []);
  const all = hosts.flat();
  if (all.length === 0) return {};
  const parts: Record<string, number> = {
    'start-up': Math.min(...all.map((p) => p.start)) - result.spawnedAt,
    'wrap-up': result.exitedAt - Math.max(...all.map((p) => p.end)),
  };
  for (const name of PARTS.slice(1, -1)) {
    parts[name] = median(hosts.map((phases) => phases.filter((p) => p.name === name).reduce((sum, p) => sum + p.end - p.start, 0)));
  }
  return parts;
}

async function runMethod(fleet: Fleet, method: Method, hostCount: number, samples: Samples): Promise<string> {
  const endpoints = endpointsOf(fleet.hosts.slice(0, hostCount));
  await nextVersion(fleet);
  if (method === 'action') {
    const lines: string[] = [];
    let started = 0;
    const result = await runTimedAction(actionInputs(fleet, endpoints), {
      onSpawn: () => (started = performance.now()),
      onLine: (line, at) => {
        if (!/^::(debug|add-mask)::/.test(line)) lines.push(`+${Math.round(at - started)} ms  ${line}`);
      },
    });
    if (!result.ok) samples.failures.push(`action, ${hostCount} host(s): ${result.why}`);
    else {
      samples.ms.action.push(result.ms);
      samples.timelines.push({ ms: result.ms, lines });
      samples.breakdowns.push(breakdown(result));
      samples.cpuMs.push(result.cost.cpuMs);
    }
    return `${formatMs(result.ms)}${result.ok ? '' : ' FAILED'}`;
  }
  const result =
    method === 'careful' ? await runCarefulScript(fleet, endpoints)
    : method === 'polling' ? await runCarefulScript(fleet, endpoints, true)
    : await runSshLoop(fleet, endpoints);
  if (!result.ok) samples.failures.push(`${method}, ${hostCount} host(s): ${result.why}`);
  else samples.ms[method].push(result.ms);
  // The loop does not wait for its reload: the next run must find steady hosts.
  await waitSteady(fleet, fleet.hosts.slice(0, hostCount));
  return `${formatMs(result.ms)}${result.ok ? '' : ' FAILED'}`;
}

async function measure(context: BenchContext, fleet: Fleet, hostCount: number, rounds: number): Promise<Samples> {
  const samples: Samples = { ms: { action: [], careful: [], polling: [], loop: [] }, failures: [], timelines: [], breakdowns: [], cpuMs: [] };
  for (let round = 0; round < rounds; round++) {
    const order = METHODS.map((_, i) => METHODS[(i + round) % METHODS.length]!);
    const said: string[] = [];
    for (const method of order) said.push(`${method} ${await runMethod(fleet, method, hostCount, samples)}`);
    context.log(`overhead, ${hostCount} host(s), round ${round + 1}/${rounds}: ${said.join(', ')}`);
  }
  return samples;
}

/** The action's output in its median run, with times: where the wall time goes. */
function medianTimeline(samples: Samples): string[] {
  const sorted = [...samples.timelines].sort((a, b) => a.ms - b.ms);
  return sorted[Math.floor((sorted.length - 1) / 2)]?.lines ?? [];
}

export const overhead: Benchmark = {
  name: 'overhead',
  async run(context) {
    const rounds = context.quick ? 2 : 5;
    const results = await withRig(async (rig) => {
      const fleet = await startFleet(rig, Math.max(...HOST_COUNTS));
      const measured = new Map<number, Samples>();
      for (const count of HOST_COUNTS) measured.set(count, await measure(context, fleet, count, rounds));
      return measured;
    });
    return report(results, rounds);
  },
};

function report(results: Map<number, Samples>, rounds: number): Section {
  const rows: string[][] = [];
  const goals: GoalRow[] = [];
  const series: Record<Method, { x: number; y: number }[]> = { action: [], careful: [], polling: [], loop: [] };
  for (const [count, samples] of results) {
    const m = { action: median(samples.ms.action), careful: median(samples.ms.careful), polling: median(samples.ms.polling), loop: median(samples.ms.loop) };
    const overScript = ratio(m.action, m.careful);
    rows.push([
      String(count),
      formatMs(m.action),
      formatMs(m.careful),
      formatRatio(overScript),
      formatMs(m.polling),
      formatRatio(ratio(m.action, m.polling)),
      formatMs(m.loop),
      formatRatio(ratio(m.action, m.loop)),
      `${samples.failures.length} of ${rounds * METHODS.length}`,
    ]);
    for (const method of METHODS) series[method].push({ x: count, y: m[method] / 1000 });
    if (count === 1 || count === 4) {
      goals.push({
        figure: `${count} host${count > 1 ? 's at once' : ''}: wall time ÷ careful script`,
        measured: formatRatio(overScript),
        goal: '≤ 1.10×',
        met: meets(overScript, GOAL),
      });
    }
  }
  const failures = [...results.values()].flatMap((s) => s.failures);
  const timeline = medianTimeline(results.get(1)!);
  const parts = [...results].map(([count, samples]) => [
    String(count),
    ...PARTS.map((part) => formatMs(median(samples.breakdowns.map((b) => b[part]).filter((v): v is number => v !== undefined)))),
    formatMs(median(samples.ms.action)),
    formatMs(median(samples.cpuMs)),
  ]);
  const body = [
    `Wall time of one deploy (one changed file) to N hosts, median of ${rounds} rounds; each round runs the four one after another in a rotating order. ` +
      '**action**: `node dist/index.cjs` with `settle: 0s` and `max-parallel: N`, every other input at its default, from spawn to exit. ' +
      '**careful script** (the yardstick the goals use): [`scripts/bench/careful-deploy.sh`](scripts/bench/careful-deploy.sh), on all N hosts at once: `rsync -a --delete --delay-updates` over OpenSSH, ' +
      "then one ssh session per host that notes the master's children (the kept group left out), sends `php start.php reload -g` and runs `pgrep -P <master>` on the host every 100 ms " +
      'until every old worker is gone and the count is back. ' +
      '**polling script**: the same script with `-P`, the earlier yardstick: the same rsync and reload, ' +
      'then a new ssh command every 100 ms to look (a handshake a poll). ' +
      '**ssh loop**: [`scripts/bench/ssh-loop.sh`](scripts/bench/ssh-loop.sh), host after host: `rsync -az --delete`, then `php start.php reload` over ssh, nothing verified ' +
      '(the next run waits until its hosts are steady again, outside the timing). Each host runs the example app (4 web, 2 gateway with `reloadable = false`, 1 task worker).',
    '',
    table(['hosts', 'action', 'careful script', 'action ÷ script', 'polling script', 'action ÷ polling', 'ssh loop', 'action ÷ loop', 'failed runs'], rows),
    '',
    ...(failures.length ? ['Failed runs (left out of the medians):', '', ...failures.map((f) => `- ${f}`), ''] : []),
    'Where the action’s wall time goes, from the phase times in its report (medians over the runs; a phase is the median over the hosts): ' +
      '*start-up* is spawn to the first phase (Node, inputs, the first connection), *wrap-up* the last phase’s end to the exit. ' +
      'CPU time is user + system of the action’s node process (rsync and the hosts’ processes not included), read from `/proc` while it runs.',
    '',
    table(['hosts', ...PARTS, 'wall time', 'CPU time of the action’s process'], parts),
    '',
    'The action’s output in its median 1-host run, with the time since spawn (debug lines left out):',
    '',
    '```',
    ...timeline,
    '```',
  ].join('\n');
  const svg = renderSvg({
    title: 'Deploy wall time against host count (median)',
    xLabel: 'hosts',
    yLabel: 'wall time (s)',
    series: [
      { name: 'action', points: series.action },
      { name: 'careful script', points: series.careful },
      { name: 'polling script', points: series.polling },
      { name: 'ssh loop', points: series.loop },
    ],
    formatY: (y) => `${Number(y.toFixed(2))} s`,
  });
  return {
    title: '1. Overhead: the action against a hand-written script',
    goals,
    body,
    figures: [{ file: 'overhead.svg', caption: 'wall time against host count for the action, the careful script and the ssh loop', svg }],
  };
}
