/**
 * src/status/: turns what a host says into worker snapshots: this file (the
 * StatusSource each rollout polls), the resident probe's client, the http
 * status contract and the app log's tail. Imported by src/rollout/; it imports
 * src/engine/ and src/workerman/.
 */

import type { HostSnapshot } from '../engine/workers/worker-snapshot.js';

/** Where the worker facts of one host come from (input `status`). */
export interface StatusSource {
  /** One poll: one question to the resident probe. */
  snapshot(): Promise<HostSnapshot>;
  /** From now on, collect the app log: called right after the baseline, before the signal. */
  markSignal(): void;
  /** The app log written since markSignal, as far as it could be read. */
  logSinceSignal(): string;
  /** Ends the resident probe. */
  stop(): void;
}

/** The worker facts could not be read; not a StepError, so the rollout blames the step it was in. */
export class StatusSourceError extends Error {
  override name = 'StatusSourceError';
}
