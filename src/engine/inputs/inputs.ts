/**
 * src/engine/inputs/: the action's inputs, read and validated before any
 * connection: this file (parseInputs, the plan of a whole run), the inventory,
 * host specs, pinned host keys, the settings' types and the fleet plan and
 * failure budget. Imported by the rest of the engine and by every folder that
 * starts or runs a deployment; it imports only src/engine/.
 */

import { InputError } from './input-error.js';
import { parseDuration } from '../units.js';
import { parseHostList, parseHostSpec, parsePort, parseUsername } from './host-spec.js';
import { parseKnownHosts } from './known-hosts.js';
import { parseAmount, parseShard, type Amount } from './fleet-plan.js';
import type {
  Credentials,
  DeployPlan,
  DrainSettings,
  HookSettings,
  FleetOptions,
  OnGracefulTimeout,
  OnMasterChange,
  ReloadMode,
  RolloutSettings,
  StatusSourceKind,
} from './settings.js';

/** Raw inputs by their action.yml names; a missing input is the empty string, as on a runner. */
export type RawInputs = (name: string) => string;

/** What the plan takes from the environment rather than from inputs. */
export interface InputEnvironment {
  /** GITHUB_SHA: the default revision. */
  readonly githubSha?: string;
  /** SSH_AUTH_SOCK: a running ssh-agent. */
  readonly agentSocket?: string;
}

export { InputError };

/**
 * Files Workerman writes next to the app that a sync with --delete must keep:
 * its pid file (`workerman.<start>.pid`), its log and its status file, wherever
 * in the tree they live.
 */
export const DEFAULT_PROTECT = ['*.pid', '*.log', '*.status'];

/** Never deployed unless the user lists their own excludes: the repository's history has no place in a live app directory. */
export const DEFAULT_EXCLUDE = ['.git/'];

const DEFAULTS = {
  username: 'root',
  port: '22',
  source: '.',
  'start-file': 'start.php',
  php: 'php',
  'reload-mode': 'auto',
  status: 'workerman',
  timeout: '5m',
  settle: '5s',
  'poll-interval': '50ms',
  'graceful-timeout': '60s',
  'on-graceful-timeout': 'force',
  'on-master-change': 'restart',
  'stop-timeout': '2s',
  drain: 'restart',
  'drain-wait': '0s',
  'before-reload-on': 'first',
  'hook-timeout': '10m',
  mode: 'deploy',
  sync: 'true',
  'max-parallel': '1',
  'canary-settle': '30s',
  'max-failures': '0',
  rollback: 'failed-hosts',
  'keep-snapshots': '3',
  'lock-timeout': '2m',
  'command-timeout': '15s',
  'connect-timeout': '20s',
} as const;

function get(raw: RawInputs, name: string): string {
  const value = raw(name).trim();
  return value !== '' ? value : ((DEFAULTS as Record<string, string>)[name] ?? '');
}

function noLeadingDash(input: string, value: string): string {
  if (value.startsWith('-')) throw new InputError(input, `"${value}" starts with "-", which a command would read as an option`);
  return value;
}

function lines(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/**
 * Runs a parser and reports its error as the input's, without the parser's own
 * prefix. An InputError (a NUL byte, say) already names its input and passes through.
 */
function asInput<T>(input: string, parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof InputError) throw error;
    const message = (error as Error).message.replace(/^(hosts entry |hosts: |port: |username: |known-hosts )/, '');
    throw new InputError(input, message);
  }
}

function duration(raw: RawInputs, input: string, minMs: number, maxMs: number): number {
  const ms = asInput(input, () => parseDuration(get(raw, input)));
  if (ms < minMs || ms > maxMs) {
    throw new InputError(input, `${get(raw, input)} is out of range (${minMs} ms to ${maxMs / 1000} s)`);
  }
  return ms;
}

function oneOf<T extends string>(raw: RawInputs, input: string, allowed: readonly T[]): T {
  const value = get(raw, input);
  if (!(allowed as readonly string[]).includes(value)) {
    throw new InputError(input, `"${value}" is not one of: ${allowed.join(', ')}`);
  }
  return value as T;
}

export function validateTarget(value: string): string {
  if (value === '') throw new InputError('target', 'is required: the absolute path of the live app directory on the host, e.g. /srv/app');
  if (!value.startsWith('/')) throw new InputError('target', `"${value}" is not an absolute path`);
  const normalized = value.replace(/\/+$/, '');
  if (normalized === '') throw new InputError('target', '"/" would let the sync delete the whole file system');
  if (normalized.split('/').some((segment) => segment === '..' || segment === '.')) {
    throw new InputError('target', `"${value}" contains a "." or ".." segment`);
  }
  if (/[\0\n\r]/.test(value)) throw new InputError('target', 'contains a control character');
  return normalized;
}

export function validateStartFile(value: string): string {
  if (value.startsWith('/')) throw new InputError('start-file', `"${value}" must be relative to target`);
  noLeadingDash('start-file', value);
  if (value.split('/').some((segment) => segment === '..' || segment === '')) {
    throw new InputError('start-file', `"${value}" must stay inside target (no "..", no empty segments)`);
  }
  if (!value.endsWith('.php')) throw new InputError('start-file', `"${value}" is not a .php file`);
  return value;
}

function validatePhp(value: string): string {
  noLeadingDash('php', value);
  const name = /^[A-Za-z0-9_+][A-Za-z0-9_.+-]*$/;
  const path = /^(\/[A-Za-z0-9_+][A-Za-z0-9_.+-]*)+$/;
  if (!(name.test(value) || path.test(value)) || value.split('/').includes('..')) {
    throw new InputError('php', `"${value}" must be a command name (php8.2) or an absolute path (/usr/bin/php)`);
  }
  return value;
}

export function validateStatusUrl(kind: StatusSourceKind, value: string): string {
  if (kind !== 'http') {
    if (value !== '') throw new InputError('status-url', `is only used with status: http (status is ${kind})`);
    return '';
  }
  if (value === '') throw new InputError('status-url', 'is required with status: http, e.g. http://127.0.0.1:9090/status');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InputError('status-url', `"${value}" is not a URL; expected e.g. http://127.0.0.1:9090/status`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InputError('status-url', `"${value}" must be http:// or https://`);
  return url.href;
}

function validateLogFile(value: string, target: string): string {
  if (value === '') return '';
  noLeadingDash('log-file', value);
  const path = value.startsWith('/') ? value : `${target}/${value}`;
  if (path.split('/').some((segment) => segment === '..') || /[\0\n\r]/.test(path)) {
    throw new InputError('log-file', `"${value}" must be a plain path (no "..")`);
  }
  return path;
}

function validateRevision(value: string): string | undefined {
  if (value === '') return undefined;
  if (!/^[A-Za-z0-9][A-Za-z0-9._/+-]{0,199}$/.test(value))
    throw new InputError('revision', `"${value.slice(0, 50)}" is not a revision (letters, digits, . _ / + -)`);
  return value;
}

function validateMasterFile(glob: string): string {
  if (glob.startsWith('/') || glob.split('/').includes('..')) {
    throw new InputError('master-files', `"${glob}" must be a glob relative to target (e.g. .env or config/*.php)`);
  }
  return glob;
}

function booleanInput(raw: RawInputs, input: string, fallback = false): boolean {
  const value = raw(input).trim().toLowerCase();
  if (value === '') return fallback;
  if (value === 'false') return false;
  if (value === 'true') return true;
  throw new InputError(input, `"${raw(input).trim()}" is not true or false`);
}

function parseCredentials(raw: RawInputs, environment: InputEnvironment, problems: InputProblems): Credentials {
  const privateKey = problems.check(() => raw('private-key').trim(), '');
  if (privateKey !== '' && !/^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\r?\n[\s\S]+\n-----END [A-Z0-9 ]*PRIVATE KEY-----$/.test(privateKey)) {
    problems.add(new InputError('private-key', 'does not look like a private key (expected a -----BEGIN ... PRIVATE KEY----- block)'));
  }
  // Spaces can belong to a passphrase or password; a final line break (a secret saved from a file) cannot.
  const secret = (input: 'passphrase' | 'password') =>
    problems.check(() => {
      const value = raw(input).replace(/\r?\n$/, '');
      if (/[\0\n\r]/.test(value)) throw new InputError(input, 'contains a line break or NUL, which no SSH prompt can take');
      return value;
    }, '');
  const passphrase = secret('passphrase');
  const password = secret('password');
  if (passphrase !== '' && privateKey === '' && !problems.bad('private-key')) problems.add(new InputError('passphrase', 'is set but private-key is empty'));
  const agentSocket = environment.agentSocket?.trim() ?? '';
  if (privateKey === '' && password === '' && agentSocket === '' && !problems.bad('private-key', 'password')) {
    problems.add(
      new InputError('private-key', 'no credentials: give private-key (with passphrase if it has one), password, or run an ssh-agent (SSH_AUTH_SOCK)'),
    );
  }
  return {
    ...(privateKey !== '' ? { privateKey: `${privateKey}\n` } : {}),
    ...(passphrase !== '' ? { passphrase } : {}),
    ...(password !== '' ? { password } : {}),
    ...(agentSocket !== '' ? { agentSocket } : {}),
  };
}

function groupNames(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((name) => name.trim())
    .filter((name) => name !== '');
}

function keepSnapshots(raw: RawInputs): number {
  const text = get(raw, 'keep-snapshots');
  if (!/^\d{1,3}$/.test(text))
    throw new InputError('keep-snapshots', `"${text}" is not a number of snapshots from 0 to 999 (0 keeps none, and then nothing can be rolled back)`);
  return Number(text);
}

/** A stand-in amount for a bad max-parallel or max-failures: the plan is refused anyway. */
const ONE: Amount = { kind: 'count', value: 1 };

function parseFleet(raw: RawInputs, problems: InputProblems): FleetOptions {
  const { check } = problems;
  const shard = check(() => parseShard(raw('shard').trim()), undefined);
  const mode = check(() => oneOf<FleetOptions['mode']>(raw, 'mode', ['deploy', 'rollback']), 'deploy');
  const sync = check(() => booleanInput(raw, 'sync', true), true);
  if (mode === 'rollback' && !sync) problems.add(new InputError('sync', 'false makes no sense with mode: rollback, which restores files'));
  return {
    mode,
    sync,
    maxParallel: check(() => parseAmount(get(raw, 'max-parallel'), 'max-parallel', { min: 1 }), ONE),
    canary: check(() => booleanInput(raw, 'canary'), false),
    canarySettleMs: check(() => duration(raw, 'canary-settle', 0, 60 * 60_000), 0),
    maxFailures: check(() => parseAmount(get(raw, 'max-failures'), 'max-failures', { min: 0 }), ONE),
    rollback: check(() => oneOf<FleetOptions['rollback']>(raw, 'rollback', ['failed-hosts', 'all', 'none']), 'none'),
    keepSnapshots: check(() => keepSnapshots(raw), 0),
    lockTimeoutMs: check(() => duration(raw, 'lock-timeout', 0, 6 * 3_600_000), 0),
    forceUnlock: check(() => booleanInput(raw, 'force-unlock'), false),
    dryRun: check(() => booleanInput(raw, 'dry-run'), false),
    ...(shard ? { shard } : {}),
    inventory: check(() => {
      const inventory = raw('inventory').trim();
      return inventory === '' ? '' : noLeadingDash('inventory', inventory);
    }, ''),
  };
}

/**
 * Every bad input of a run, the first problem of each: the user fixes them
 * all in one go instead of one per run. A check that depends on another input
 * is skipped while that input is bad, so one mistake is reported once.
 */
class InputProblems {
  private readonly found = new Map<string, InputError>();

  add(error: InputError): void {
    if (!this.found.has(error.input)) this.found.set(error.input, error);
  }

  /** The parsed value, or `fallback` when the input is bad (then no plan is returned, so the fallback only keeps later checks going). */
  readonly check = <T>(parse: () => T, fallback: T): T => {
    try {
      return parse();
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      this.add(error);
      return fallback;
    }
  };

  bad(...inputs: string[]): boolean {
    return inputs.some((input) => this.found.has(input));
  }

  throwIfAny(): void {
    if (this.found.size > 0) throw InputError.all([...this.found.values()]);
  }
}

/** drain-command and its companions; an undrain with nothing drained is a mistake worth saying. */
function parseDrain(raw: RawInputs, problems: InputProblems): DrainSettings {
  const { check } = problems;
  const command = raw('drain-command').trim();
  const undrainCommand = raw('undrain-command').trim();
  if (undrainCommand !== '' && command === '') {
    problems.add(new InputError('undrain-command', 'is set but drain-command is not: give the command that takes the host out of the load balancer too'));
  }
  return {
    command,
    undrainCommand,
    waitMs: check(() => duration(raw, 'drain-wait', 0, 10 * 60_000), 0),
    when: check(() => oneOf<DrainSettings['when']>(raw, 'drain', ['restart', 'always']), 'restart'),
  };
}

/** before-reload and after-reload, run on the host; multi-line commands are kept as written. */
function parseHooks(raw: RawInputs, problems: InputProblems): HookSettings {
  const { check } = problems;
  return {
    beforeReload: raw('before-reload').trim(),
    beforeReloadOn: check(() => oneOf<HookSettings['beforeReloadOn']>(raw, 'before-reload-on', ['first', 'each']), 'first'),
    afterReload: raw('after-reload').trim(),
    timeoutMs: check(() => duration(raw, 'hook-timeout', 1000, 6 * 3_600_000), 0),
  };
}

/** No input can carry a NUL: argument lists and remote commands end at it, silently. */
function withoutNul(given: RawInputs): RawInputs {
  return (name) => {
    const value = given(name);
    if (value.includes('\0')) throw new InputError(name, 'contains a NUL byte');
    return value;
  };
}

/** The pinned host keys, or the explicit choice not to check them: one of the two is required. */
function parseTrust(raw: RawInputs, problems: InputProblems): DeployPlan['trust'] {
  const { check } = problems;
  const ignoreHostKeys = check(() => booleanInput(raw, 'insecure-ignore-host-key'), false);
  const pins = check(() => asInput('known-hosts', () => parseKnownHosts(raw('known-hosts'))), []);
  if (pins.length === 0 && !ignoreHostKeys && !problems.bad('known-hosts', 'insecure-ignore-host-key')) {
    problems.add(new InputError('known-hosts', 'no host key is pinned; add the known_hosts lines of every host (see README: "Pinning host keys")'));
  }
  return { pins, ignoreHostKeys };
}

/** What is synced: the source and its exclude and protect patterns, none of which may pass for an rsync option. */
function parseFiles(raw: RawInputs, problems: InputProblems): Pick<RolloutSettings, 'source' | 'exclude' | 'protect'> {
  const { check } = problems;
  const source = check(() => noLeadingDash('source', get(raw, 'source')), '.');
  const exclude = check(() => (raw('exclude').trim() === '' ? DEFAULT_EXCLUDE : lines(raw('exclude')).map((pattern) => noLeadingDash('exclude', pattern))), []);
  const protect = [...DEFAULT_PROTECT, ...check(() => lines(raw('protect')).map((pattern) => noLeadingDash('protect', pattern)), [])];
  return { source, exclude, protect };
}

/** The reload's timeout, and settle and poll-interval, which must each be shorter than it. */
function parseWatchTimes(raw: RawInputs, problems: InputProblems): Pick<RolloutSettings, 'timeoutMs' | 'settleMs' | 'pollIntervalMs'> {
  const { check } = problems;
  const timeoutMs = check(() => duration(raw, 'timeout', 1000, 6 * 3_600_000), 0);
  const settleMs = check(() => duration(raw, 'settle', 0, 10 * 60_000), 0);
  const pollIntervalMs = check(() => duration(raw, 'poll-interval', 20, 60_000), 0);
  if (!problems.bad('timeout', 'settle') && settleMs >= timeoutMs)
    problems.add(new InputError('settle', `must be shorter than timeout (${get(raw, 'timeout')})`));
  if (!problems.bad('timeout', 'poll-interval') && pollIntervalMs >= timeoutMs)
    problems.add(new InputError('poll-interval', `must be shorter than timeout (${get(raw, 'timeout')})`));
  return { timeoutMs, settleMs, pollIntervalMs };
}

/** Everything one host's rollout needs to know, given the target, the files and the watch's times read before. */
function parseRollout(
  raw: RawInputs,
  problems: InputProblems,
  environment: InputEnvironment,
  read: Pick<RolloutSettings, 'target' | 'source' | 'exclude' | 'protect' | 'timeoutMs' | 'settleMs' | 'pollIntervalMs'>,
): RolloutSettings {
  const { check } = problems;
  const status = check(() => oneOf<StatusSourceKind>(raw, 'status', ['workerman', 'http', 'process']), 'workerman');
  const statusUrl = problems.bad('status') ? '' : check(() => validateStatusUrl(status, raw('status-url').trim()), '');
  const revision = check(() => validateRevision(raw('revision').trim() || (environment.githubSha ?? '')), undefined);
  const { target, source, exclude, protect, timeoutMs, settleMs, pollIntervalMs } = read;
  return {
    source,
    target,
    exclude,
    protect,
    startFile: check(() => validateStartFile(get(raw, 'start-file')), 'start.php'),
    php: check(() => validatePhp(get(raw, 'php')), 'php'),
    reloadMode: check(() => oneOf<ReloadMode>(raw, 'reload-mode', ['auto', 'graceful', 'quick']), 'auto'),
    status,
    statusUrl,
    logFile: problems.bad('target') ? '' : check(() => validateLogFile(raw('log-file').trim(), target), ''),
    ...(revision !== undefined ? { revision } : {}),
    gracefulTimeoutMs: check(() => duration(raw, 'graceful-timeout', 1000, 6 * 3_600_000), 0),
    onGracefulTimeout: check(() => oneOf<OnGracefulTimeout>(raw, 'on-graceful-timeout', ['force', 'fail']), 'fail'),
    ignoreWorkers: check(() => groupNames(raw('ignore-workers')), []),
    onMasterChange: check(() => oneOf<OnMasterChange>(raw, 'on-master-change', ['restart', 'fail', 'reload']), 'fail'),
    masterFiles: check(() => lines(raw('master-files')).map(validateMasterFile), []),
    stopTimeoutMs: check(() => duration(raw, 'stop-timeout', 0, 5 * 60_000), 0),
    drain: parseDrain(raw, problems),
    hooks: parseHooks(raw, problems),
    timeoutMs,
    settleMs,
    pollIntervalMs,
    commandTimeoutMs: check(() => duration(raw, 'command-timeout', 1000, 10 * 60_000), 0),
    connectTimeoutMs: check(() => duration(raw, 'connect-timeout', 1000, 5 * 60_000), 0),
  };
}

/** Turns the action's inputs into a validated plan, before any connection is made; an InputError names every bad input. */
export function parseInputs(given: RawInputs, environment: InputEnvironment = {}): DeployPlan {
  const raw = withoutNul(given);
  const problems = new InputProblems();
  const { check } = problems;
  const target = check(() => validateTarget(raw('target').trim()), '/');
  const port = check(() => asInput('port', () => parsePort(get(raw, 'port'), 'port')), 22);
  const username = check(() => asInput('username', () => parseUsername(get(raw, 'username'), 'username')), 'root');
  const fleet = parseFleet(raw, problems);
  // With an inventory, the hosts input may be empty: the inventory lists them.
  const hosts = check(
    () => (raw('hosts').trim() === '' && raw('inventory').trim() !== '' ? [] : asInput('hosts', () => parseHostList(raw('hosts'), { username, port }))),
    [],
  );
  const trust = parseTrust(raw, problems);
  const jumpHost = check(() => {
    const jumpText = raw('jump-host').trim();
    return jumpText === '' ? undefined : asInput('jump-host', () => parseHostSpec(jumpText, { username, port }));
  }, undefined);
  const credentials = parseCredentials(raw, environment, problems);
  const files = parseFiles(raw, problems);
  const rollout = parseRollout(raw, problems, environment, { target, ...files, ...parseWatchTimes(raw, problems) });
  problems.throwIfAny();
  return { hosts, hostDefaults: { username, port }, ...(jumpHost ? { jumpHost } : {}), trust, credentials, fleet, rollout };
}
