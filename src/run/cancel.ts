/**
 * A run's two-stage cancel, shared by the action (the runner's SIGINT) and
 * the command-line tool (Ctrl-C): the first asks no new host to start and
 * gives the hosts in flight CANCEL_SETTLE_MS to settle before they stop
 * watching; what the second does (end at once) is each caller's own.
 */

/** How long the hosts in flight get, after the first cancel, before they stop watching and release their locks. */
export const CANCEL_SETTLE_MS = 4000;

export interface TwoStageCancel {
  /** Aborted at the first cancel: no new host starts. */
  readonly cancelled: AbortSignal;
  /** Aborted CANCEL_SETTLE_MS after the first cancel: the hosts in flight stop watching. */
  readonly watchesEnd: AbortSignal;
  /** The first stage: true when it began now, false when the run was already cancelled (the caller stops at once). */
  begin(): boolean;
}

export function twoStageCancel(): TwoStageCancel {
  const cancellation = new AbortController();
  const watchesEnd = new AbortController();
  return {
    cancelled: cancellation.signal,
    watchesEnd: watchesEnd.signal,
    begin() {
      if (cancellation.signal.aborted) return false;
      cancellation.abort();
      setTimeout(() => watchesEnd.abort(), CANCEL_SETTLE_MS).unref();
      return true;
    },
  };
}
