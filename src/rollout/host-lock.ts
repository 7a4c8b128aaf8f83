import { setTimeout as realSleep } from 'node:timers/promises';
import { randomBytes } from 'node:crypto';
import { formatDuration } from '../engine/units.js';
import { describeExit, type CommandResult } from '../engine/ports.js';
import { StepError } from '../engine/step-error.js';
import { shownHostText } from '../engine/shown-text.js';
import { startFilePath } from '../engine/inputs/settings.js';
import { commandLine } from '../engine/shell-quote.js';
import { runOnAnyConnection, type HostRun } from './context.js';
import ACQUIRE_SCRIPT from '../remote/lock-acquire.sh';
import RELEASE_SCRIPT from '../remote/lock-release.sh';
import RENEW_SCRIPT from '../remote/lock-renew.sh';

/**
 * One rollout per host at a time: a lock directory beside the live tree,
 * taken with mkdir (atomic on every POSIX file system, NFS included), holding
 * a small owner file so a second rollout can say whom it waits for.
 *
 * The owner renews its owner file's mtime (the heartbeat) every few seconds
 * while it runs, so another run can tell a live owner from a dead one by the
 * host's own clock. force-unlock takes only a lock whose heartbeat has
 * stopped; the owner that finds its lock taken or gone stops touching the host.
 */

/** How often the owner renews its heartbeat. */
export const HEARTBEAT_MS = 5000;
/** A heartbeat older than this: the owner is gone (6 missed renewals; a busy runner may miss a few). */
export const HEARTBEAT_STALE_SECONDS = 30;

/**
 * Where graceful-reload keeps its own state on a host: beside the target,
 * never inside it (the sync's --delete must not see it), e.g. /srv/app ->
 * /srv/.app.graceful-reload. It holds `lock/` and `snapshots/`.
 */
export function stateDirectory(target: string): string {
  const trimmed = target.replace(/\/+$/, '');
  if (!trimmed.startsWith('/') || trimmed === '') {
    throw new Error(`target "${target}" is not an absolute path below /, so there is no place beside it for graceful-reload's state`);
  }
  const slash = trimmed.lastIndexOf('/');
  return `${trimmed.slice(0, slash)}/.${trimmed.slice(slash + 1)}.graceful-reload`;
}

/** The lock directory of a target. */
export function lockDirectory(target: string): string {
  return `${stateDirectory(target)}/lock`;
}

/** Who holds a lock: written into it, shown to whoever waits for it. */
export interface LockOwner {
  readonly runUrl: string;
  readonly job: string;
  /** ISO time the run started. */
  readonly startedAt: string;
}

export interface HostLock {
  readonly owner: LockOwner;
  /** The lock directory on the host. */
  readonly path: string;
  /** Another run held it first: what was read on the host before it was taken may be out of date. */
  readonly waited: boolean;
  /** Removes the lock if it is still this run's. Idempotent; never throws (a failure is logged as a warning). */
  release(): Promise<void>;
  /** Renews the heartbeat: false once the lock is another run's or gone (then `lost` is aborted, its reason saying so). */
  renew(): Promise<boolean>;
  /** Aborted when a renewal finds the lock is no longer this run's: stop touching the host. */
  readonly lost: AbortSignal;
}

export interface LockOptions {
  /** Longest wait for a lock another run holds (lock-timeout); 0 tries once. */
  readonly timeoutMs: number;
  /** force-unlock: a held lock whose owner is gone (no heartbeat for HEARTBEAT_STALE_SECONDS) is removed, with a warning naming its owner, and taken. */
  readonly force: boolean;
  /** Renew the heartbeat on a timer (default true; a test renews by hand). */
  readonly heartbeat?: boolean;
  /** Time between two attempts (default 1 s). */
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What a held lock says about its holder. */
export interface LockHolder {
  /** The owner file's content, when it could be read. */
  readonly owner?: LockOwner & { readonly createdAt?: string };
  /** Why there is no owner: the lock has no owner file, or one that is not an owner record. */
  readonly ownerProblem?: string;
  /** Host time now minus the lock directory's mtime, in seconds; undefined when the host could not say. */
  readonly ageSeconds?: number;
  /** Host time now minus the owner's last heartbeat, in seconds; undefined without an owner file. */
  readonly heartbeatSeconds?: number;
  /** With force: the owner's heartbeat is recent, so the lock was left alone. */
  readonly live?: boolean;
}

export type LockAttempt =
  { readonly kind: 'acquired' } | { readonly kind: 'forced'; readonly previous: LockHolder } | { readonly kind: 'held'; readonly holder: LockHolder };

/** What src/remote/lock-*.sh print before each word they say (the scripts hold it, and owner.json, as text). */
const MARK = '@@graceful-reload-lock@@';

/** The owner record as written, minus its closing brace: the host appends createdAt by its own clock. */
export function ownerRecordPrefix(owner: LockOwner, token: string): string {
  const record = JSON.stringify({ runUrl: owner.runUrl, job: owner.job, startedAt: owner.startedAt, token });
  return `${record.slice(0, -1)},`;
}

export function acquireCommand(target: string, startFile: string, owner: LockOwner, token: string, force: boolean): string {
  return commandLine([
    'sh',
    '-c',
    ACQUIRE_SCRIPT,
    'graceful-reload-lock',
    stateDirectory(target),
    lockDirectory(target),
    ownerRecordPrefix(owner, token),
    force ? 'force' : 'wait',
    target,
    startFile,
    String(HEARTBEAT_STALE_SECONDS),
  ]);
}

export function renewCommand(target: string, token: string): string {
  return commandLine(['sh', '-c', RENEW_SCRIPT, 'graceful-reload-heartbeat', lockDirectory(target), token]);
}

export function releaseCommand(target: string, token: string): string {
  return commandLine(['sh', '-c', RELEASE_SCRIPT, 'graceful-reload-unlock', lockDirectory(target), token]);
}

/** Reads an owner file's text; an empty or foreign one gives the reason instead. */
export function parseOwner(text: string): Pick<LockHolder, 'owner' | 'ownerProblem'> {
  if (text.trim() === '') return { ownerProblem: 'the lock has no owner file (a run that died between taking the lock and writing its owner?)' };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { ownerProblem: `its owner file is not an owner record: "${shownHostText(text)}"` };
  }
  const record = value as Record<string, unknown>;
  if (
    typeof value !== 'object' ||
    value === null ||
    typeof record['runUrl'] !== 'string' ||
    typeof record['job'] !== 'string' ||
    typeof record['startedAt'] !== 'string'
  ) {
    return { ownerProblem: `its owner file is not an owner record: "${shownHostText(text)}"` };
  }
  return {
    owner: {
      runUrl: shownHostText(record['runUrl']),
      job: shownHostText(record['job']),
      startedAt: shownHostText(record['startedAt']),
      ...(typeof record['createdAt'] === 'string' ? { createdAt: shownHostText(record['createdAt']) } : {}),
    },
  };
}

/** What an attempt printed: acquired, forced (with the holder it removed), or held (with its holder). */
export function parseAttempt(stdout: string): LockAttempt | undefined {
  const lines = stdout.split('\n');
  const marks = lines.flatMap((line, index) =>
    line.startsWith(`${MARK} `) ?
      [
        {
          index,
          words: line
            .slice(MARK.length + 1)
            .trim()
            .split(/\s+/),
        },
      ]
    : [],
  );
  const last = marks.at(-1);
  if (last?.words[0] === 'acquired') return { kind: 'acquired' };
  const held = marks.find((mark) => mark.words[0] === 'held');
  if (!held) return undefined;
  const next = marks.find((mark) => mark.index > held.index);
  const ownerText = lines.slice(held.index + 1, next?.index ?? lines.length).join('\n');
  const [, now, mtime, beat] = held.words;
  const age = secondsBetween(now, mtime);
  const heartbeat = secondsBetween(now, beat);
  const holder: LockHolder = {
    ...parseOwner(ownerText),
    ...(age === undefined ? {} : { ageSeconds: age }),
    ...(heartbeat === undefined ? {} : { heartbeatSeconds: heartbeat }),
    ...(last?.words[0] === 'live' ? { live: true } : {}),
  };
  return last?.words[0] === 'forced' ? { kind: 'forced', previous: holder } : { kind: 'held', holder };
}

/** `now` minus `then`, both Unix seconds as the host printed them; undefined when either is not a number. */
function secondsBetween(now: string | undefined, then: string | undefined): number | undefined {
  return now !== undefined && then !== undefined && /^\d+$/.test(now) && /^\d+$/.test(then) ? Math.max(0, Number(now) - Number(then)) : undefined;
}

/** A lock's age as the host gave it, in whole seconds: `42 s`, `3 min 5 s`, `2 h 4 min`, `3 d 1 h`. */
function formatAge(seconds: number): string {
  return formatDuration(seconds * 1000, { wholeSeconds: true });
}

/** `run <url> (job deploy, started <time>), taken 3 min 5 s ago`, or `an unknown owner (...)`. */
export function describeHolder(holder: LockHolder): string {
  const who =
    holder.owner ?
      `run ${holder.owner.runUrl} (job ${holder.owner.job}, started ${holder.owner.startedAt})`
    : `an unknown owner (${holder.ownerProblem ?? 'no owner file'})`;
  const taken = holder.ageSeconds === undefined ? 'at an unknown time (the host could not give its age)' : `${formatAge(holder.ageSeconds)} ago`;
  const beat = holder.heartbeatSeconds === undefined ? '' : `, last heartbeat ${formatAge(holder.heartbeatSeconds)} ago`;
  return `${who}, taken ${taken}${beat}`;
}

/** The target does not hold its start file, so the lock made nothing beside it: preflight says why in its own words. */
export class NoTargetForLock extends StepError {}

async function attempt(run: HostRun, command: string, path: string): Promise<LockAttempt> {
  let result: CommandResult;
  try {
    result = await run.shell.run(command, { timeoutMs: run.settings.commandTimeoutMs });
  } catch (error) {
    throw new StepError('lock', `cannot take the lock ${path}: ${(error as Error).message}; no file of the target was changed`, {
      cause: error,
      filesMayHaveChanged: false,
    });
  }
  const parsed = result.code === 0 ? parseAttempt(result.stdout) : undefined;
  if (parsed) return parsed;
  if (result.code === 7) {
    const target = run.settings.target;
    throw new NoTargetForLock(
      'lock',
      `the target ${target} is not a directory holding the start file ${startFilePath(run.settings)}, so no lock was made beside it; nothing was created or changed on the host`,
      {
        filesMayHaveChanged: false,
      },
    );
  }
  const why = shownHostText(result.stderr) || shownHostText(result.stdout) || 'no output';
  const what =
    result.code === 3 ? `cannot create the state directory ${stateDirectory(run.settings.target)} (${why})`
    : result.code === 4 ? `cannot create the lock directory ${path} (${why})`
    : result.code === 5 ? `cannot write the owner file into the lock directory ${path} (${why}); the lock was not taken`
    : result.code === 6 ? `force-unlock: cannot remove the lock ${path} (${why})`
    : `taking the lock ${path} failed (${describeExit(result)}: ${why})`;
  throw new StepError('lock', `${what}; no file of the target was changed`, { filesMayHaveChanged: false });
}

/**
 * Takes the host's lock, waiting up to options.timeoutMs for a run that holds
 * it; fails with StepError('lock') naming the holder and the lock's age. With
 * options.force a held lock is removed (a warning names its owner) and taken.
 */
export async function acquireLock(run: HostRun, owner: LockOwner, options: LockOptions): Promise<HostLock> {
  const { label, io, settings } = run;
  const path = lockDirectory(settings.target);
  const token = randomBytes(16).toString('hex');
  const command = acquireCommand(settings.target, startFilePath(settings), owner, token, options.force);
  const pollMs = Math.max(1, options.pollMs ?? 1000);
  const sleep = options.sleep ?? io.sleep ?? realSleep;
  const started = run.now();
  let announced = false;
  for (;;) {
    const outcome = await attempt(run, command, path);
    if (outcome.kind === 'acquired') {
      io.log.info(`${label}: took the lock ${path}`);
      return heldLock(run, owner, path, token, announced, options.heartbeat ?? true);
    }
    if (outcome.kind === 'forced') {
      io.log.warning(`${label}: force-unlock: removed the lock ${path} held by ${describeHolder(outcome.previous)}, and took it`);
      return heldLock(run, owner, path, token, announced, options.heartbeat ?? true);
    }
    const waited = run.now() - started;
    if (waited >= options.timeoutMs) throw lockHeldError(path, outcome.holder, waited);
    if (!announced) {
      io.log.info(`${label}: the lock ${path} is held by ${describeHolder(outcome.holder)}; waiting up to ${formatDuration(options.timeoutMs)} for it`);
      announced = true;
    }
    await sleep(Math.min(pollMs, options.timeoutMs - waited));
  }
}

function lockHeldError(path: string, holder: LockHolder, waited: number): StepError {
  const advice =
    holder.live ?
      `force-unlock takes only a lock whose owner is gone (no heartbeat for ${HEARTBEAT_STALE_SECONDS} s), and this owner is alive: let it finish, or cancel it`
    : 'If that run crashed, `force-unlock: true` clears its lock';
  return new StepError(
    'lock',
    `another rollout holds the lock ${path}: ${describeHolder(holder)}; waited ${formatDuration(waited)} (lock-timeout) for it. Nothing on the host was changed. ${advice}`,
    { filesMayHaveChanged: false },
  );
}

function heldLock(run: HostRun, owner: LockOwner, path: string, token: string, waited: boolean, beat: boolean): HostLock {
  let releasing: Promise<void> | undefined;
  const lost = new AbortController();
  const stopBeat = new AbortController();
  const renew = async (): Promise<boolean> => {
    if (lost.signal.aborted) return false;
    const why = await renewal(run, path, token);
    // A renewal still in flight when this run released the lock finds it gone: that is no loss.
    if (why !== undefined && !lost.signal.aborted && !stopBeat.signal.aborted) {
      run.io.log.warning(`${run.label}: ${why}: this run stops touching the host`);
      lost.abort(why);
    }
    return !lost.signal.aborted;
  };
  if (beat) void heartbeat(renew, stopBeat.signal);
  return {
    owner,
    path,
    waited,
    lost: lost.signal,
    renew,
    release: () => {
      stopBeat.abort();
      return (releasing ??= release(run, path, token));
    },
  };
}

/** Renews until stopped or lost; never keeps the process alive by itself. */
async function heartbeat(renew: () => Promise<boolean>, stop: AbortSignal): Promise<void> {
  try {
    for (;;) {
      await realSleep(HEARTBEAT_MS, undefined, { signal: stop, ref: false });
      if (!(await renew())) return;
    }
  } catch {
    // Stopped: the lock was released.
  }
}

/** One renewal: undefined while the lock is this run's, else why it is not. A failed command proves nothing either way. */
async function renewal(run: HostRun, path: string, token: string): Promise<string | undefined> {
  let result: CommandResult;
  try {
    // A lost connection is no lost lock: the renewal goes over a new one, as the release does.
    result = await runOnAnyConnection(run, renewCommand(run.settings.target, token), "to renew the lock's heartbeat");
  } catch (error) {
    run.io.log.debug(`${run.label}: the lock's heartbeat could not be renewed: ${(error as Error).message}`);
    return undefined;
  }
  const said = result.stdout
    .split('\n')
    .find((line) => line.startsWith(`${MARK} `))
    ?.slice(MARK.length + 1)
    .trim();
  if (result.code !== 0 || said === 'alive' || said === undefined) return undefined;
  if (said === 'gone') return `the lock ${path} is gone (removed by hand, or by another run's force-unlock)`;
  return `the lock ${path} was taken by ${otherOwner(result.stdout)}`;
}

/** The owner a release or a renewal found in place of this run (the owner file printed after its `other` mark). */
function otherOwner(stdout: string): string {
  const other = parseOwner(stdout.slice(stdout.indexOf(`${MARK} other`) + `${MARK} other`.length));
  return other.owner ? `run ${other.owner.runUrl} (job ${other.owner.job})` : `an unknown owner (${other.ownerProblem})`;
}

async function release(run: HostRun, path: string, token: string): Promise<void> {
  const { label, io } = run;
  const left = `the lock ${path} is left in place: the next rollout will wait for it; remove it by hand or run with \`force-unlock: true\``;
  try {
    const result = await runOnAnyConnection(run, releaseCommand(run.settings.target, token), 'to release the lock');
    const said = result.stdout
      .split('\n')
      .find((line) => line.startsWith(`${MARK} `))
      ?.slice(MARK.length + 1)
      .trim();
    if (result.code === 0 && said === 'released') {
      io.log.info(`${label}: released the lock ${path}`);
    } else if (result.code === 0 && said === 'gone') {
      io.log.warning(`${label}: the lock ${path} was already gone when this run released it (removed by hand, or by another run's force-unlock)`);
    } else if (result.code === 0 && said === 'other') {
      io.log.warning(
        `${label}: the lock ${path} is no longer this run's (another run took it with force-unlock): it now belongs to ${otherOwner(result.stdout)} and is left in place`,
      );
    } else {
      io.log.warning(
        `${label}: could not release the lock (${describeExit(result)}: ${shownHostText(result.stderr) || shownHostText(result.stdout) || 'no output'}); ${left}`,
      );
    }
  } catch (error) {
    io.log.warning(`${label}: could not release the lock (${(error as Error).message}); ${left}`);
  }
}
