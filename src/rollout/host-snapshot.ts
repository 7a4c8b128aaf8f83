import { describeRsyncFailure, ItemizedChanges, parseRsyncStats } from '../engine/rsync-output.js';
import { describeExit, type CommandResult, type SyncSummary } from '../engine/ports.js';
import { StepError, type Step } from '../engine/step-error.js';
import { shownHostText } from '../engine/shown-text.js';
import { formatBytes } from '../engine/units.js';
import { commandLine } from '../engine/shell-quote.js';
import type { HostRun } from './context.js';
import { stateDirectory } from './host-lock.js';
import TAKE_SCRIPT from '../remote/snapshot-take.sh';
import LIST_SCRIPT from '../remote/snapshot-list.sh';
import PRUNE_SCRIPT from '../remote/snapshot-prune.sh';
import RESTORE_SCRIPT from '../remote/snapshot-restore.sh';

/**
 * Snapshots of a host's live tree, kept beside it in
 * `<state dir>/snapshots/<UTC time>/`: the copy in `tree/`, and in `excluded`
 * the rsync patterns left out of it (one a line), which every restore of it
 * protects, so a file the snapshot does not hold is never deleted by the
 * restore. The copy is made of hard links: a snapshot costs
 * directory entries, not file data. That holds because nothing rewrites a
 * code file in place: the deploy's rsync (no --inplace) writes every changed
 * file as a new file and renames it over the old name, so the old inode, and
 * with it the snapshot's content, stays as it was. A restore is rsync again,
 * on the host, from the snapshot into the target.
 *
 * Every function here is meant to run under the host's lock (host-lock.ts):
 * only one run at a time makes, prunes or restores snapshots.
 */

/** The directory that holds a target's snapshots. */
export function snapshotsDirectory(target: string): string {
  return `${stateDirectory(target)}/snapshots`;
}

/** A snapshot's name: UTC time to the second, then -001, -002 ... when one second has more than one. Sorts by time as text. */
const SNAPSHOT_NAME = /^\d{8}T\d{6}Z(?:-\d{3,})?$/;
/** A snapshot being built, or one a crashed run left half made: never listed, never restored, removed by a prune. */
const PARTIAL_NAME = /^\.partial-/;

/** What src/remote/snapshot-take.sh and snapshot-list.sh print before their answer (the scripts hold it as text). */
const MARK = '@@graceful-reload-snapshot@@';

/** A big tree's hard-link copy or restore may take longer than one ordinary command. */
export const LONG_COMMAND_MS = 60_000;

function longTimeout(run: HostRun): number {
  return Math.max(run.settings.commandTimeoutMs, LONG_COMMAND_MS);
}

function trimmed(path: string): string {
  return path.replace(/\/+$/, '');
}

async function runOrFail(
  run: HostRun,
  step: Step,
  command: string,
  timeoutMs: number,
  what: string,
  consequence: string,
  filesMayHaveChanged: boolean,
  maxOutputBytes?: number,
): Promise<CommandResult> {
  try {
    return await run.shell.run(command, { timeoutMs, ...(maxOutputBytes === undefined ? {} : { maxOutputBytes }) });
  } catch (error) {
    throw new StepError(step, `${what}: ${(error as Error).message}; ${consequence}`, { cause: error, filesMayHaveChanged });
  }
}

export function takeSnapshotCommand(target: string, exclude: readonly string[]): string {
  return commandLine(['sh', '-c', TAKE_SCRIPT, 'graceful-reload-snapshot', trimmed(target), snapshotsDirectory(target), ...exclude]);
}

export interface SnapshotOptions {
  /**
   * More rsync patterns left out of the snapshot: the app's runtime files
   * (the protect rules restoreSnapshot gets), which a restore never puts back
   * and which may belong to the worker's user (not linkable under
   * fs.protected_hardlinks) or vanish while they are copied.
   * settings.protect (the protect input, *.pid, *.log, *.status) is always
   * left out, for the same reasons.
   */
  readonly exclude?: readonly string[];
}

/**
 * Takes a hard-link snapshot of the live tree and returns its path. Fails
 * with StepError('sync'), no file of the target changed, when it cannot: the
 * rollout must not change a host it could not roll back.
 */
export async function takeSnapshot(run: HostRun, options: SnapshotOptions = {}): Promise<string> {
  const { settings, label, io } = run;
  const dir = snapshotsDirectory(settings.target);
  const nothing = `no file of the target was changed, and nothing was synced`;
  const exclude = [...new Set([...settings.protect, ...(options.exclude ?? [])])];
  const multiline = exclude.find((rule) => /[\r\n]/.test(rule));
  if (multiline !== undefined)
    throw new StepError('sync', `the exclude pattern ${JSON.stringify(multiline)} spans lines, so a snapshot cannot record it; ${nothing}`, {
      filesMayHaveChanged: false,
    });
  const result = await runOrFail(
    run,
    'sync',
    takeSnapshotCommand(settings.target, exclude),
    longTimeout(run),
    `cannot take a snapshot of ${settings.target} into ${dir}`,
    nothing,
    false,
  );
  const name = result.stdout
    .split('\n')
    .find((line) => line.startsWith(`${MARK} `))
    ?.slice(MARK.length + 1)
    .trim();
  if (result.code !== 0 || name === undefined || !SNAPSHOT_NAME.test(name)) {
    const why = shownHostText(result.stderr) || shownHostText(result.stdout) || 'no output';
    const what =
      result.code === 3 ? `the target ${settings.target} is not a directory on the host`
      : result.code === 4 ? `cannot create the snapshot directory ${dir} (${why})`
      : result.code === 5 ? `cannot snapshot ${settings.target} into ${dir}: ${why}`
      : result.code === 6 ? `the hard-link copy of ${settings.target} into ${dir} failed (${why}); the half-made copy was removed`
      : result.code === 7 ? `the finished snapshot of ${settings.target} could not be renamed into place in ${dir} (${why})`
      : `taking a snapshot of ${settings.target} into ${dir} failed (${describeExit(result)}: ${why})`;
    throw new StepError('sync', `${what}; ${nothing}`, { filesMayHaveChanged: false });
  }
  const path = `${dir}/${name}`;
  io.log.info(`${label}: snapshot of ${settings.target} kept in ${path}`);
  return path;
}

async function entries(run: HostRun, step: Step, consequence: string): Promise<{ snapshots: string[]; partial: string[] }> {
  const dir = snapshotsDirectory(run.settings.target);
  const command = commandLine(['sh', '-c', LIST_SCRIPT, 'graceful-reload-snapshots', dir]);
  const result = await runOrFail(run, step, command, run.settings.commandTimeoutMs, `cannot list the snapshots in ${dir}`, consequence, false);
  const lines = result.stdout.split('\n');
  const start = lines.indexOf(MARK);
  if (result.code !== 0 || start < 0) {
    throw new StepError(
      step,
      `cannot list the snapshots in ${dir} (${describeExit(result)}: ${shownHostText(result.stderr) || shownHostText(result.stdout) || 'no output'}); ${consequence}`,
      { filesMayHaveChanged: false },
    );
  }
  const names = lines.slice(start + 1).filter((line) => line !== '');
  return {
    // Names are UTC times: sorting the text sorts by time.
    snapshots: names
      .filter((name) => SNAPSHOT_NAME.test(name))
      .sort()
      .reverse(),
    partial: names.filter((name) => PARTIAL_NAME.test(name)),
  };
}

/** The target's snapshots (paths), newest first. */
export async function listSnapshots(run: HostRun): Promise<string[]> {
  const dir = snapshotsDirectory(run.settings.target);
  const found = await entries(run, 'rollback', 'nothing was changed');
  return found.snapshots.map((name) => `${dir}/${name}`);
}

/**
 * Removes all but the newest `keep` snapshots, and any half-made one a
 * crashed run left. Returns the paths removed. Never throws: a snapshot left
 * over costs disk, not the rollout; what could not be removed is logged as a
 * warning.
 */
export async function pruneSnapshots(run: HostRun, keep: number): Promise<string[]> {
  const { label, io, settings } = run;
  if (!Number.isInteger(keep) || keep < 0) throw new Error(`keep-snapshots: ${keep} is not a whole number of 0 or more`);
  const dir = snapshotsDirectory(settings.target);
  let found;
  try {
    found = await entries(run, 'rollback', 'no snapshot was removed');
  } catch (error) {
    io.log.warning(`${label}: ${(error as Error).message}`);
    return [];
  }
  const doomed = [...found.snapshots.slice(keep), ...found.partial];
  if (doomed.length === 0 || !(await removeSnapshots(run, doomed))) return [];
  io.log.info(`${label}: removed ${doomed.length} old snapshot(s), keeping the newest ${keep}: ${doomed.join(', ')}`);
  return doomed.map((name) => `${dir}/${name}`);
}

/**
 * Removes a snapshot this run took whose deploy then changed no file: it
 * holds the live tree, so a rollback to it changes nothing, and kept it
 * would push a real one out of keep-snapshots (and be the one `mode:
 * rollback` restores). Never throws.
 */
export async function dropUnchangedSnapshot(run: HostRun, snapshot: string): Promise<boolean> {
  const path = checkedSnapshot(run.settings.target, snapshot);
  if (!(await removeSnapshots(run, [path.slice(path.lastIndexOf('/') + 1)]))) return false;
  run.io.log.info(`${run.label}: the sync changed no file, so its snapshot ${path} (the live tree itself) was removed`);
  return true;
}

/** Removes snapshots by name; false (with a warning) when some could not be. */
async function removeSnapshots(run: HostRun, names: readonly string[]): Promise<boolean> {
  const { label, io } = run;
  const dir = snapshotsDirectory(run.settings.target);
  const command = commandLine(['sh', '-c', PRUNE_SCRIPT, 'graceful-reload-prune', dir, ...names]);
  const later = 'they take disk space until a later run removes them';
  try {
    const result = await run.shell.run(command, { timeoutMs: longTimeout(run) });
    if (result.code === 0) return true;
    io.log.warning(
      `${label}: could not remove every snapshot named in ${dir} (${describeExit(result)}: ${shownHostText(result.stderr) || 'no output'}); ${later}`,
    );
  } catch (error) {
    io.log.warning(`${label}: removing snapshots in ${dir} failed (${(error as Error).message}); ${later}`);
  }
  return false;
}

export interface RestoreOptions {
  /**
   * rsync filter patterns of the app's runtime files (pid, log, runtime/):
   * neither deleted nor overwritten by the restore. settings.protect (the
   * protect input and its defaults) is always added, as for the deploy, and
   * so is whatever the snapshot left out (its `excluded` record).
   */
  readonly protect: readonly string[];
  /** Which changed paths (relative to the target) to report in watchedChanges. */
  readonly watch?: (path: string) => boolean;
}

/** A path listSnapshots or takeSnapshot gave for this target, or an error naming it. */
function checkedSnapshot(target: string, snapshot: string): string {
  const dir = snapshotsDirectory(target);
  const path = trimmed(snapshot);
  const name = path.slice(dir.length + 1);
  if (!path.startsWith(`${dir}/`) || !SNAPSHOT_NAME.test(name)) {
    throw new StepError('rollback', `"${snapshot}" is not a snapshot of ${target} (those are ${dir}/<UTC time>); nothing was changed`, {
      filesMayHaveChanged: false,
    });
  }
  return path;
}

/**
 * rsync from the snapshot into the target, on the host, the way the deploy
 * syncs: -rlp with no --times (a restored file gets a fresh mtime, so a host
 * file's mtime still says when its content last changed), --checksum,
 * --delete, and --delay-updates so a worker forked meanwhile never sees half
 * a tree. Each protect rule is both `hide` (the snapshot's copy is never
 * sent: a pid file the master rewrote since must not get the old pid back)
 * and `protect` (the live one is never deleted).
 */
export function restoreArguments(protect: readonly string[]): string[] {
  return [
    '--recursive',
    '--links',
    '--perms',
    '--checksum',
    '--delete',
    '--delete-delay',
    '--delay-updates',
    '--itemize-changes',
    '--stats',
    ...protect.flatMap((rule) => [`--filter=hide ${rule}`, `--filter=protect ${rule}`]),
  ];
}

export function restoreCommand(target: string, snapshot: string, protect: readonly string[]): string {
  return commandLine(['sh', '-c', RESTORE_SCRIPT, 'graceful-reload-restore', trimmed(snapshot), trimmed(target), ...restoreArguments(protect)]);
}

/** --itemize-changes prints a line per file: a restore of a big tree may print more than an ordinary command. */
const RESTORE_OUTPUT_BYTES = 32 * 1024 * 1024;

/**
 * Puts a snapshot back into the live tree, keeping the app's runtime files,
 * and says what changed as the deploy's sync does. Fails with
 * StepError('rollback').
 */
export async function restoreSnapshot(run: HostRun, snapshot: string, options: RestoreOptions): Promise<SyncSummary> {
  const { settings, label, io } = run;
  const path = checkedSnapshot(settings.target, snapshot);
  const result = await runOrFail(
    run,
    'rollback',
    // The protect input (and *.pid, *.log, *.status) as for the deploy's sync, then the app's runtime files.
    restoreCommand(settings.target, path, [...new Set([...settings.protect, ...options.protect])]),
    longTimeout(run),
    `restoring ${path} into ${settings.target}`,
    'some files of the target may have been restored and others not',
    true,
    RESTORE_OUTPUT_BYTES,
  );
  if (result.code === 93) {
    throw new StepError('rollback', `the snapshot ${path} is not on the host (removed?); nothing was changed`, { filesMayHaveChanged: false });
  }
  if (result.code === 94) {
    throw new StepError('rollback', `the target ${settings.target} is not a directory on the host; nothing was restored`, { filesMayHaveChanged: false });
  }
  if (result.code !== 0) {
    const failure = describeRsyncFailure({
      code: result.code,
      signal: (result.signal as NodeJS.Signals | undefined) ?? null,
      stderr: result.stderr,
      remoteStarted: true,
    });
    throw new StepError('rollback', `restoring ${path} into ${settings.target}: ${failure.message}`, { filesMayHaveChanged: true });
  }
  const itemized = new ItemizedChanges(options.watch);
  itemized.add(result.stdout.endsWith('\n') ? result.stdout : `${result.stdout}\n`);
  const summary: SyncSummary = {
    ...parseRsyncStats(result.stdout),
    deletedNames: itemized.deleted,
    watchedChanges: itemized.watched,
    phpEditsOnly: itemized.phpEditsOnly,
  };
  io.log.info(`${label}: restored ${path} into ${settings.target}: ${summary.filesTransferred} file(s) written, ${summary.filesDeleted} deleted`);
  return summary;
}

/** The last line of `df -Pk`: available 1K blocks and the mount point (which may hold spaces). */
export function parseDfAvailable(stdout: string): { availableBytes: number; mountedOn: string } | undefined {
  for (const line of stdout.split('\n').slice(1).reverse()) {
    const match = /\s(\d+)\s+(\d+)\s+(\d+)\s+(?:\d+%|-)\s+(.+)$/.exec(line);
    if (match) return { availableBytes: Number(match[3]) * 1024, mountedOn: match[4]!.trim() };
  }
  return undefined;
}

/**
 * Fails with StepError('preflight') when the file system of the target's
 * parent (where the state directory and the snapshots live) has less free
 * space than neededBytes. Returns the free bytes.
 */
export async function freeSpaceCheck(run: HostRun, neededBytes: number): Promise<number> {
  const target = trimmed(run.settings.target);
  const parent = target.slice(0, target.lastIndexOf('/')) || '/';
  const nothing = 'nothing was changed';
  const result = await runOrFail(
    run,
    'preflight',
    commandLine(['df', '-Pk', '--', parent]),
    run.settings.commandTimeoutMs,
    `cannot read the free space of ${parent}`,
    nothing,
    false,
  );
  const free = result.code === 0 ? parseDfAvailable(result.stdout) : undefined;
  if (free === undefined) {
    throw new StepError(
      'preflight',
      `cannot read the free space of ${parent} (df -Pk: ${describeExit(result)}: ${shownHostText(result.stderr) || shownHostText(result.stdout) || 'no output'}); ${nothing}`,
      { filesMayHaveChanged: false },
    );
  }
  if (free.availableBytes < neededBytes) {
    throw new StepError(
      'preflight',
      `only ${formatBytes(free.availableBytes)} free on the file system of ${parent} (mounted at ${free.mountedOn}), but ${formatBytes(neededBytes)} are needed for the snapshot and the changed files; ${nothing}`,
      { filesMayHaveChanged: false },
    );
  }
  return free.availableBytes;
}
