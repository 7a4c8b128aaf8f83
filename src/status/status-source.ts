import type { HostSnapshot } from '../engine/worker-snapshot.js';
import type { StatusReport } from '../workerman/status-table.js';

/** Where the worker facts of one host come from (input `status`). */
export interface StatusSource {
  /** One poll: one short remote command. */
  snapshot(): Promise<HostSnapshot>;
  /** Workerman's status table, read now (source `workerman` only; it takes a second). */
  readTable(): Promise<StatusReport>;
  /** From now on, collect the app log: called right after the baseline, before the signal. */
  markSignal(): void;
  /** The app log written since markSignal, as far as it could be read. */
  logSinceSignal(): string;
  /** Ends background work (the status-table lane). */
  stop(): void;
}

/** The worker facts could not be read; not a StepError, so the rollout blames the step it was in. */
export class StatusSourceError extends Error {
  override name = 'StatusSourceError';
}
