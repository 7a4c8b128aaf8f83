import type { ChildProcess } from 'node:child_process';
import type { Duplex, Readable } from 'node:stream';
import { DELETED_NAMES_SHOWN, RemoteConnectionLost, StepError, type FileSync, type RemoteStream, type SyncOptions, type SyncSummary } from '../engine/ports.js';
import type { RolloutSettings } from '../engine/settings.js';
import { BRIDGE_HOST, BRIDGE_RSH, describeRemoteEnd, serveRsync } from './rsync-bridge.js';

/**
 * The file checksums rsync may use for --checksum, most wanted first. xxh3
 * puts 8 bytes a file in the file list instead of xxh128's or md5's 16: with
 * --checksum that is most of what a deploy that changes little sends. Each
 * end of rsync 3.2+ reads its own list from RSYNC_CHECKSUM_LIST and the two
 * must agree: with the list on this end only, each end settled on another
 * checksum and the transfer failed (rsync 3.5, "protocol incompatibility").
 * Names an rsync does not know are skipped; older rsyncs ignore the list.
 */
export const CHECKSUM_PREFERENCE = 'xxh3 xxh128 xxh64 md5 md4';

/**
 * The rsync argument list. Files are updated in place (a symlink switch would
 * leave the master serving the old release after a reload) with
 * --delay-updates, so a worker forked mid-sync never sees half a release.
 * --checksum: a CI checkout gives every file a fresh mtime, and a changed file
 * of the same size and second would otherwise be skipped silently.
 */
export function rsyncArguments(settings: RolloutSettings, options: SyncOptions = {}): string[] {
  return [
    ...(options.dryRun ? ['--dry-run'] : []),
    '--recursive',
    '--links',
    '--perms',
    // No --times: a file keeps its host mtime unless its content changes, so a
    // master-level file newer than the master proves it changed after the
    // master loaded it (a stale master).
    '--checksum',
    // The host's end gets the same checksum list as this one (childEnvironment).
    `--rsync-path=env RSYNC_CHECKSUM_LIST='${CHECKSUM_PREFERENCE}' rsync`,
    '--compress',
    '--delete',
    '--delete-delay',
    '--delay-updates',
    '--protect-args',
    '--stats',
    '--itemize-changes',
    // A transfer that stalls (a hung disk or network) fails instead of hanging the job.
    `--timeout=${Math.max(5, Math.ceil(settings.commandTimeoutMs / 1000))}`,
    ...settings.exclude.map((pattern) => `--exclude=${pattern}`),
    ...settings.protect.map((pattern) => `--filter=protect ${pattern}`),
    '--rsh', BRIDGE_RSH,
    '--',
    `${settings.source.replace(/\/+$/, '')}/`,
    `${BRIDGE_HOST}:${settings.target}/`,
  ];
}

export function parseRsyncStats(stdout: string): SyncSummary {
  const transferred = /Number of regular files transferred:\s*([\d,]+)/.exec(stdout)?.[1];
  const deleted = /Number of deleted files:\s*([\d,]+)/.exec(stdout)?.[1];
  return {
    filesTransferred: Number((transferred ?? '0').replaceAll(',', '')),
    filesDeleted: Number((deleted ?? '0').replaceAll(',', '')),
  };
}

/** The runner's environment minus the action's INPUT_* variables, which carry the secrets, plus the checksum list. */
export function childEnvironment(environment: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const kept = Object.entries(environment).filter(([name]) => !name.startsWith('INPUT_'));
  return { ...Object.fromEntries(kept), RSYNC_CHECKSUM_LIST: CHECKSUM_PREFERENCE };
}

/** How much of rsync's stdout and stderr is kept: the end, where --stats and the error are. */
export const RSYNC_TAIL_CHARS = 64 * 1024;

/** The last `limit` characters of a stream, however much it prints. */
export class TailText {
  private text = '';
  total = 0;

  constructor(private readonly limit: number = RSYNC_TAIL_CHARS) {}

  add(chunk: string): void {
    this.total += chunk.length;
    this.text += chunk;
    if (this.text.length > 2 * this.limit) this.text = this.text.slice(-this.limit);
  }

  get value(): string {
    return this.text.length > this.limit ? this.text.slice(-this.limit) : this.text;
  }
}

/**
 * What rsync's --itemize-changes says, read line by line as it streams (the
 * tail kept for --stats may have lost it): the first deleted files, every
 * changed or deleted file a watcher asked about (master-level code), and
 * whether anything changed beyond the content of existing .php files.
 */
export class ItemizedChanges {
  readonly deleted: string[] = [];
  readonly watched: string[] = [];
  /** Every change so far was new content in an existing .php file (or there was none). */
  phpEditsOnly = true;
  private partial = '';

  constructor(private readonly watch?: (path: string) => boolean) {}

  add(chunk: string): void {
    const lines = (this.partial + chunk).split('\n');
    this.partial = lines.pop()!;
    for (const line of lines) this.line(line);
  }

  private line(line: string): void {
    const deleted = /^\*deleting +(.+)$/.exec(line)?.[1];
    if (deleted !== undefined) {
      this.phpEditsOnly = false;
      if (this.deleted.length < DELETED_NAMES_SHOWN) this.deleted.push(deleted);
      if (this.watch?.(deleted)) this.watched.push(deleted);
      return;
    }
    // YXcstpoguax (man rsync, --itemize-changes): Y is `<` sent to the host, `>` received (a local copy),
    // `c` created or changed locally, `h` a hard link, `.` attributes only; X the kind of entry; `+` flags a new one.
    const item = /^([<>ch.])([fdLDS])(\S{9}) (.+)$/.exec(line);
    if (!item) return;
    const [, update, kind, flags = '', name = ''] = item;
    const created = flags.includes('+');
    if (update === '.' && !created) return;
    // A symlink's line ends with ` -> <its target>`.
    const path = kind === 'L' ? name.replace(/ -> .*$/, '') : name;
    if (created || kind !== 'f' || !path.endsWith('.php')) this.phpEditsOnly = false;
    if (kind !== 'd' && this.watch?.(path)) this.watched.push(path);
  }
}

/** rsync's exit codes (man rsync, EXIT VALUES). */
const EXIT_MEANINGS: Record<number, string> = {
  1: 'syntax or usage error',
  2: 'protocol incompatibility',
  3: 'errors selecting input/output files or directories',
  4: 'requested action not supported',
  5: 'error starting the client-server protocol',
  10: 'error in socket I/O',
  11: 'error in file I/O',
  12: 'error in the rsync protocol data stream',
  13: 'errors with program diagnostics',
  14: 'error in IPC code',
  20: 'received SIGUSR1 or SIGINT',
  21: 'some error returned by waitpid()',
  22: 'error allocating core memory buffers',
  23: 'partial transfer due to error',
  24: 'partial transfer due to vanished source files',
  25: 'the --max-delete limit stopped deletions',
  30: 'timeout in data send/receive',
  35: 'timeout waiting for daemon connection',
  255: 'the SSH connection failed or was lost',
};

export interface RsyncEnd {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stderr: string;
  /** Whether rsync's remote end was started on the host: until it is, no file there can change. */
  readonly remoteStarted: boolean;
}

/**
 * Why rsync failed, in words, and what that means for the host's files. rsync
 * runs with --delay-updates: new files wait in a temporary directory and are
 * renamed into place at the end, so an early stop usually leaves the live
 * files as they were, but when rsync stops, that end may have begun on the
 * host; only a failure to reach the host at all proves nothing changed.
 */
export function describeRsyncFailure(end: RsyncEnd): { message: string; filesMayHaveChanged: boolean } {
  const stderrTail = end.stderr.trim().split(/\r?\n/).filter((line) => line.trim() !== '').slice(-3).join(' | ');
  const how =
    end.code === null
      ? `rsync was killed by ${end.signal ?? 'a signal'}`
      : `rsync failed (exit ${end.code}${EXIT_MEANINGS[end.code] ? `: ${EXIT_MEANINGS[end.code]}` : ''})`;
  const files = end.remoteStarted
    ? 'some files may have been replaced: rsync renames them into place only at its end (--delay-updates), so a stop before that leaves them unchanged, but whether that end had begun cannot be known'
    : 'rsync never started on the host, so no file on it was changed';
  return { message: `${how}${stderrTail ? `: ${stderrTail}` : ''}; ${files}`, filesMayHaveChanged: end.remoteStarted };
}

/** rsync processes still running: the action stops them if it has to end early. */
const running = new Set<ChildProcess>();

/** Stops every rsync this process started that still runs (the action is ending: cancelled or crashed). */
export function stopRunningRsync(signal: NodeJS.Signals = 'SIGTERM'): number {
  for (const child of running) child.kill(signal);
  return running.size;
}

export class RsyncSync implements FileSync {
  constructor(
    private readonly settings: RolloutSettings,
    /** Starts rsync's remote end on the host's open connection. */
    private readonly openStream: (command: string) => Promise<RemoteStream>,
    private readonly debug?: (line: string) => void,
  ) {}

  sync(options: SyncOptions = {}): Promise<SyncSummary> {
    const args = rsyncArguments(this.settings, options);
    this.debug?.(`rsync ${args.map((arg) => JSON.stringify(arg)).join(' ')}`);
    // Loaded here, not at start-up, where it cost about 3 ms before the first connection.
    const { spawn } = process.getBuiltinModule('node:child_process');
    return new Promise((resolve, reject) => {
      // fd 3: the socket the remote shell (BRIDGE_RSH) talks to this process over.
      const child = spawn('rsync', args, { env: childEnvironment(), stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
      running.add(child);
      const bridge = serveRsync(child.stdio[3] as Duplex, this.openStream, this.debug);
      // --itemize-changes prints a line per file: only the end is kept (the --stats block is there).
      const stdout = new TailText();
      const stderr = new TailText();
      const itemized = new ItemizedChanges(options.watch);
      const out = child.stdio[1] as Readable;
      const err = child.stdio[2] as Readable;
      out.setEncoding('utf8');
      err.setEncoding('utf8');
      out.on('data', (chunk: string) => {
        stdout.add(chunk);
        itemized.add(chunk);
      });
      err.on('data', (chunk: string) => stderr.add(chunk));
      child.on('error', (error) => {
        running.delete(child);
        bridge.stop();
        reject(new StepError('sync', `cannot run rsync (${error.message}); install rsync on the runner. No file on the host was changed`, { filesMayHaveChanged: false }));
      });
      // How the host's end stopped, if it did before rsync: after, it is only this side closing it.
      let remoteEndFirst: string | undefined;
      // 'close' waits for fd 3 too, which the bridge's shell keeps open while the host's end runs: once rsync exits, the host's end goes.
      child.on('exit', () => {
        remoteEndFirst = describeRemoteEnd(bridge.outcome.remoteEnd);
        bridge.stop();
      });
      child.on('close', (code, signal) => {
        running.delete(child);
        bridge.stop();
        const shownEnd = code === null ? `was killed by ${signal}` : `exited ${code}`;
        this.debug?.(`rsync ${shownEnd}: ${stdout.value.trim().split('\n').slice(-16).join(' | ')}`);
        if (code === 0) {
          resolve({ ...parseRsyncStats(stdout.value), deletedNames: itemized.deleted, watchedChanges: itemized.watched, phpEditsOnly: itemized.phpEditsOnly });
          return;
        }
        const { outcome } = bridge;
        const remote = [outcome.stderr.trim(), remoteEndFirst, outcome.failure].filter(Boolean).join('\n');
        const failure = describeRsyncFailure({ code, signal, stderr: `${stderr.value}\n${remote}`, remoteStarted: outcome.started });
        const cause = outcome.connectionLost ? new RemoteConnectionLost('rsync', outcome.remoteEnd?.lost ?? outcome.failure ?? 'the connection was lost') : undefined;
        reject(new StepError('sync', failure.message, { filesMayHaveChanged: failure.filesMayHaveChanged, ...(cause ? { cause } : {}) }));
      });
    });
  }
}
