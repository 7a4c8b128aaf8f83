import type { LoadedRecord } from '../engine/plan/master-change.js';
import { describeExit, type CommandResult } from '../engine/ports.js';
import { commandLine, quote } from '../engine/shell-quote.js';
import type { AppDefinitions } from '../engine/workers/worker-definitions.js';
import type { HostRun } from './context.js';
import { stateDirectory } from './host-lock.js';
import TICKS_FUNCTION from '../remote/proc-ticks.sh';
import READ_SCRIPT from '../remote/record-read.sh';
import WRITE_SCRIPT from '../remote/record-write.sh';

/**
 * The record of what a master loaded, kept on the host beside the lock
 * (/srv/.app.graceful-reload/master.json): the master's pid, its start time
 * in clock ticks since boot (field 22 of /proc/<pid>/stat, which never
 * changes for a process, unlike a wall-clock time computed from the uptime)
 * with the kernel's boot id, and the sha-256 of each file it loaded at top
 * level. A later deploy compares the files' content against it, for that
 * master only: a master started by hand since has no record, and a pid
 * reused by another process does not match its start ticks.
 */

/** What src/remote/record-read.sh prints before the record, and before the ticks and boot id now (the script holds them as text). */
const MARK = '@@graceful-reload-record@@';
const NOW_MARK = '@@graceful-reload-record-now@@';
const RECORD_FILE = 'master.json';
/**
 * The most of file names and hashes sent in the command that writes a
 * record: Linux takes at most 128 KiB in one argument, and the whole command
 * is one argument to the login shell.
 */
const MAX_FILES_JSON = 100_000;

export function recordPath(target: string): string {
  return `${stateDirectory(target)}/${RECORD_FILE}`;
}

/**
 * Appended to the preflight's command (no round trip of its own):
 * src/remote/record-read.sh prints the record, then the start ticks of the
 * pid it names and the boot id, as they are now; keeps the exit code of what
 * ran before it.
 */
export function recordReadCommand(target: string): string {
  return ['rc=$?', `rec=${quote(recordPath(target))}`, TICKS_FUNCTION, READ_SCRIPT].join('\n');
}

export function recordWriteCommand(target: string, pid: number, files: Readonly<Record<string, string>>): string {
  return commandLine(['sh', '-c', `${TICKS_FUNCTION}\n${WRITE_SCRIPT}`, 'graceful-reload-record', stateDirectory(target), String(pid), JSON.stringify(files)]);
}

/** The record of the master `masterPid`, or why there is none; `stdout` is the preflight's output. Pure. */
export function parseRecord(stdout: string, masterPid: number): { readonly record: LoadedRecord } | { readonly missing: string } {
  const lines = stdout.split('\n');
  const at = lines.lastIndexOf(MARK);
  if (at < 0) return { missing: 'the host did not answer for the record' };
  const text = lines[at + 1] ?? '';
  if (text.trim() === '') return { missing: `there is no record on the host (${RECORD_FILE})` };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return { missing: `the record is not JSON: ${text.slice(0, 80)}` };
  }
  const record = value as Record<string, unknown>;
  const files = record['files'];
  if (typeof record['pid'] !== 'number' || typeof record['startTicks'] !== 'string' || typeof files !== 'object' || files === null || Array.isArray(files)) {
    return { missing: `the record is not one of graceful-reload's (pid, startTicks, bootId, files): ${text.slice(0, 80)}` };
  }
  if (record['pid'] !== masterPid) return { missing: `the record is of master ${record['pid']}, not of the running one (${masterPid})` };
  const now = lines
    .find((line) => line.startsWith(`${NOW_MARK} `))
    ?.slice(NOW_MARK.length + 1)
    .split(' ');
  if (now?.[0] !== record['startTicks'] || now[1] !== record['bootId']) {
    return { missing: `the record's pid ${masterPid} belonged to another process (its start time or the boot differs)` };
  }
  return { record: { files: Object.fromEntries(Object.entries(files).filter((entry): entry is [string, string] => typeof entry[1] === 'string')) } };
}

/**
 * Writes the record of what `pid` loaded: `definitions` read from the tree
 * it loaded. Never throws: a deploy that succeeded stays a success, and the
 * next one falls back to file times, which the warning says.
 */
export async function recordLoaded(run: HostRun, pid: number, definitions: Pick<AppDefinitions, 'fileHashes'>): Promise<void> {
  const fallback = "the next deploy falls back to comparing file times with the master's start, a guess";
  const files = definitions.fileHashes;
  if (files === undefined) return;
  const json = JSON.stringify(files);
  if (json.length > MAX_FILES_JSON) {
    run.io.log.warning(
      `${run.label}: the record of what master ${pid} loaded was not written: ${Object.keys(files).length} files are more than one command can carry; ${fallback}`,
    );
    return;
  }
  let result: CommandResult;
  try {
    result = await run.shell.run(recordWriteCommand(run.settings.target, pid, files), { timeoutMs: run.settings.commandTimeoutMs });
  } catch (error) {
    run.io.log.warning(`${run.label}: the record of what master ${pid} loaded was not written (${(error as Error).message}); ${fallback}`);
    return;
  }
  if (result.code === 0) {
    run.io.log.info(`${run.label}: recorded what master ${pid} loaded (${Object.keys(files).length} files) in ${recordPath(run.settings.target)}`);
    return;
  }
  run.io.log.warning(
    `${run.label}: the record ${recordPath(run.settings.target)} was not written (${describeExit(result)}: ${result.stderr.trim().slice(0, 200) || 'no output'}); ${fallback}`,
  );
}
