/**
 * The engine's only ways out: a shell on the host, a file sync and a log.
 * Adapters (node-ssh, rsync, the GitHub runner, a terminal) implement them,
 * so the engine runs the same under an action, a CLI or a test.
 */

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

export interface RemoteShell {
  /** Runs one command line (already quoted) on the host; rejects with RemoteCommandTimeout when it hangs. */
  run(command: string, options?: { timeoutMs?: number }): Promise<CommandResult>;
  close(): Promise<void>;
}

export interface SyncSummary {
  readonly filesTransferred: number;
  readonly filesDeleted: number;
}

export interface FileSync {
  /** Makes the remote target match the local source; rejects with StepError. */
  sync(): Promise<SyncSummary>;
}

export interface RolloutLog {
  info(message: string): void;
  warning(message: string): void;
  /** An error worth an annotation (e.g. the app's PHP error lines). */
  error(message: string): void;
  debug(message: string): void;
}

/** Steps of one host's rollout, named in every failure so a reader knows what was (not) changed. */
export type Step = 'connect' | 'host-key' | 'auth' | 'preflight' | 'sync' | 'signal' | 'verify';

export class StepError extends Error {
  constructor(
    readonly step: Step,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'StepError';
  }
}

/** A remote command that gave no answer in time; the rollout names the step it belonged to. */
export class RemoteCommandTimeout extends Error {
  constructor(command: string, timeoutMs: number) {
    super(`a remote command gave no answer within ${timeoutMs / 1000} s: ${command.slice(0, 120)}`);
    this.name = 'RemoteCommandTimeout';
  }
}
