/**
 * src/engine/: the pure core. No I/O, no timers, no clock of its own: what
 * a deploy means, decided from text and numbers. This file holds the ports (the
 * interfaces adapters implement: a shell on the host, a file sync, a log); the
 * root also has durations and sizes (units.ts), how long texts are shown
 * (shown-text.ts), the step error, shell quoting and rsync's output read as
 * text; the subfolders group the rest by concern (inputs, workers, plan,
 * verdict, report). Every other folder may import it; it imports none outside
 * itself (test/unit/import-graph.test.ts checks both).
 */

import type { Duplex, Readable } from 'node:stream';
import { shownCommand } from './shown-text.js';
import { formatBytes } from './units.js';

/**
 * The engine's only ways out: a shell on the host, a file sync and a log.
 * Adapters (node-ssh, rsync, the GitHub runner, a terminal) implement them,
 * so the engine runs the same under an action, a CLI or a test.
 */

export interface CommandResult {
  readonly stdout: string;
  readonly stderr: string;
  /** The exit status; null only when the command was ended by a signal (then `signal` names it). */
  readonly code: number | null;
  /** The signal that ended the remote command, as ssh2 names it (`SIGKILL`), when it did not exit by itself. */
  readonly signal?: string;
}

/** `exit 3`, or `killed by SIGKILL`: how a command ended, for messages (never `exit null`). */
export function describeExit(result: Pick<CommandResult, 'code' | 'signal'>): string {
  if (result.code !== null) return `exit ${result.code}`;
  return result.signal ? `killed by ${result.signal}` : 'ended without an exit status';
}

export interface RunOptions {
  /** Longest wait for the command; past it the command is killed and run rejects with RemoteCommandTimeout. */
  readonly timeoutMs?: number;
  /**
   * Most bytes kept of each of stdout and stderr (default DEFAULT_MAX_OUTPUT_BYTES);
   * past it the command is killed and run rejects with RemoteOutputTooLarge.
   */
  readonly maxOutputBytes?: number;
}

/** What one remote command may print on each stream by default: far more than any probe or definitions read needs. */
export const DEFAULT_MAX_OUTPUT_BYTES = 4 * 1024 * 1024;

export interface RemoteShell {
  /**
   * Runs one command line (already quoted) on the host. Rejects with
   * RemoteCommandTimeout when it hangs, RemoteOutputTooLarge when it prints
   * too much, RemoteConnectionLost when the connection drops under it.
   */
  run(command: string, options?: RunOptions): Promise<CommandResult>;
  /**
   * Starts a long-lived command with its stdin open, on the same connection:
   * rsync's remote end, the resident probe. Shells that cannot (a test's
   * fake) leave it out.
   */
  stream?(command: string): Promise<RemoteStream>;
  close(): Promise<void>;
}

/** A remote command that keeps running: bytes in and out, its stderr, and how it ended. */
export interface RemoteStream {
  /** The command's stdin (writable) and stdout (readable). */
  readonly io: Duplex;
  readonly stderr: Readable;
  /** Settles once the command has ended and its channel closed; never rejects. */
  readonly ended: Promise<Pick<CommandResult, 'code' | 'signal'> & { readonly lost?: string }>;
  /** Ends the command now (SIGKILL, then the channel is closed). */
  close(): void;
}

/** How a user's command (on the runner or the host) ended: its exit code, or the signal, and whether it ran past its time. */
export interface UserCommandResult {
  readonly code: number | null;
  readonly signal?: string;
  readonly timedOut: boolean;
  readonly durationMs: number;
}

/** Runs a user's shell command on the runner (drain-command), its output (stdout and stderr together) handed over line by line. */
export type RunnerCommand = (
  command: string,
  options: { readonly env: Readonly<Record<string, string>>; readonly timeoutMs: number; readonly onLine: (line: string) => void },
) => Promise<UserCommandResult>;

export interface SyncSummary {
  readonly filesTransferred: number;
  readonly filesDeleted: number;
  /** The first files the sync deleted (at most DELETED_NAMES_SHOWN), for the log. */
  readonly deletedNames?: readonly string[];
  /** Files changed or deleted (paths relative to the target) that SyncOptions.watch asked about. */
  readonly watchedChanges?: readonly string[];
  /** Every change was new content in an existing .php file: nothing created or deleted, no other file changed. Unknown when absent. */
  readonly phpEditsOnly?: boolean;
  /** An earlier attempt of this sync failed after reaching the host: it may have changed files these figures do not count. */
  readonly earlierAttemptReached?: boolean;
}

/** The sync wrote, created and deleted nothing: the live tree is the tree before it (a change of permissions alone is not counted). */
export function changedNothing(summary: SyncSummary): boolean {
  return summary.filesTransferred === 0 && summary.filesDeleted === 0 && summary.phpEditsOnly === true && summary.earlierAttemptReached !== true;
}

export interface SyncOptions {
  /** Only say what would change. */
  readonly dryRun?: boolean;
  /** Which changed paths (relative to the target) to report in watchedChanges. */
  readonly watch?: (path: string) => boolean;
}

/** How many deleted files a sync names. */
export const DELETED_NAMES_SHOWN = 20;

export interface FileSync {
  /** Makes the remote target match the local source; rejects with StepError. */
  sync(options?: SyncOptions): Promise<SyncSummary>;
}

export interface RolloutLog {
  info(message: string): void;
  warning(message: string): void;
  /** An error worth an annotation of its own (the action annotates each failed host once, itself). */
  error(message: string): void;
  debug(message: string): void;
  /**
   * Starts a foldable section of the log (a runner's group), ending any open
   * one: sections never nest. Logs without sections leave both out.
   */
  startGroup?(title: string): void;
  endGroup?(): void;
}

// The RemoteShell port's errors: its adapters reject with them, the rollout
// reads them (a lost connection is not a timeout), so they are part of the port.

/** A remote command that gave no answer in time; the rollout names the step it belonged to. */
export class RemoteCommandTimeout extends Error {
  constructor(command: string, timeoutMs: number) {
    super(`a remote command gave no answer within ${timeoutMs / 1000} s: ${shownCommand(command)}`);
    this.name = 'RemoteCommandTimeout';
  }
}

/**
 * A remote command that printed more than its cap on one stream: it was killed
 * (a host that streams without end must not take the runner's memory with it).
 */
export class RemoteOutputTooLarge extends Error {
  constructor(
    readonly command: string,
    readonly limitBytes: number,
    readonly stream: 'stdout' | 'stderr',
  ) {
    super(`the output of a remote command passed ${formatBytes(limitBytes)} (on ${stream}) and it was stopped: ${shownCommand(command)}`);
    this.name = 'RemoteOutputTooLarge';
  }
}

/**
 * The SSH connection ended (dropped, reset, the host went away) before a
 * remote command reported how it ended: whether the command ran, and what it
 * did, is unknown.
 */
export class RemoteConnectionLost extends Error {
  constructor(
    readonly command: string,
    readonly why: string,
    options?: { cause?: unknown },
  ) {
    super(`the SSH connection was lost (${why}) before a remote command finished; what it did on the host is unknown: ${shownCommand(command)}`, options);
    this.name = 'RemoteConnectionLost';
  }
}
