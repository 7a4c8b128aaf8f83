/**
 * How a host's rollout fails: the step it was in and what that means for the
 * host's files. Not a port's error: steps throw it (and the sync adapter,
 * which knows whether rsync reached the host), the fleet reads it.
 */

/** Steps of one host's rollout, named in every failure so a reader knows what was (not) changed. */
export type Step =
  'connect' | 'host-key' | 'auth' | 'lock' | 'preflight' | 'sync' | 'before-reload' | 'drain' | 'signal' | 'verify' | 'restart' | 'after-reload' | 'rollback';

export class StepError extends Error {
  /**
   * What the failing step knows about the host's files, when it knows more
   * than its step implies: false when it certainly changed none (rsync never
   * reached the host), true when some may have changed.
   */
  readonly filesMayHaveChanged: boolean | undefined;

  constructor(
    readonly step: Step,
    message: string,
    options?: { cause?: unknown; filesMayHaveChanged?: boolean },
  ) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StepError';
    this.filesMayHaveChanged = options?.filesMayHaveChanged;
  }
}
