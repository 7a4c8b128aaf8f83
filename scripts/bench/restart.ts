// 7. Restart: what a master-level change costs the app's users. One host
// (Workerman 5, then 4) with an idle keep-alive client and a 10 ms probe:
// the action with default inputs against plain `php start.php restart -d`
// over ssh. Then three hosts behind a real HAProxy under short-connection
// load: the action with drain-command (max-parallel 1) against the plain
// restart loop, which has no way to drain.
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HaProxy } from '../../test/rig/haproxy.js';
import { startLoad } from '../../test/rig/http-load.js';
import type { Rig, TestHost, WorkermanMajor } from '../../test/rig/rig.js';
import type { Benchmark, BenchContext } from './benchmark.js';
import { actionInputs, endpointsOf, runSshLoop, runTimedAction, waitSteady, withRig, type Fleet } from './fleet.js';
import { table, type GoalRow, type Section } from './markdown.js';
import { formatMs, meets, median } from './stats.js';
import { startUnservedProbe, type UnservedResult } from './unserved-probe.js';

/** Probe before and after the deploy, so its first and last moments are covered. */
const MARGIN_MS = 300;
const WINDOW_GOAL = { atMost: 1000 };
const ROLLOUT_GOAL = { atMost: 15_000 };

type Way = 'action' | 'plain';

interface Alone {
  readonly major: WorkermanMajor;
  readonly way: Way;
  readonly probe: UnservedResult;
  readonly rolloutMs: number;
  /** The action's own figure (restartCost.unservedMs). */
  readonly reportedMs: number | null;
}

let edits = 0;
/** A master-level change: new content in the start file. */
async function changeStartFile(source: string): Promise<void> {
  await appendFile(join(source, 'start.php'), `\n// bench restart ${++edits}\n`);
}

async function fleetOf(rig: Rig, hosts: TestHost[], workerman: WorkermanMajor): Promise<Fleet> {
  const source = await rig.makeSource('v1', { workerman });
  const knownHostsFile = join(rig.dir, `restart-known-hosts-${workerman}-${hosts.length}`);
  await writeFile(knownHostsFile, '');
  return { rig, hosts, source, knownHostsFile, workersPerHost: (await hosts[0]!.workers()).length };
}

/** The action with default inputs, or the plain restart; throws when the deploy fails (its figures would mean nothing). */
async function restartOnce(fleet: Fleet, way: Way, extra: Record<string, string> = {}): Promise<{ ms: number; reportedMs: number | null }> {
  const endpoints = endpointsOf(fleet.hosts);
  if (way === 'plain') {
    const started = performance.now();
    const result = await runSshLoop(fleet, endpoints, 'restart -d');
    if (!result.ok) throw new Error(`plain restart failed: ${result.why}`);
    await waitSteady(fleet);
    return { ms: performance.now() - started, reportedMs: null };
  }
  // Default inputs: only where and how to connect (actionInputs' settle 0s put back to the default).
  const result = await runTimedAction(actionInputs(fleet, endpoints, { settle: '5s', 'max-parallel': '1', ...extra }));
  if (!result.ok) throw new Error(`action failed: ${result.why}`);
  if (result.reports.some((report) => report.action !== 'restart')) throw new Error('the action did not restart');
  const reported = result.reports.map((report) => report.restartCost?.unservedMs ?? null).filter((ms): ms is number => ms !== null);
  return { ms: result.ms, reportedMs: reported.length ? Math.max(...reported) : null };
}

async function measureAlone(context: BenchContext, rounds: number): Promise<Alone[]> {
  const results: Alone[] = [];
  await withRig(async (rig) => {
    for (const major of [5, 4] as const) {
      const host = await rig.addHost(`restart-${major}`, { workerman: major });
      await host.startMaster();
      const fleet = await fleetOf(rig, [host], major);
      for (let round = 0; round < rounds; round++) {
        for (const way of (round % 2 ? ['plain', 'action'] : ['action', 'plain']) as Way[]) {
          await changeStartFile(fleet.source);
          const probe = await startUnservedProbe(host.app.httpPort, { idle: true });
          await sleep(MARGIN_MS);
          const { ms, reportedMs } = await restartOnce(fleet, way);
          await sleep(MARGIN_MS);
          const result = await probe.stop();
          results.push({ major, way, probe: result, rolloutMs: ms, reportedMs });
          context.log(
            `restart, Workerman ${major}, ${way}: unserved ${formatMs(result.longestGapMs)}, ${result.failed} failed of ${result.requests}, ${formatMs(ms)}`,
          );
        }
      }
    }
  });
  return results;
}

interface Behind {
  readonly way: Way;
  readonly ok: number;
  readonly failed: number;
  readonly why: Readonly<Record<string, number>>;
}

async function measureBehindProxy(context: BenchContext, rounds: number): Promise<Behind[]> {
  const results: Behind[] = [];
  await withRig(async (rig) => {
    const hosts: TestHost[] = [];
    for (let n = 1; n <= 3; n++) hosts.push(await rig.addHost(`lb${n}`));
    for (const host of hosts) await host.startMaster();
    const fleet = await fleetOf(rig, hosts, 5);
    const proxy = await HaProxy.start(hosts.map((host) => host.app.httpPort));
    try {
      const drain = { 'drain-command': proxy.stateCommand('maint'), 'undrain-command': proxy.stateCommand('ready') };
      for (let round = 0; round < rounds; round++) {
        for (const way of ['action', 'plain'] as Way[]) {
          await changeStartFile(fleet.source);
          const load = startLoad([proxy.port], { perPort: 2, pauseMs: 2, maxMs: 120_000 });
          await sleep(MARGIN_MS);
          await restartOnce(fleet, way, drain);
          await sleep(MARGIN_MS);
          const result = await load.stop();
          results.push({ way, ...result });
          context.log(`restart behind HAProxy, ${way}: ${result.failed} failed of ${result.ok + result.failed}`);
        }
      }
    } finally {
      await proxy.stop();
    }
  });
  return results;
}

export const restart: Benchmark = {
  name: 'restart',
  async run(context) {
    const rounds = context.quick ? 1 : 3;
    const alone = await measureAlone(context, rounds);
    const behind = await measureBehindProxy(context, context.quick ? 1 : 2);
    return report(alone, behind, rounds);
  },
};

function report(alone: readonly Alone[], behind: readonly Behind[], rounds: number): Section {
  const pick = (major: WorkermanMajor, way: Way) => alone.filter((run) => run.major === major && run.way === way);
  const worst = (runs: readonly Alone[]) => (runs.length ? Math.max(...runs.map((run) => run.probe.longestGapMs)) : Number.NaN);
  const goals: GoalRow[] = [];
  const rows: string[][] = [];
  for (const major of [5, 4] as const) {
    const action = pick(major, 'action');
    const slowest = action.length ? Math.max(...action.map((run) => run.rolloutMs)) : Number.NaN;
    goals.push({
      figure: `restart, Workerman ${major}, one idle keep-alive client: longest unserved window (worst of ${action.length})`,
      measured: formatMs(worst(action)),
      goal: '≤ 1.0 s',
      met: meets(worst(action), WINDOW_GOAL),
    });
    goals.push({
      figure: `restart, Workerman ${major}: rollout with default inputs (slowest of ${action.length})`,
      measured: formatMs(slowest),
      goal: '≤ 15 s',
      met: meets(slowest, ROLLOUT_GOAL),
    });
    for (const way of ['action', 'plain'] as Way[]) {
      const runs = pick(major, way);
      rows.push([
        `Workerman ${major}`,
        way === 'action' ? 'the action, default inputs' : 'plain `php start.php restart -d` over ssh',
        String(runs.length),
        formatMs(median(runs.map((run) => run.probe.longestGapMs))),
        formatMs(worst(runs)),
        String(runs.reduce((sum, run) => sum + run.probe.failed, 0)),
        way === 'action' ? formatMs(median(runs.map((run) => run.reportedMs ?? Number.NaN))) : '–',
        formatMs(median(runs.map((run) => run.rolloutMs))),
      ]);
    }
  }
  const drained = behind.filter((run) => run.way === 'action');
  const drainedFailed = drained.reduce((sum, run) => sum + run.failed, 0);
  goals.push({
    figure: 'restart of 3 hosts behind HAProxy with drain-command: failed requests',
    measured: `${drainedFailed} in ${drained.length} rollout(s)`,
    goal: '0',
    met: drained.length ? drainedFailed === 0 : null,
  });
  const proxyRows = (['action', 'plain'] as Way[]).map((way) => {
    const runs = behind.filter((run) => run.way === way);
    const why: Record<string, number> = {};
    for (const run of runs) for (const [kind, n] of Object.entries(run.why)) why[kind] = (why[kind] ?? 0) + n;
    return [
      way === 'action' ? 'the action, `drain-command` + `undrain-command`, `max-parallel: 1`' : 'plain `restart -d` loop over ssh (no drain)',
      String(runs.length),
      String(runs.reduce((sum, run) => sum + run.ok + run.failed, 0)),
      String(runs.reduce((sum, run) => sum + run.failed, 0)),
      Object.entries(why)
        .map(([kind, n]) => `${kind} ×${n}`)
        .join(', ') || '–',
    ];
  });
  return {
    title: '7. Restart',
    goals,
    body: [
      `A master-level change (a new line in \`start.php\`) on one host, ${rounds} round(s) a way, the two ways alternating. ` +
        `Throughout each deploy (from ${MARGIN_MS} ms before to ${MARGIN_MS} ms after), one idle HTTP keep-alive client stays open (a browser tab) and a probe sends ` +
        '`GET /` on a new connection every 10 ms (1 s timeout). The unserved window is the longest time between two answered probes. ' +
        'The action runs with default inputs (settle 5 s); the plain restart is rsync, then `php start.php restart -d` over ssh, then a wait until the workers are steady.',
      '',
      table(
        [
          'Workerman',
          'restart',
          'runs',
          'unserved (median)',
          'unserved (worst)',
          'probes failed',
          "the action's own `restartCost.unservedMs` (median)",
          'deploy (median)',
        ],
        rows,
      ),
      '',
      'Three hosts behind a real HAProxy 2.6 on loopback (`retries 0`, no redispatch: a request sent to a stopped host fails), two loops sending `GET /` on new connections through it (2 ms apart); ' +
        "the action drains each host through HAProxy's admin socket (`set server app/webN state maint`, then `ready`) one host at a time.",
      '',
      table(['deploy', 'rollouts', 'requests', 'failed', 'how they failed'], proxyRows),
    ].join('\n'),
    figures: [],
  };
}
