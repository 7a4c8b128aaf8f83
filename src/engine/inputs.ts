import { InputError } from './input-error.js';
import { parseDuration } from './duration.js';
import { parseHostList, parseHostSpec, parsePort, parseUsername } from './host-spec.js';
import { parseKnownHosts } from './known-hosts.js';
import { parseAmount, parseShard } from './fleet-plan.js';
import type { Credentials, DeployPlan, FleetOptions, OnGracefulTimeout, OnMasterChange, ReloadMode, StatusSourceKind } from './settings.js';

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
  'poll-interval': '200ms',
  'graceful-timeout': '60s',
  'on-graceful-timeout': 'force',
  'on-master-change': 'restart',
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
  return value !== '' ? value : (DEFAULTS as Record<string, string>)[name] ?? '';
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
  if (!/^[A-Za-z0-9][A-Za-z0-9._\/+-]{0,199}$/.test(value)) throw new InputError('revision', `"${value.slice(0, 50)}" is not a revision (letters, digits, . _ / + -)`);
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

function parseCredentials(raw: RawInputs, environment: InputEnvironment): Credentials {
  const privateKey = raw('private-key').trim();
  if (privateKey !== '' && !/^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\r?\n[\s\S]+\n-----END [A-Z0-9 ]*PRIVATE KEY-----$/.test(privateKey)) {
    throw new InputError('private-key', 'does not look like a private key (expected a -----BEGIN ... PRIVATE KEY----- block)');
  }
  // Spaces can belong to a passphrase or password; a final line break (a secret saved from a file) cannot.
  const passphrase = raw('passphrase').replace(/\r?\n$/, '');
  if (passphrase !== '' && privateKey === '') throw new InputError('passphrase', 'is set but private-key is empty');
  const password = raw('password').replace(/\r?\n$/, '');
  for (const [input, value] of [['passphrase', passphrase], ['password', password]] as const) {
    if (/[\0\n\r]/.test(value)) throw new InputError(input, 'contains a line break or NUL, which no SSH prompt can take');
  }
  const agentSocket = environment.agentSocket?.trim() ?? '';
  if (privateKey === '' && password === '' && agentSocket === '') {
    throw new InputError('private-key', 'no credentials: give private-key (with passphrase if it has one), password, or run an ssh-agent (SSH_AUTH_SOCK)');
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
  if (!/^\d{1,3}$/.test(text)) throw new InputError('keep-snapshots', `"${text}" is not a number of snapshots from 0 to 999 (0 keeps none, and then nothing can be rolled back)`);
  return Number(text);
}

function parseFleet(raw: RawInputs): FleetOptions {
  const shard = parseShard(raw('shard').trim());
  const fleet: FleetOptions = {
    mode: oneOf<FleetOptions['mode']>(raw, 'mode', ['deploy', 'rollback']),
    sync: booleanInput(raw, 'sync', true),
    maxParallel: parseAmount(get(raw, 'max-parallel'), 'max-parallel', { min: 1 }),
    canary: booleanInput(raw, 'canary'),
    canarySettleMs: duration(raw, 'canary-settle', 0, 60 * 60_000),
    maxFailures: parseAmount(get(raw, 'max-failures'), 'max-failures', { min: 0 }),
    rollback: oneOf<FleetOptions['rollback']>(raw, 'rollback', ['failed-hosts', 'all', 'none']),
    keepSnapshots: keepSnapshots(raw),
    lockTimeoutMs: duration(raw, 'lock-timeout', 0, 6 * 3_600_000),
    forceUnlock: booleanInput(raw, 'force-unlock'),
    ...(shard ? { shard } : {}),
    inventory: raw('inventory').trim(),
  };
  if (fleet.mode === 'rollback' && !fleet.sync) throw new InputError('sync', 'false makes no sense with mode: rollback, which restores files');
  if (fleet.inventory !== '') noLeadingDash('inventory', fleet.inventory);
  return fleet;
}

/** Turns the action's inputs into a validated plan, before any connection is made. */
export function parseInputs(given: RawInputs, environment: InputEnvironment = {}): DeployPlan {
  // No input can carry a NUL: argument lists and remote commands end at it, silently.
  const raw: RawInputs = (name) => {
    const value = given(name);
    if (value.includes('\0')) throw new InputError(name, 'contains a NUL byte');
    return value;
  };
  const target = validateTarget(raw('target').trim());
  const port = asInput('port', () => parsePort(get(raw, 'port'), 'port'));
  const username = asInput('username', () => parseUsername(get(raw, 'username'), 'username'));
  const fleet = parseFleet(raw);
  // With an inventory, the hosts input may be empty: the inventory lists them.
  const hosts = raw('hosts').trim() === '' && fleet.inventory !== '' ? [] : asInput('hosts', () => parseHostList(raw('hosts'), { username, port }));

  const ignoreHostKeys = booleanInput(raw, 'insecure-ignore-host-key');
  const pins = asInput('known-hosts', () => parseKnownHosts(raw('known-hosts')));
  if (pins.length === 0 && !ignoreHostKeys) {
    throw new InputError('known-hosts', 'no host key is pinned; add the known_hosts lines of every host (see README: "Pinning host keys")');
  }

  const jumpText = raw('jump-host').trim();
  const jumpHost = jumpText === '' ? undefined : asInput('jump-host', () => parseHostSpec(jumpText, { username, port }));

  const credentials = parseCredentials(raw, environment);
  const source = get(raw, 'source');
  noLeadingDash('source', source);
  const givenExclude = lines(raw('exclude')).map((pattern) => noLeadingDash('exclude', pattern));
  const exclude = raw('exclude').trim() === '' ? DEFAULT_EXCLUDE : givenExclude;
  const protect = [...DEFAULT_PROTECT, ...lines(raw('protect')).map((pattern) => noLeadingDash('protect', pattern))];

  const timeoutMs = duration(raw, 'timeout', 1000, 6 * 3_600_000);
  const settleMs = duration(raw, 'settle', 0, 10 * 60_000);
  const pollIntervalMs = duration(raw, 'poll-interval', 50, 60_000);
  if (settleMs >= timeoutMs) throw new InputError('settle', `must be shorter than timeout (${get(raw, 'timeout')})`);
  if (pollIntervalMs >= timeoutMs) throw new InputError('poll-interval', `must be shorter than timeout (${get(raw, 'timeout')})`);

  const status = oneOf<StatusSourceKind>(raw, 'status', ['workerman', 'http', 'process']);
  const revision = validateRevision(raw('revision').trim() || (environment.githubSha ?? ''));
  return {
    hosts,
    hostDefaults: { username, port },
    ...(jumpHost ? { jumpHost } : {}),
    trust: { pins, ignoreHostKeys },
    credentials,
    fleet,
    rollout: {
      source,
      target,
      exclude,
      protect,
      startFile: validateStartFile(get(raw, 'start-file')),
      php: validatePhp(get(raw, 'php')),
      reloadMode: oneOf<ReloadMode>(raw, 'reload-mode', ['auto', 'graceful', 'quick']),
      status,
      statusUrl: validateStatusUrl(status, raw('status-url').trim()),
      logFile: validateLogFile(raw('log-file').trim(), target),
      ...(revision !== undefined ? { revision } : {}),
      gracefulTimeoutMs: duration(raw, 'graceful-timeout', 1000, 6 * 3_600_000),
      onGracefulTimeout: oneOf<OnGracefulTimeout>(raw, 'on-graceful-timeout', ['force', 'fail']),
      ignoreWorkers: groupNames(raw('ignore-workers')),
      onMasterChange: oneOf<OnMasterChange>(raw, 'on-master-change', ['restart', 'fail', 'reload']),
      masterFiles: lines(raw('master-files')).map(validateMasterFile),
      timeoutMs,
      settleMs,
      pollIntervalMs,
      commandTimeoutMs: duration(raw, 'command-timeout', 1000, 10 * 60_000),
      connectTimeoutMs: duration(raw, 'connect-timeout', 1000, 5 * 60_000),
    },
  };
}
