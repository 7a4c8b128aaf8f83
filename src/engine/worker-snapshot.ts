/**
 * What a host looks like at one instant. Times are the host's own uptime in
 * seconds (from /proc), so no clock on the runner is compared with a clock on
 * the host.
 */
export interface WorkerProcess {
  readonly pid: number;
  readonly group: string;
  readonly startedAt: number;
}

export interface MasterProcess {
  readonly pid: number;
  readonly startedAt: number;
}

export interface HostSnapshot {
  /** Host uptime, seconds, when the snapshot was taken. */
  readonly at: number;
  /** Every master found for this app: one when all is well. */
  readonly masters: readonly MasterProcess[];
  readonly workers: readonly WorkerProcess[];
}

export function countByGroup(workers: readonly WorkerProcess[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const worker of workers) counts.set(worker.group, (counts.get(worker.group) ?? 0) + 1);
  return counts;
}
