// 5. Scale: 32 hosts, each a small Workerman app (one worker per group).
// One deploy per max-parallel setting: wall time, the action's peak memory
// (VmHWM of its node process, polled from /proc while it runs) and SSH
// connections per host (counted by each host's sshd at LogLevel VERBOSE). The
// careful script on all 32 hosts at once is run too, for reference.
import type { Benchmark } from './benchmark.js';
import {
  actionInputs,
  connectionsLogged,
  endpointsOf,
  nextVersion,
  runCarefulScript,
  runTimedAction,
  startFleet,
  waitSteady,
  withRig,
  type Fleet,
} from './fleet.js';
import { table, type Section } from './markdown.js';
import { formatMs, formatRatio, meets, median, ratio } from './stats.js';
import { renderSvg } from './svg.js';

const HOSTS = 32;
const MEMORY_GOAL = { atMost: 200 };
const CONNECTIONS_GOAL = { atMost: 1 };

interface Run {
  readonly label: string;
  readonly maxParallel: number | null;
  readonly ms: number;
  /** The action's node process: peak memory (MiB) and CPU time; NaN for the script. */
  readonly peakMiB: number;
  readonly cpuMs: number;
  /** Per host, sorted. */
  readonly connections: readonly number[];
  readonly why: string;
}

/** Runs a deploy and counts the connections each host's sshd saw meanwhile. */
async function countingConnections<T>(fleet: Fleet, deploy: () => Promise<T>): Promise<{ result: T; connections: number[] }> {
  const before = fleet.hosts.map(connectionsLogged);
  const result = await deploy();
  const connections = fleet.hosts.map((host, i) => connectionsLogged(host) - before[i]!).sort((a, b) => a - b);
  return { result, connections };
}

async function actionRun(fleet: Fleet, maxParallel: number): Promise<Run> {
  await nextVersion(fleet);
  const { result, connections } = await countingConnections(fleet, () =>
    runTimedAction(actionInputs(fleet, endpointsOf(fleet.hosts), { 'max-parallel': String(maxParallel) })),
  );
  return {
    label: `action, max-parallel ${maxParallel}`,
    maxParallel,
    ms: result.ms,
    peakMiB: result.cost.peakMiB,
    cpuMs: result.cost.cpuMs,
    connections,
    why: result.ok ? '' : result.why,
  };
}

async function scriptRun(fleet: Fleet): Promise<Run> {
  await nextVersion(fleet);
  const { result, connections } = await countingConnections(fleet, () => runCarefulScript(fleet, endpointsOf(fleet.hosts)));
  await waitSteady(fleet);
  return {
    label: `careful script, ${HOSTS} hosts at once`,
    maxParallel: null,
    ms: result.ms,
    peakMiB: Number.NaN,
    cpuMs: Number.NaN,
    connections,
    why: result.why,
  };
}

export const scale: Benchmark = {
  name: 'scale',
  async run(context) {
    const settings = context.quick ? [32, 8] : [32, 16, 8, 4, 1];
    const runs: Run[] = [];
    await withRig(async (rig) => {
      const fleet = await startFleet(rig, HOSTS, { small: true, logLevel: 'VERBOSE' });
      context.log(`scale: ${HOSTS} hosts up, ${fleet.workersPerHost} workers each`);
      for (const maxParallel of settings) {
        const run = await actionRun(fleet, maxParallel);
        runs.push(run);
        context.log(
          `scale, max-parallel ${maxParallel}: ${formatMs(run.ms)}, peak ${run.peakMiB.toFixed(0)} MiB, connections per host ${median(run.connections)}${run.why ? `, FAILED: ${run.why}` : ''}`,
        );
      }
      const script = await scriptRun(fleet);
      runs.push(script);
      context.log(
        `scale, careful script: ${formatMs(script.ms)}, connections per host ${median(script.connections)}${script.why ? `, FAILED: ${script.why}` : ''}`,
      );
    });
    return report(runs);
  },
};

function report(runs: readonly Run[]): Section {
  const action = runs.filter((r) => r.maxParallel !== null).sort((a, b) => a.maxParallel! - b.maxParallel!);
  const ok = action.filter((r) => !r.why);
  const oneAtATime = action.find((r) => r.maxParallel === 1 && !r.why);
  const peak = Math.max(...ok.map((r) => r.peakMiB).filter(Number.isFinite));
  const perHost = ok.flatMap((r) => r.connections);
  const connectionsMax = perHost.length ? Math.max(...perHost) : Number.NaN;
  const rows = [...action, ...runs.filter((r) => r.maxParallel === null)].map((r) => [
    r.label,
    r.why ? `FAILED: ${r.why}` : formatMs(r.ms),
    formatRatio(ratio(r.ms, oneAtATime?.ms ?? Number.NaN)),
    Number.isFinite(r.peakMiB) ? `${r.peakMiB.toFixed(0)} MiB` : '–',
    formatMs(r.cpuMs),
    r.connections.length ? `${median([...r.connections])} (${r.connections[0]}–${r.connections[r.connections.length - 1]})` : '–',
  ]);
  const svg = renderSvg({
    title: `Action wall time on ${HOSTS} hosts against max-parallel`,
    xLabel: 'max-parallel',
    yLabel: 'wall time (s)',
    xScale: 'log2',
    series: [
      { name: 'action', points: ok.map((r) => ({ x: r.maxParallel!, y: r.ms / 1000 })) },
      // The script runs every host at once: its one point stands at 32.
      { name: 'careful script, all at once', points: runs.filter((r) => r.maxParallel === null && !r.why).map((r) => ({ x: HOSTS, y: r.ms / 1000 })) },
    ],
    formatY: (y) => `${Number(y.toFixed(1))} s`,
  });
  return {
    title: '5. Scale: 32 hosts',
    goals: [
      {
        figure: `${HOSTS} hosts: the action’s peak RSS`,
        measured: Number.isFinite(peak) ? `${peak.toFixed(0)} MiB` : '–',
        goal: '≤ 200 MB',
        met: meets(peak, MEMORY_GOAL),
      },
      {
        figure: 'SSH connections per host per rollout (most any host saw)',
        measured: Number.isFinite(connectionsMax) ? String(connectionsMax) : '–',
        goal: '1',
        met: meets(connectionsMax, CONNECTIONS_GOAL),
      },
    ],
    body: [
      `${HOSTS} hosts, each running the example app cut to one worker per group (web, gateway, task), deployed once per \`max-parallel\` setting ` +
        '(settle `0s`, one changed file; one run each, so read the trend, not the digits). Peak memory (VmHWM) and CPU time (user + system) of the ' +
        'action’s node process are read from `/proc` every 20 ms while it runs. Connections are the `Connection from` lines each host’s sshd logged during the deploy.',
      '',
      table(['deploy', 'wall time', '÷ max-parallel 1', 'peak RSS', 'CPU time of the action’s process', 'SSH connections per host: median (min–max)'], rows),
    ].join('\n'),
    figures: [{ file: 'scale.svg', caption: `action wall time on ${HOSTS} hosts against max-parallel`, svg }],
  };
}
