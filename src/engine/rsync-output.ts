import { DELETED_NAMES_SHOWN, type SyncSummary } from './ports.js';

/**
 * What rsync prints, read: its --stats totals, its --itemize-changes lines,
 * and its exit codes in words. Pure (no process, no state), so the deploy's
 * sync (adapters/rsync-sync.ts) and the snapshot restore that rsync runs on
 * the host (rollout/host-snapshot.ts) read rsync the same way.
 */

/** rsync's --stats totals: files written and files deleted. */
export function parseRsyncStats(stdout: string): SyncSummary {
  const transferred = /Number of regular files transferred:\s*([\d,]+)/.exec(stdout)?.[1];
  const deleted = /Number of deleted files:\s*([\d,]+)/.exec(stdout)?.[1];
  return {
    filesTransferred: Number((transferred ?? '0').replaceAll(',', '')),
    filesDeleted: Number((deleted ?? '0').replaceAll(',', '')),
  };
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
  const stderrTail = end.stderr
    .trim()
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .slice(-3)
    .join(' | ');
  const how =
    end.code === null ?
      `rsync was killed by ${end.signal ?? 'a signal'}`
    : `rsync failed (exit ${end.code}${EXIT_MEANINGS[end.code] ? `: ${EXIT_MEANINGS[end.code]}` : ''})`;
  const files =
    end.remoteStarted ?
      'some files may have been replaced: rsync renames them into place only at its end (--delay-updates), so a stop before that leaves them unchanged, but whether that end had begun cannot be known'
    : 'rsync never started on the host, so no file on it was changed';
  return { message: `${how}${stderrTail ? `: ${stderrTail}` : ''}; ${files}`, filesMayHaveChanged: end.remoteStarted };
}
