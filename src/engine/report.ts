import type { Step, SyncSummary } from './ports.js';
import type { WorkerProcess } from './worker-snapshot.js';

export interface WorkerReplacement {
  readonly group: string;
  readonly oldPid: number;
}

/** One entry of the `report` output: what happened on one host, in plain data. */
export interface HostReport {
  readonly host: string;
  readonly ok: boolean;
  /** The step that failed, or 'done'. */
  readonly step: Step | 'done';
  readonly error?: string;
  /** Whether any file on the host may have changed. */
  readonly filesChanged: boolean;
  readonly sync?: SyncSummary;
  readonly masterPid?: number;
  readonly replaced?: readonly WorkerReplacement[];
  readonly workers?: readonly Pick<WorkerProcess, 'pid' | 'group'>[];
  readonly kept?: readonly Pick<WorkerProcess, 'pid' | 'group'>[];
  readonly stillOld?: readonly Pick<WorkerProcess, 'pid' | 'group'>[];
  readonly durationMs: number;
  readonly reloadMs?: number;
}
