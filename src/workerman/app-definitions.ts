import DEFINITIONS_PROBE from '../remote/definitions.php';
import { describeExit, type CommandResult } from '../engine/ports.js';
import { commandLine, quote } from '../engine/shell-quote.js';
import type { RolloutSettings } from '../engine/inputs/settings.js';
import type { AppDefinitions, WorkerDefinition, WorkerStartAnswer, WorkerStartProbe } from '../engine/workers/worker-definitions.js';

/**
 * What the app's start script defines, read from the host by running it the
 * way every `php start.php <command>` does, with a probe prepended
 * (src/remote/definitions.php). The master's own facts, not a guess: which
 * groups it replaces on a reload, in which order, how many workers each, and
 * where its pid and log files are.
 */

const MARKER = '@@graceful-reload-definitions@@';
/** A command Workerman does not know: it runs the start script's top level, prints its usage and exits 0, touching nothing. */
const PROBE_COMMAND = 'graceful-reload-definitions';

export class DefinitionsError extends Error {
  override name = 'DefinitionsError';
}

/**
 * Writes the probe to a private temp file on the host, runs the start script
 * from the app directory with the probe prepended, and removes the file.
 */
export function definitionsCommand(settings: Pick<RolloutSettings, 'target' | 'startFile' | 'php'>, options: { readonly workerStart?: boolean } = {}): string {
  // The worker-start question is about the running master's code: asked before the sync, not after.
  const ask = options.workerStart === false ? 'GRACEFUL_RELOAD_WORKER_START=0 ' : '';
  return [
    `f=$(umask 077 && mktemp "\${TMPDIR:-/tmp}/graceful-reload-definitions.XXXXXX") || exit 70`,
    `trap 'rm -f "$f"' EXIT`,
    `printf '%s' ${quote(DEFINITIONS_PROBE)} > "$f"`,
    `cd ${quote(settings.target)} && ${ask}${commandLine([settings.php, '-d', 'display_errors=stderr', '-d', 'log_errors=0'])} -d auto_prepend_file="$f" ${commandLine([settings.startFile, PROBE_COMMAND])}`,
  ].join('\n');
}

/** The PHP error lines of the probe's run, to quote when the start script cannot be read. */
function phpOutput(stdout: string, stderr: string): string {
  const lines = `${stderr}\n${stdout}`
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /error|warning|exception|fatal|not found|denied/i.test(line) && !line.startsWith(MARKER));
  return lines.slice(0, 3).join(' | ') || `${stderr.trim() || stdout.trim()}`.slice(0, 300) || '(no output)';
}

function field<T>(data: Record<string, unknown>, name: string, check: (value: unknown) => value is T, expected: string, where = ''): T {
  const value = data[name];
  if (!check(value)) throw new DefinitionsError(`the definition probe's "${where}${name}" is not ${expected}: ${JSON.stringify(value)?.slice(0, 80)}`);
  return value;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isCount = (value: unknown): value is number => Number.isInteger(value) && (value as number) >= 0;
const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';
const isNumber = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value);
const isStringArray = (value: unknown): value is string[] => Array.isArray(value) && value.every(isString);
const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const isTimes = (value: unknown): value is Record<string, number> => isObject(value) && Object.values(value).every((time) => Number.isInteger(time));
const isHashes = (value: unknown): value is Record<string, string> =>
  isObject(value) && Object.values(value).every((hash) => typeof hash === 'string' && /^[0-9a-f]{64}$/.test(hash));

function parseAnswer(entry: unknown, index: number): WorkerStartAnswer {
  if (!isObject(entry)) throw new DefinitionsError(`the definition probe's workerStart.groups[${index}] is not an object`);
  const where = `workerStart.groups[${index}].`;
  const group = field(entry, 'group', isCount, 'a group index', where);
  if (entry['error'] !== undefined) return { group, error: field(entry, 'error', isString, 'a message', where) };
  return { group, reread: field(entry, 'reread', isStringArray, 'a list of paths', where) };
}

/** The worker-start answers; absent when the probe was told not to ask (GRACEFUL_RELOAD_WORKER_START=0). */
function parseWorkerStart(value: unknown): { workerStart?: WorkerStartProbe } {
  if (value === undefined) return {};
  if (!isObject(value)) throw new DefinitionsError(`the definition probe's "workerStart" is not an object: ${JSON.stringify(value)?.slice(0, 80)}`);
  if (value['error'] !== undefined) return { workerStart: { error: field(value, 'error', isString, 'a message', 'workerStart.') } };
  const groups = value['groups'];
  if (!Array.isArray(groups)) throw new DefinitionsError('the definition probe\'s "workerStart.groups" is not a list');
  return { workerStart: { groups: groups.map(parseAnswer), declaring: field(value, 'declaring', isStringArray, 'a list of paths', 'workerStart.') } };
}

function parseOpcache(value: unknown): AppDefinitions['opcache'] {
  if (!isObject(value)) throw new DefinitionsError(`the definition probe's "opcache" is not an object: ${JSON.stringify(value)?.slice(0, 80)}`);
  return {
    enableCli: field(value, 'enableCli', isBoolean, 'true or false', 'opcache.'),
    validateTimestamps: field(value, 'validateTimestamps', isBoolean, 'true or false', 'opcache.'),
    loaded: field(value, 'loaded', isBoolean, 'true or false', 'opcache.'),
  };
}

function parseGroup(entry: unknown, index: number): WorkerDefinition {
  if (!isObject(entry)) throw new DefinitionsError(`the definition probe's groups[${index}] is not an object`);
  const where = `groups[${index}].`;
  return {
    class: field(entry, 'class', isString, 'a class name', where),
    name: field(entry, 'name', isString, 'a string', where),
    count: field(entry, 'count', isCount, 'a count', where),
    reloadable: field(entry, 'reloadable', isBoolean, 'true or false', where),
    listen: field(entry, 'listen', isString, 'a listen address or none', where),
    user: field(entry, 'user', isString, 'a user name', where),
  };
}

/** Reads the probe's output; a start script that fails to load is a DefinitionsError quoting PHP. */
export function parseDefinitions(result: CommandResult): AppDefinitions {
  const line = result.stdout.split('\n').find((candidate) => candidate.startsWith(MARKER));
  if (line === undefined) {
    throw new DefinitionsError(
      `the start script could not be run to read its worker definitions (${describeExit(result)}): ${phpOutput(result.stdout, result.stderr)}`,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(line.slice(MARKER.length));
  } catch {
    throw new DefinitionsError(`the definition probe printed something that is not JSON: ${line.slice(MARKER.length, MARKER.length + 200)}`);
  }
  if (!isObject(data)) throw new DefinitionsError('the definition probe printed JSON that is not an object');
  // The app's own words (a missing .env, say) explain more than what the probe saw at shutdown.
  const said = () => {
    const output = result.stderr.trim();
    return `${output ? `. It printed: ${output.split('\n').slice(-3).join(' | ').slice(0, 300)}` : ''} (${describeExit(result)})`;
  };
  if (typeof data['error'] === 'string') {
    throw new DefinitionsError(`the start script failed while its worker definitions were read: ${data['error']}${said()}`);
  }
  const groupsValue = data['groups'];
  if (!Array.isArray(groupsValue)) throw new DefinitionsError('the definition probe\'s "groups" is not a list');
  const groups = groupsValue.map(parseGroup);
  if (groups.length === 0) throw new DefinitionsError(`the start script defines no Worker: is start-file the Workerman start script?${said()}`);
  return {
    workerman: field(data, 'workerman', isString, 'a version'),
    appDir: field(data, 'appDir', isString, 'a path'),
    php: field(data, 'php', isString, 'a version'),
    startFile: field(data, 'startFile', isString, 'a path'),
    pidFile: field(data, 'pidFile', isString, 'a path'),
    logFile: field(data, 'logFile', isString, 'a path'),
    statusFile: field(data, 'statusFile', isString, 'a path'),
    stdoutFile: field(data, 'stdoutFile', isString, 'a path'),
    stopTimeout: field(data, 'stopTimeout', isNumber, 'a number of seconds'),
    groups,
    includedFiles: field(data, 'includedFiles', isStringArray, 'a list of paths'),
    fileTimes: field(data, 'fileTimes', isTimes, 'an object of modification times'),
    ...(data['fileHashes'] === undefined ? {} : { fileHashes: field(data, 'fileHashes', isHashes, 'an object of sha-256 hashes') }),
    ...parseWorkerStart(data['workerStart']),
    opcache: parseOpcache(data['opcache']),
  };
}
export type { AppDefinitions, WorkerDefinition } from '../engine/workers/worker-definitions.js';
