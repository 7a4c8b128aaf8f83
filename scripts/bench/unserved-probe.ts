// The user's view of a restart: a new TCP connection with `GET /` every
// 10 ms (1 s timeout), as a browser opening pages would, plus one idle
// keep-alive client (a browser tab) that stays open. Bounded in count and time.
import { request } from 'node:http';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { keepAliveClient } from '../../test/rig/scenario.js';

export interface UnservedResult {
  readonly requests: number;
  readonly failed: number;
  /** The longest time between two answered requests (completion to completion): how long the port was unserved. */
  readonly longestGapMs: number;
}

const EVERY_MS = 10;
const TIMEOUT_MS = 1000;
const MAX_MS = 120_000;

function get(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, headers: { connection: 'close' }, timeout: TIMEOUT_MS }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode === 200));
      response.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

/** Starts probing `port`; `idle` opens the keep-alive client first. */
export async function startUnservedProbe(port: number, options: { idle?: boolean } = {}): Promise<{ stop(): Promise<UnservedResult> }> {
  const idle: Socket | undefined = options.idle ? await keepAliveClient(port) : undefined;
  const started = performance.now();
  const answered: number[] = [];
  const pending: Promise<void>[] = [];
  let failed = 0;
  let stopped = false;
  const loop = (async () => {
    while (!stopped && performance.now() - started < MAX_MS) {
      pending.push(get(port).then((ok) => (ok ? void answered.push(performance.now()) : void failed++)));
      await sleep(EVERY_MS);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      await Promise.all(pending);
      idle?.destroy();
      const times = answered.sort((a, b) => a - b);
      let longestGapMs = 0;
      for (let i = 1; i < times.length; i++) longestGapMs = Math.max(longestGapMs, times[i]! - times[i - 1]!);
      return { requests: pending.length, failed, longestGapMs };
    },
  };
}
