import type { WorkerProcess } from '../engine/workers/worker-snapshot.js';

/**
 * The JSON an app serves for `status: http`:
 *   {"master_pid": 123, "workers": [{"pid": 456, "name": "web", "reloadable": true,
 *     "started_at": 1795238292, "revision": "abc123"}]}
 * Only workers[].pid is required; started_at is Unix seconds; reloadable
 * defaults to true.
 */
export interface HttpStatus {
  readonly masterPid?: number;
  readonly workers: readonly (Omit<WorkerProcess, 'startedAt' | 'group'> & { group?: string; startedAt?: number })[];
}

export class HttpStatusError extends Error {}

function fail(problem: string, body: string): never {
  throw new HttpStatusError(`the status-url answer is not the status JSON contract: ${problem}. It began: ${body.trim().slice(0, 200) || '(nothing)'}`);
}

export function parseHttpStatus(body: string): HttpStatus {
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    fail('not JSON', body);
  }
  if (typeof data !== 'object' || data === null || !Array.isArray((data as { workers?: unknown }).workers)) {
    fail('no "workers" array', body);
  }
  const { master_pid: masterPid, workers } = data as { master_pid?: unknown; workers: unknown[] };
  if (masterPid !== undefined && (!Number.isInteger(masterPid) || (masterPid as number) <= 0)) fail('"master_pid" is not a positive integer', body);
  return {
    ...(masterPid !== undefined ? { masterPid: masterPid as number } : {}),
    workers: workers.map((entry, index) => {
      if (typeof entry !== 'object' || entry === null) fail(`workers[${index}] is not an object`, body);
      const worker = entry as Record<string, unknown>;
      if (!Number.isInteger(worker['pid']) || (worker['pid'] as number) <= 0) fail(`workers[${index}].pid is not a positive integer`, body);
      if (worker['name'] !== undefined && typeof worker['name'] !== 'string') fail(`workers[${index}].name is not a string`, body);
      if (worker['reloadable'] !== undefined && typeof worker['reloadable'] !== 'boolean') fail(`workers[${index}].reloadable is not true or false`, body);
      if (worker['started_at'] !== undefined && typeof worker['started_at'] !== 'number') fail(`workers[${index}].started_at is not Unix seconds`, body);
      if (worker['revision'] !== undefined && typeof worker['revision'] !== 'string') fail(`workers[${index}].revision is not a string`, body);
      return {
        pid: worker['pid'] as number,
        ...(worker['name'] !== undefined ? { group: worker['name'] as string } : {}),
        reloadable: (worker['reloadable'] as boolean | undefined) ?? true,
        ...(worker['started_at'] !== undefined ? { startedAt: worker['started_at'] as number } : {}),
        ...(worker['revision'] !== undefined ? { revision: worker['revision'] as string } : {}),
      };
    }),
  };
}
