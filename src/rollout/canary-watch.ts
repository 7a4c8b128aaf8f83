import { setTimeout as realSleep } from 'node:timers/promises';
import type { HostReport } from '../engine/report/report.js';
import type { HostSnapshot } from '../engine/workers/worker-snapshot.js';
import type { PreparedHost } from './host-rollout.js';

/** Master and worker PIDs: any change while nobody is deploying is a worker (or master) that died. */
function picture(snapshot: HostSnapshot): string {
  return `${snapshot.masters.map((master) => master.pid).join(',')}|${snapshot.workers
    .map((worker) => worker.pid)
    .sort((a, b) => a - b)
    .join(',')}`;
}

/**
 * canary: true: after the canary's reload is proven, keep watching its
 * workers for canary-settle, so code that dies late (a timer, the first
 * real request) is caught before the fleet gets it.
 */
export async function watchCanary(prepared: PreparedHost, report: HostReport, settleMs: number): Promise<HostReport> {
  const { run, checked } = prepared;
  const sleep = run.io.sleep ?? realSleep;
  run.io.log.info(`${run.label}: canary: watching its workers for ${settleMs / 1000} s before the other hosts`);
  const first = await checked.source.snapshot();
  const deadline = run.now() + settleMs;
  while (run.now() < deadline) {
    await sleep(Math.min(run.settings.pollIntervalMs, Math.max(0, deadline - run.now())));
    const now = await checked.source.snapshot();
    if (picture(now) !== picture(first)) {
      return {
        ...report,
        ok: false,
        step: 'verify',
        reason: 'canary-died',
        error: `the canary's workers changed while it was watched for canary-settle (${picture(first)} -> ${picture(now)}): the new code dies late; the other hosts were not touched`,
      };
    }
  }
  return report;
}
