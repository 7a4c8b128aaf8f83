// Short-connection HTTP load on loopback: every request on a new TCP
// connection (Connection: close), a few at a time per host, bounded in count
// and time. Counts what was answered and what failed, and how.
import { request } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

export interface LoadResult {
  readonly ok: number;
  readonly failed: number;
  /** Failures by kind: ECONNREFUSED, ECONNRESET, timeout, HTTP 502... */
  readonly why: Readonly<Record<string, number>>;
}

export interface Load {
  stop(): Promise<LoadResult>;
}

const REQUEST_TIMEOUT_MS = 2000;

/** One GET / on a fresh connection; resolves with null when answered 200 in full, else with why not. */
function get(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, headers: { connection: 'close' }, timeout: REQUEST_TIMEOUT_MS }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode === 200 ? null : `HTTP ${response.statusCode}`));
      response.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    });
    req.on('timeout', () => req.destroy(Object.assign(new Error('timeout'), { code: 'timeout' })));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    req.end();
  });
}

/**
 * Starts `perPort` request loops against each port, each pausing `pauseMs`
 * between requests, until stopped, `maxMs` passed or `maxRequests` were sent.
 */
export function startLoad(ports: readonly number[], options: { perPort?: number; pauseMs?: number; maxMs?: number; maxRequests?: number } = {}): Load {
  const { perPort = 2, pauseMs = 2, maxMs = 120_000, maxRequests = 100_000 } = options;
  const deadline = Date.now() + maxMs;
  let stopped = false;
  let ok = 0;
  let failed = 0;
  const why: Record<string, number> = {};
  const loop = async (port: number) => {
    while (!stopped && Date.now() < deadline && ok + failed < maxRequests) {
      const failure = await get(port);
      if (failure === null) ok++;
      else {
        failed++;
        why[failure] = (why[failure] ?? 0) + 1;
      }
      await sleep(pauseMs);
    }
  };
  const loops = ports.flatMap((port) => Array.from({ length: perPort }, () => loop(port)));
  return {
    async stop() {
      stopped = true;
      await Promise.all(loops);
      return { ok, failed, why };
    },
  };
}
