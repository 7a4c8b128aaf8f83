import HOST_PROBE from '../remote/host-probe.php';
import { commandLine } from '../engine/shell-quote.js';

/**
 * The host probe: one PHP process per host, started once and kept running;
 * each poll is one line to it and one line back. Each answer reads:
 * - the master and its workers from /proc (PIDs, process titles that carry
 *   the group name, start times), which takes milliseconds, unlike `status`,
 *   which always waits a second;
 * - the app log's bytes past an offset, so the watch sees the master's
 *   "reloading" line and the PHP errors of a crash loop as they are written;
 * - optionally, the app's JSON status URL, fetched on the host itself so a
 *   status port bound to 127.0.0.1 works.
 * PHP is on every Workerman host, which spares us from ps and awk flavours.
 *
 * The master is found by its title `...: master process  start_file=<path>`
 * with the start file's real path (PHP resolves symlinks in the path it
 * shows). Every `php start.php <command>` process (status, reload) carries
 * that title too while it runs, so a candidate counts only if it is the
 * master already known, the pid in the pid file, or the parent of workers.
 * The pid file alone is the fallback for masters with custom titles. A master
 * in another mount namespace (a container sharing the PID namespace) runs
 * another file that merely has the same path, so it is skipped. Children not
 * yet titled as workers (just forked) are not counted.
 *
 * Reading every process costs a few milliseconds a poll on a busy host. Once
 * the master is known and still carries our title, a poll reads only it and
 * the children the kernel lists for it (/proc/<pid>/task/<pid>/children),
 * and looks up the last poll's children again by pid: the kernel may skip a
 * child while another exits, and a worker missing from one poll would count
 * as one that died. Where that list is missing, or the master is gone, it
 * reads every process again.
 * A process's title is read again only while it is under 2 s old.
 */
/** `php -r` takes code without the opening tag. */
const PROBE_SCRIPT = HOST_PROBE.replace(/^<\?php\s*/, '');

/** What the probe reads, fixed for the host's rollout. */
export interface ProbeSetup {
  readonly php: string;
  readonly startFile: string;
  readonly pidFile: string;
  /** Absolute path of the app log, or '' when none is known. */
  readonly logFile: string;
  readonly statusUrl: string;
  readonly urlTimeoutMs: number;
}

/** What one poll asks. */
export interface ProbeRequest {
  /** Read the log from this byte offset; -1 reads nothing but its size. */
  readonly logOffset: number;
  /** The master found before (0 if none yet): it stays the master while it lives, children or not. */
  readonly knownMaster: number;
}

/** The command that starts the resident probe; it answers each request line until its stdin ends. */
export function probeCommand(setup: ProbeSetup): string {
  return commandLine([
    setup.php,
    // Not -n: on PHP 7 packages json is a shared extension loaded from the ini files.
    '-d',
    'display_errors=stderr',
    '-r',
    PROBE_SCRIPT,
    '--',
    setup.startFile,
    setup.pidFile,
    setup.logFile,
    setup.statusUrl,
    String(setup.urlTimeoutMs / 1000),
  ]);
}

/** One poll, as the line the probe reads. */
export function probeRequestLine(request: ProbeRequest): string {
  return `${Math.trunc(request.logOffset)} ${Math.trunc(request.knownMaster)}\n`;
}

export interface RawProcess {
  readonly pid: number;
  readonly ppid: number;
  readonly state: string;
  /** Start time in clock ticks after boot. */
  readonly start: number;
  readonly title: string;
}

export interface ProbeResult {
  /** Host uptime, seconds. */
  readonly uptime: number;
  /** Host Unix time, seconds. */
  readonly time: number;
  readonly masters: readonly RawProcess[];
  readonly workers: readonly RawProcess[];
  readonly log?: { readonly end: number; readonly text: string };
  /** When no master of this start file runs: masters of a start file of the same name elsewhere (a switched symlink release). */
  readonly elsewhere?: readonly { readonly pid: number; readonly startFile: string }[];
  readonly http?: { readonly status?: number; readonly body?: string; readonly error?: string; readonly master_alive?: boolean };
}

export class ProbeParseError extends Error {}

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

function shapeError(field: string, expected: string, value: unknown): ProbeParseError {
  return new ProbeParseError(`the host probe printed JSON of an unexpected shape: "${field}" is not ${expected} (${JSON.stringify(value)?.slice(0, 80)})`);
}

function number(data: Json, field: string, where = ''): number {
  const value = data[field];
  if (typeof value !== 'number' || !Number.isFinite(value)) throw shapeError(`${where}${field}`, 'a number', value);
  return value;
}

function processes(data: Json, field: 'masters' | 'workers'): RawProcess[] {
  const list = data[field];
  if (!Array.isArray(list)) throw shapeError(field, 'a list', list);
  return list.map((entry, index) => {
    const where = `${field}[${index}].`;
    if (!isObject(entry)) throw shapeError(`${field}[${index}]`, 'an object', entry);
    if (typeof entry['state'] !== 'string') throw shapeError(`${where}state`, 'a process state', entry['state']);
    if (typeof entry['title'] !== 'string') throw shapeError(`${where}title`, 'a string', entry['title']);
    return {
      pid: number(entry, 'pid', where),
      ppid: number(entry, 'ppid', where),
      state: entry['state'],
      start: number(entry, 'start', where),
      title: entry['title'],
    };
  });
}

/** Reads one probe answer, checking every field the rollout uses: a garbled answer is an error, never a guess. */
export function parseProbeOutput(stdout: string): ProbeResult {
  let data: unknown;
  try {
    data = JSON.parse(stdout.trim());
  } catch {
    throw new ProbeParseError(`the host probe printed something that is not JSON: ${stdout.trim().slice(0, 200) || '(nothing)'}`);
  }
  if (!isObject(data)) throw new ProbeParseError('the host probe printed JSON of an unexpected shape: not an object');
  const result: { -readonly [K in keyof ProbeResult]: ProbeResult[K] } = {
    uptime: number(data, 'uptime'),
    time: number(data, 'time'),
    masters: processes(data, 'masters'),
    workers: processes(data, 'workers'),
  };
  const elsewhere = data['elsewhere'];
  if (elsewhere !== undefined) {
    if (!Array.isArray(elsewhere)) throw shapeError('elsewhere', 'a list', elsewhere);
    result.elsewhere = elsewhere.map((entry, index) => {
      if (!isObject(entry) || typeof entry['startFile'] !== 'string') throw shapeError(`elsewhere[${index}]`, 'a master and its start file', entry);
      return { pid: number(entry, 'pid', `elsewhere[${index}].`), startFile: entry['startFile'] };
    });
  }
  const log = data['log'];
  if (log !== undefined) {
    if (!isObject(log) || typeof log['text'] !== 'string') throw shapeError('log', 'an object with end and text', log);
    result.log = { end: number(log, 'end', 'log.'), text: log['text'] };
  }
  const http = data['http'];
  if (http !== undefined) {
    if (!isObject(http)) throw shapeError('http', 'an object', http);
    const { status, body, error, master_alive: alive } = http;
    if (status !== undefined && typeof status !== 'number') throw shapeError('http.status', 'a number', status);
    if (body !== undefined && typeof body !== 'string') throw shapeError('http.body', 'a string', body);
    if (error !== undefined && typeof error !== 'string') throw shapeError('http.error', 'a string', error);
    if (alive !== undefined && typeof alive !== 'boolean') throw shapeError('http.master_alive', 'true or false', alive);
    result.http = {
      ...(status !== undefined ? { status } : {}),
      ...(body !== undefined ? { body } : {}),
      ...(error !== undefined ? { error } : {}),
      ...(alive !== undefined ? { master_alive: alive } : {}),
    };
  }
  return result;
}

/** Linux exposes start times in USER_HZ ticks, which is 100 on every architecture Workerman runs on. */
export const TICKS_PER_SECOND = 100;

/**
 * `s`: a group name may hold a newline (Workerman titles the process with it
 * as given), and a title that does not parse is a worker matched to no
 * definition, which the reload never signals.
 */
const WORKER_TITLE = /: worker process\s+(.*) (\S+)$/s;

export function parseWorkerTitle(title: string): { group: string; listen: string } | null {
  const match = WORKER_TITLE.exec(title);
  return match ? { group: match[1]!, listen: match[2]! } : null;
}
