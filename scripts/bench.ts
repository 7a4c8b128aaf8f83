// npm run bench: figures the issues ask for, measured on the rig (root).
// - detection latency: from the last worker replaced (its start time in
//   /proc) to the watch seeing the complete picture, settle left out; at the
//   default poll settings. Target: median <= 300 ms.
// - crash-loop verdict: from the reload signal to the failure, against the
//   budget of settle plus one poll.
// Runs the engine in-process with the real SSH and rsync adapters, against
// real Workerman on one rig host (BENCH_WORKERMAN=4 for 4.2.1; default 5.2.2).
import { readFile } from 'node:fs/promises';
import { openTransport } from '../src/adapters/transport.js';
import { parseInputs } from '../src/engine/inputs.js';
import type { RolloutLog } from '../src/engine/ports.js';
import type { HostReport } from '../src/engine/report.js';
import { rolloutHost } from '../src/rollout/host-rollout.js';
import { realRolloutIO } from '../src/rollout/real-io.js';
import { Rig } from '../test/rig/rig.js';
import { WORKERMAN_RELEASES } from '../test/rig/workerman-vendor.js';
import { inputsFor, makeCrashingSource } from '../test/rig/scenario.js';

const RUNS = Number(process.env['BENCH_RUNS'] ?? 15);
const WORKERMAN = process.env['BENCH_WORKERMAN'] === '4' ? 4 : 5;

/** Boot time in epoch ms, to 10 ms (btime in /proc/stat is whole seconds, too coarse here). */
async function bootTimeMs(): Promise<number> {
  const uptime = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
  return Date.now() - uptime * 1000;
}

async function startedAtMs(pid: number, boot: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const ticks = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
  return boot + ticks * 10;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/**
 * One rollout through the engine with the real adapters; returns its report
 * and the time the first info line matching `mark` was printed.
 */
async function timedRollout(source: string, inputs: Record<string, string>, mark: RegExp): Promise<{ report: HostReport; markedAt: number }> {
  const plan = parseInputs((name) => ({ ...inputs, source })[name] ?? '');
  const transport = await openTransport(plan);
  let markedAt = 0;
  const log: RolloutLog = {
    info: (line) => {
      if (!markedAt && mark.test(line)) markedAt = Date.now();
    },
    warning: () => undefined,
    error: () => undefined,
    debug: () => undefined,
  };
  const report = await rolloutHost(plan.hosts[0]!, plan.rollout, realRolloutIO(transport, log));
  return { report, markedAt };
}

const rig = await Rig.create();
try {
  const host = await rig.addHost('bench', { workerman: WORKERMAN });
  await host.startMaster();
  console.log(`Workerman ${WORKERMAN_RELEASES[WORKERMAN]}, plain example app (4 web, 2 gateway, 1 task)`);
  const boot = await bootTimeMs();
  const defaults = { 'ignore-workers': 'gateway' };
  // Only the inputs a user must give; poll-interval, settle and status stay at their defaults.
  const { settle: _settle, timeout: _timeout, 'poll-interval': _poll, ...required } = inputsFor(rig, host, '');
  const latencies: number[] = [];

  for (let i = 0; i < RUNS; i++) {
    const { report, markedAt } = await timedRollout(await rig.makeSource(`v${i + 2}`, { workerman: WORKERMAN }), { ...required, ...defaults }, /workers replaced, settling/);
    if (!report.ok) throw new Error(`run ${i + 1} failed: ${report.error}`);
    const lastReplaced = Math.max(...(await Promise.all(report.workers!.map((w) => startedAtMs(w.pid, boot)))));
    latencies.push(markedAt - lastReplaced);
    process.stdout.write(`run ${i + 1}/${RUNS}: ${markedAt - lastReplaced} ms\n`);
  }
  const poll = parseInputs((name) => ({ ...required, source: '.' })[name] ?? '').rollout;
  console.log(
    `detection latency (last worker replaced -> complete picture seen), poll-interval ${poll.pollIntervalMs} ms, status ${poll.status}: ` +
      `median ${median(latencies)} ms, max ${Math.max(...latencies)} ms over ${RUNS} reloads (target: median <= 300 ms; start times have 10 ms resolution)`,
  );

  // Crash loop: time from the signal to the failure verdict.
  const { report, markedAt: signalled } = await timedRollout(await makeCrashingSource(rig, { workerman: WORKERMAN }), { ...required, ...defaults }, /reload signalled/);
  const verdictMs = Date.now() - signalled;
  console.log(
    `crash loop: ${report.reason} verdict ${verdictMs} ms after the signal (Workerman waits 1 s before a worker whose onWorkerStart threw exits); ` +
      `budget settle + one poll = ${poll.settleMs + poll.pollIntervalMs} ms`,
  );
} finally {
  await rig.destroy();
}
