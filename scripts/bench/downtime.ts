// 4. Zero downtime: failed requests under short-connection HTTP load during
// a 3-host rolling deploy (one host at a time), for the action's reload modes
// auto, graceful and quick, and for a plain restart over ssh as the contrast
// (ssh-loop.sh with `restart -d`: rsync, then `php start.php restart -d`).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Benchmark } from './benchmark.js';
import { actionInputs, endpointsOf, nextVersion, runSshLoop, runTimedAction, startFleet, waitSteady, withRig, type Fleet } from './fleet.js';
import { startLoad, type LoadResult } from '../../test/rig/http-load.js';
import { table, type Section } from './markdown.js';
import { median } from './stats.js';

type Mode = 'auto' | 'graceful' | 'quick' | 'restart';
const MODES: readonly Mode[] = ['auto', 'graceful', 'quick', 'restart'];
/** Load before and after the deploy, so its first and last moments are covered. */
const MARGIN_MS = 300;

async function deploy(fleet: Fleet, mode: Mode): Promise<string> {
  const endpoints = endpointsOf(fleet.hosts);
  if (mode === 'restart') {
    const result = await runSshLoop(fleet, endpoints, 'restart -d');
    return result.ok ? '' : result.why;
  }
  const result = await runTimedAction(actionInputs(fleet, endpoints, { 'reload-mode': mode, 'max-parallel': '1' }));
  return result.ok ? '' : result.why;
}

async function measureOnce(fleet: Fleet, mode: Mode): Promise<{ load: LoadResult; why: string }> {
  await nextVersion(fleet);
  const load = startLoad(fleet.hosts.map((h) => h.app.httpPort));
  await sleep(MARGIN_MS);
  const why = await deploy(fleet, mode);
  // A restart returns once the new master is up; its workers may still be starting.
  if (mode === 'restart') await waitSteady(fleet).catch(() => undefined);
  await sleep(MARGIN_MS);
  const result = await load.stop();
  await waitSteady(fleet);
  return { load: result, why };
}

export const downtime: Benchmark = {
  name: 'downtime',
  async run(context) {
    const rounds = context.quick ? 1 : 2;
    const results: Record<Mode, LoadResult[]> = { auto: [], graceful: [], quick: [], restart: [] };
    const failures: string[] = [];
    await withRig(async (rig) => {
      const fleet = await startFleet(rig, 3);
      for (let round = 0; round < rounds; round++) {
        for (const mode of MODES.map((_, i) => MODES[(i + round) % MODES.length]!)) {
          const { load, why } = await measureOnce(fleet, mode);
          if (why) failures.push(`${mode}, round ${round + 1}: ${why}`);
          else results[mode].push(load);
          context.log(
            `downtime round ${round + 1}/${rounds}, ${mode}: ${load.failed} failed of ${load.ok + load.failed}${why ? ` (deploy FAILED: ${why})` : ''}`,
          );
        }
      }
    });
    return report(results, failures, rounds);
  },
};

function report(results: Record<Mode, LoadResult[]>, failures: readonly string[], rounds: number): Section {
  const labels: Record<Mode, string> = {
    auto: 'action, `reload-mode: auto`',
    graceful: 'action, `reload-mode: graceful`',
    quick: 'action, `reload-mode: quick`',
    restart: 'plain restart over ssh (`php start.php restart -d`)',
  };
  const rows = MODES.map((mode) => {
    const runs = results[mode];
    const why: Record<string, number> = {};
    for (const run of runs) for (const [kind, n] of Object.entries(run.why)) why[kind] = (why[kind] ?? 0) + n;
    return [
      labels[mode],
      String(runs.length),
      String(runs.reduce((sum, r) => sum + r.ok + r.failed, 0)),
      String(runs.reduce((sum, r) => sum + r.failed, 0)),
      String(median(runs.map((r) => r.failed))),
      Object.entries(why)
        .map(([kind, n]) => `${kind} ×${n}`)
        .join(', ') || '–',
    ];
  });
  const autoFailed = results.auto.reduce((sum, r) => sum + r.failed, 0);
  return {
    title: '4. Zero downtime',
    goals: [
      {
        figure: 'failed requests during 3-host rollouts, reload-mode auto',
        measured: `${autoFailed} in ${results.auto.length} rollout(s)`,
        goal: '0',
        met: results.auto.length ? autoFailed === 0 : null,
      },
    ],
    body: [
      `Three hosts, deployed one at a time (\`max-parallel: 1\`, \`settle: 0s\`), ${rounds} round(s), the four ways interleaved. ` +
        `Throughout each deploy (from ${MARGIN_MS} ms before to ${MARGIN_MS} ms after) two loops per host send \`GET /\` on a new TCP connection each ` +
        '(`Connection: close`, 2 ms apart, 2 s timeout) to the web workers; a request fails when it is refused, reset, times out or is not answered 200.',
      '',
      table(['deploy', 'rollouts', 'requests', 'failed', 'failed per rollout (median)', 'how they failed'], rows),
      ...(failures.length ? ['', 'Deploys that failed (left out):', '', ...failures.map((f) => `- ${f}`)] : []),
    ].join('\n'),
    figures: [],
  };
}
