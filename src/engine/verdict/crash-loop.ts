import type { HostSnapshot } from '../workers/worker-snapshot.js';

/**
 * The crash-loop rule. New code that dies in onWorkerStart makes the master
 * fork worker after worker, each dying again; the reload still "completes"
 * (no old PID is left) while nothing serves. Two crash exits of new workers
 * since the signal are enough to call it: one could be bad luck, two of the
 * same code are a loop, and waiting for more only keeps the app down longer.
 */
export const CRASH_LIMIT = 2;

/**
 * Crash exits since the signal in the replaced groups: the larger of the
 * source's own count (Workerman's exit_count, which skips quick mode's
 * SIGKILL) and the new workers seen vanishing between polls.
 */
export function crashesSinceSignal(
  baseline: ReadonlyMap<string, number> | undefined,
  snapshot: Pick<HostSnapshot, 'crashExits'>,
  newWorkersGone: number,
  replacedGroups: ReadonlySet<string>,
): number {
  let counted = 0;
  if (snapshot.crashExits && baseline) {
    for (const [group, count] of snapshot.crashExits) {
      if (replacedGroups.has(group)) counted += Math.max(0, count - (baseline.get(group) ?? 0));
    }
  }
  return Math.max(counted, newWorkersGone);
}

export function isCrashLoop(crashes: number, limit = CRASH_LIMIT): boolean {
  return crashes >= limit;
}
