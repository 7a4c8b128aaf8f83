/**
 * src/engine/workers/: what a host's workers are: this file (a snapshot of
 * its processes at one instant) and the app's worker definitions. The
 * vocabulary the plan, the verdict, the status sources and the rollout share;
 * it imports nothing outside src/engine/.
 */

/**
 * What a host looks like at one instant, whatever the status source. Times
 * are on the host's own clock (the process source uses uptime, the http source
 * Unix time), never compared with the runner's clock.
 */
export interface WorkerProcess {
  readonly pid: number;
  readonly group: string;
  /** The listen address from the process title (`none` when it does not listen), where the source shows it. */
  readonly listen?: string;
  readonly startedAt: number;
  /** False when the source reports the worker's group as not reloadable. */
  readonly reloadable?: boolean;
  /** The code revision the worker reports, where the source knows it. */
  readonly revision?: string;
  /** Open connections, where the source knows them (null: the worker was too busy to say). */
  readonly connections?: number | null;
  /** What the worker is doing, as the source says it (idle, busy, or a /proc state). */
  readonly activity?: string;
}

export interface MasterProcess {
  readonly pid: number;
  /** Host time it started, where the source knows it. */
  readonly startedAt?: number;
}

export interface HostSnapshot {
  /** Host time, seconds, when the snapshot was taken. */
  readonly at: number;
  /** Every master found for this app: one when all is well. */
  readonly masters: readonly MasterProcess[];
  readonly workers: readonly WorkerProcess[];
  /** Crash exits (non-zero, not SIGKILL) per group since the master started, where the source counts them. */
  readonly crashExits?: ReadonlyMap<string, number>;
  /** Host time when the figures in crashExits were taken; they lag the PIDs. */
  readonly crashExitsAt?: number;
  /** No master of this start file, but masters of a start file of the same name elsewhere (a switched symlink release). */
  readonly elsewhere?: readonly { readonly pid: number; readonly startFile: string }[];
  /** Whether the app log shows the master started a reload after our signal; undefined when no log is readable. */
  readonly reloadStarted?: boolean;
}

export function countByGroup(workers: readonly WorkerProcess[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const worker of workers) counts.set(worker.group, (counts.get(worker.group) ?? 0) + 1);
  return counts;
}

export function describeWorker(worker: Pick<WorkerProcess, 'pid' | 'group'>): string {
  return `${worker.group}:${worker.pid}`;
}

/** `web:123 (idle, 1 open connection(s))`: a worker and what it is doing, as far as the source knows. */
export function describeWorkerState(worker: WorkerProcess): string {
  const connections =
    worker.connections === undefined ? undefined
    : worker.connections === null ? 'connections unknown'
    : `${worker.connections} open connection(s)`;
  const doing = [worker.activity, connections].filter((part) => part !== undefined).join(', ');
  return `${describeWorker(worker)}${doing ? ` (${doing})` : ''}`;
}

export function describeWorkerStates(workers: readonly WorkerProcess[]): string {
  return workers.map(describeWorkerState).join(', ');
}
