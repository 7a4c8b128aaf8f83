import type { WorkerProcess } from '../workers/worker-snapshot.js';

/**
 * Even with no settle, a new worker counts only once it has been seen alive
 * at an age of at least one poll interval: code that dies right after it
 * starts (a fatal error in onWorkerStart) must get the chance to show it.
 * Measured from the youngest worker's start, not from when it was first
 * seen, so the look that proves it can come as soon as that age is reached.
 *
 * Returns 0 when every worker is old enough, else how many ms until the
 * youngest is. Times are the host's, in seconds, as in a HostSnapshot.
 */
export function confirmationDueInMs(workers: readonly Pick<WorkerProcess, 'startedAt'>[], at: number, confirmAgeMs: number): number {
  if (workers.length === 0) return 0;
  const youngest = Math.max(...workers.map((worker) => worker.startedAt));
  return Math.max(0, Math.ceil(confirmAgeMs - Math.round((at - youngest) * 1000)));
}
