/**
 * The `inventory` input: a YAML file in the repository (its path relative to
 * the workspace) that lists hosts with per-host settings, next to or instead of
 * the `hosts` input.
 *
 * ```yaml
 * hosts:
 *   - host: web1.example.com          # required: [user@]host[:port], as in the hosts input
 *     user: deploy                    # optional: SSH user (default: the username input)
 *     port: 2222                      # optional: SSH port (default: the port input)
 *     target: /srv/app                # optional: this host's target (absolute, not /, no ..)
 *     start-file: start.php           # optional: this host's start-file (relative to target, .php)
 *     status-url: http://127.0.0.1:9090/status   # optional: this host's status-url (for status: http)
 *     labels: [eu, canary]            # optional: names to tell hosts apart (letters, digits, _ . -)
 *   - deploy@web2.example.com:2222    # a plain entry is short for { host: ... }
 * ```
 *
 * Rules:
 * - The file is one YAML document whose top level is a mapping with one key,
 *   `hosts`: a non-empty list. Each entry is a mapping with the keys above, or a
 *   plain `[user@]host[:port]` string.
 * - Every value is read as text (YAML's failsafe schema): `port: 2222` and
 *   `port: "2222"` are the same, `labels: [no, 2024]` are the labels "no" and
 *   "2024", and nothing is silently turned into a boolean or a number (0x16 is
 *   not a port).
 * - A key not listed above is an error (a misspelt `taget` must not deploy to
 *   the default target), and so is a key given twice, a tag YAML does not
 *   know (`!!str` is fine), a value with a control character, or a user or
 *   port written both inside `host` and as its own key.
 * - Two entries for the same host and port are an error.
 * - Anchors and aliases (`&eu` / `*eu`) may be used.
 *
 * Every error is an InputError of `inventory`, naming the entry (its position,
 * from 1, its host and its line), the key and the form expected.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import { parseHostSpec, parsePort, parseUsername, type HostSpec } from './host-spec.js';
import { InputError } from './input-error.js';
import { validateStartFile, validateStatusUrl, validateTarget } from './inputs.js';

/** Per-host settings the inventory gives, each replacing the action input of the same name for that host. */
export interface HostOverrides {
  readonly target?: string;
  readonly startFile?: string;
  readonly statusUrl?: string;
}

export interface InventoryHost {
  /**
   * Where to connect. Its label is `[user@]host[:port]` with the user and port
   * only where the entry names them (in `host` or as `user` / `port`).
   */
  readonly spec: HostSpec;
  readonly overrides: HostOverrides;
  readonly labels: readonly string[];
}

const KEYS = ['host', 'user', 'port', 'target', 'start-file', 'status-url', 'labels'] as const;
type Key = (typeof KEYS)[number];
const LABEL = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const CONTROL = /[\u0000-\u001f\u007f]/;

function fail(problem: string): never {
  throw new InputError('inventory', problem);
}

/** An action input validator's message, without the `input <name>: ` prefix its InputError carries. */
function problemOf(error: unknown, input: string): string {
  const message = (error as Error).message;
  return message.startsWith(`input ${input}: `) ? message.slice(`input ${input}: `.length) : message;
}

/** The first line of a YAML library message ("Map keys must be unique at line 3, column 5"), without the quoted source. */
function yamlProblem(message: string): string {
  return (message.split('\n')[0] ?? '').replace(/:$/, '');
}

/** Whether a spec's label names its user, i.e. the user was written rather than defaulted. */
function namesUser(spec: HostSpec): boolean {
  return spec.label.includes('@');
}

/** The identity of a host in a fleet: the same host name (case aside) on the same port is the same sshd. */
function hostKey(spec: HostSpec): string {
  return `${spec.host.toLowerCase()} port ${spec.port}`;
}

class Entry {
  constructor(
    private readonly doc: Document,
    private readonly position: number,
    private readonly line: number | undefined,
    private host: string | undefined,
  ) {}

  name(): string {
    const where = [this.host, this.line !== undefined ? `line ${this.line}` : undefined].filter((part) => part !== undefined);
    return `hosts entry ${this.position}${where.length > 0 ? ` (${where.join(', ')})` : ''}`;
  }

  named(host: string): void {
    this.host = host;
  }

  fail(key: Key | undefined, problem: string): never {
    fail(`${this.name()}: ${key !== undefined ? `${key}: ` : ''}${problem}`);
  }

  resolve(node: unknown, key?: Key): unknown {
    if (!isAlias(node)) return node;
    const target = node.resolve(this.doc);
    if (target === undefined) this.fail(key, `the alias *${node.source} names no anchor before it`);
    return target;
  }

  /** A text value: a scalar, with no control character, not empty. */
  text(key: Key, node: unknown, expected: string): string {
    const value = this.resolve(node, key);
    if (!isScalar(value) || typeof value.value !== 'string')
      this.fail(
        key,
        `expected ${expected}, not a ${
          isSeq(value) ? 'list'
          : isMap(value) ? 'mapping'
          : 'null'
        }`,
      );
    const text = value.value.trim();
    if (text === '') this.fail(key, `is empty; expected ${expected}`);
    if (CONTROL.test(text)) this.fail(key, 'contains a control character (a line break, tab or NUL)');
    return text;
  }
}

/** A scalar's text, when it is a plain one-line string, to name the entry in messages. */
function hostHint(node: unknown): string | undefined {
  if (!isScalar(node) || typeof node.value !== 'string') return undefined;
  const text = node.value.trim();
  return text !== '' && text.length <= 100 && !CONTROL.test(text) ? text : undefined;
}

function parseEntry(doc: Document, node: unknown, position: number, lines: LineCounter, defaults: { username: string; port: number }): InventoryHost {
  const offset = (node as Node | null)?.range?.[0];
  const line = offset !== undefined ? lines.linePos(offset).line : undefined;
  const item = isAlias(node) ? node.resolve(doc) : node;
  const entry: Entry = new Entry(doc, position, line, isMap(item) ? hostHint(item.get('host', true)) : hostHint(item));
  if (item === undefined) entry.fail(undefined, `the alias *${(node as { source: string }).source} names no anchor before it`);

  if (isScalar(item)) {
    const text = entry.text('host', item, '[user@]host[:port]');
    return { spec: hostSpec(entry, text, undefined, undefined, defaults), overrides: {}, labels: [] };
  }
  if (!isMap(item)) entry.fail(undefined, `expected a mapping (host: ..., target: ...) or a [user@]host[:port] string, not a ${isSeq(item) ? 'list' : 'null'}`);

  const fields = new Map<Key, unknown>();
  for (const pair of item.items) {
    const key = entry.resolve(pair.key);
    const name = isScalar(key) && typeof key.value === 'string' ? key.value : undefined;
    if (name === undefined || !(KEYS as readonly string[]).includes(name)) {
      const shown = name !== undefined && !CONTROL.test(name) ? `"${name.slice(0, 40)}"` : 'that is not a plain name';
      entry.fail(undefined, `unknown key ${shown}; expected one of: ${KEYS.join(', ')}`);
    }
    fields.set(name as Key, pair.value);
  }

  if (!fields.has('host')) entry.fail(undefined, 'has no host; expected host: [user@]host[:port]');
  const hostText = entry.text('host', fields.get('host'), '[user@]host[:port]');
  const user = fields.has('user') ? entry.text('user', fields.get('user'), 'a user name, e.g. deploy') : undefined;
  const port = fields.has('port') ? entry.text('port', fields.get('port'), 'a TCP port (1-65535)') : undefined;
  const spec = hostSpec(entry, hostText, user, port, defaults);

  const overrides: { target?: string; startFile?: string; statusUrl?: string } = {};
  if (fields.has('target')) {
    const value = entry.text('target', fields.get('target'), 'an absolute path, e.g. /srv/app');
    overrides.target = validated(entry, 'target', () => validateTarget(value));
  }
  if (fields.has('start-file')) {
    const value = entry.text('start-file', fields.get('start-file'), 'a .php file relative to target, e.g. start.php');
    overrides.startFile = validated(entry, 'start-file', () => validateStartFile(value));
  }
  if (fields.has('status-url')) {
    const value = entry.text('status-url', fields.get('status-url'), 'an http:// or https:// URL, e.g. http://127.0.0.1:9090/status');
    overrides.statusUrl = validated(entry, 'status-url', () => validateStatusUrl('http', value));
  }
  return { spec, overrides, labels: fields.has('labels') ? labels(entry, fields.get('labels')) : [] };
}

/** Runs an action input's validator on an inventory value, and reports its error as the entry's. */
function validated(entry: Entry, key: Key, validate: () => string): string {
  try {
    return validate();
  } catch (error) {
    entry.fail(key, problemOf(error, key));
  }
}

function hostSpec(entry: Entry, hostText: string, user: string | undefined, port: string | undefined, defaults: { username: string; port: number }): HostSpec {
  const at = hostText.lastIndexOf('@');
  const address = hostText.slice(at + 1);
  const hasPort = address.startsWith('[') ? address.includes(']:') : address.includes(':');
  if (user !== undefined && at >= 0) entry.fail('user', `is given twice, in host ("${hostText}") and as user; keep one`);
  if (port !== undefined && hasPort) entry.fail('port', `is given twice, in host ("${hostText}") and as port; keep one`);
  if (user !== undefined) checked(entry, 'user', () => parseUsername(user, 'user'));
  const portNumber = port !== undefined ? checked(entry, 'port', () => parsePort(port, 'port')) : undefined;
  const label = `${user !== undefined ? `${user}@` : ''}${hostText}${portNumber !== undefined ? `:${portNumber}` : ''}`;
  const spec = checked(entry, 'host', () => parseHostSpec(label, defaults), `hosts entry "${label}": `);
  entry.named(spec.label);
  return spec;
}

/** Runs one of host-spec.ts's parsers, and reports its error (without its own `<key>: ` or given prefix) as the entry's. */
function checked<T>(entry: Entry, key: Key, parse: () => T, prefix = `${key}: `): T {
  try {
    return parse();
  } catch (error) {
    const message = (error as Error).message;
    entry.fail(key, message.startsWith(prefix) ? message.slice(prefix.length) : message);
  }
}

function labels(entry: Entry, node: unknown): string[] {
  const list = entry.resolve(node, 'labels');
  const expected = 'a list of labels, e.g. [eu, canary] (letters, digits, _ . -, starting with a letter or digit)';
  if (!isSeq(list)) entry.fail('labels', `expected ${expected}`);
  const result: string[] = [];
  for (const item of list.items) {
    const label = entry.text('labels', item, expected);
    if (!LABEL.test(label)) entry.fail('labels', `"${label.slice(0, 70)}" is not a label; expected ${expected}`);
    if (!result.includes(label)) result.push(label);
  }
  return result;
}

/**
 * Reads an inventory file's text (format above). `defaults` are the username
 * and port inputs, for entries that name no user or port.
 */
export function parseInventory(text: string, defaults: { username: string; port: number }): InventoryHost[] {
  if (text.includes('\0')) fail('the file contains a NUL byte; expected a YAML text file');
  const lines = new LineCounter();
  const doc = parseDocument(text, { schema: 'failsafe', lineCounter: lines, prettyErrors: true, uniqueKeys: true });
  const problem = doc.errors[0] ?? doc.warnings[0];
  if (problem) fail(`not valid YAML: ${yamlProblem(problem.message)}`);
  const expected = 'expected one top-level key, hosts, holding a list of entries such as "- host: web1.example.com"';
  const top = doc.contents;
  if (top === null || (isScalar(top) && (top.value === '' || top.value === null))) fail(`the file is empty; ${expected}`);
  if (!isMap(top)) fail(`the top level is a ${isSeq(top) ? 'list' : 'text'}; ${expected}`);
  let hostsNode: unknown;
  for (const pair of top.items) {
    const key = isScalar(pair.key) && typeof pair.key.value === 'string' ? pair.key.value : undefined;
    if (key !== 'hosts') {
      const shown = key !== undefined && !CONTROL.test(key) ? `"${key.slice(0, 40)}"` : 'that is not a plain name';
      fail(`unknown top-level key ${shown}; expected only hosts`);
    }
    hostsNode = isAlias(pair.value) ? pair.value.resolve(doc) : pair.value;
  }
  if (hostsNode === undefined) fail(`has no hosts; ${expected}`);
  if (!isSeq(hostsNode)) fail(`hosts is not a list; ${expected}`);
  if (hostsNode.items.length === 0) fail(`hosts lists no host; ${expected}`);

  const hosts: InventoryHost[] = [];
  const seen = new Map<string, { position: number; label: string }>();
  hostsNode.items.forEach((node, i) => {
    const host = parseEntry(doc, node, i + 1, lines, defaults);
    const key = hostKey(host.spec);
    const earlier = seen.get(key);
    if (earlier) {
      fail(
        `hosts entry ${i + 1} ("${host.spec.label}") is the same host and port as hosts entry ${earlier.position} ("${earlier.label}"); list each host once`,
      );
    }
    seen.set(key, { position: i + 1, label: host.spec.label });
    hosts.push(host);
  });
  return hosts;
}

/**
 * The fleet: the hosts input, then the inventory's hosts that are not in it.
 * A host in both (the same host name, case aside, and port) is deployed once,
 * in the hosts input's place, with the inventory's overrides and labels. Its
 * user is the one written (in the hosts input or in the inventory); written in
 * both and different, it is an error, as is a host listed twice in the hosts
 * input (the same host and port, even with two users) and a fleet of no host.
 */
export function mergeHosts(fromInput: readonly HostSpec[], fromInventory: readonly InventoryHost[]): InventoryHost[] {
  const fromFile = new Map(fromInventory.map((host) => [hostKey(host.spec), host]));
  const listed = new Map<string, HostSpec>();
  const fleet: InventoryHost[] = [];
  for (const spec of fromInput) {
    const key = hostKey(spec);
    const earlier = listed.get(key);
    if (earlier) {
      throw new InputError(
        'hosts',
        earlier.label === spec.label ?
          `"${spec.label}" is listed twice`
        : `"${spec.label}" is listed twice (also as "${earlier.label}"): the same host and port`,
      );
    }
    listed.set(key, spec);
    const inventory = fromFile.get(key);
    if (!inventory) {
      fleet.push({ spec, overrides: {}, labels: [] });
      continue;
    }
    if (namesUser(spec) && namesUser(inventory.spec) && spec.username !== inventory.spec.username) {
      fail(
        `"${inventory.spec.label}" names the user ${inventory.spec.username}, but the hosts input names ${spec.username} ("${spec.label}"); name the user in one place`,
      );
    }
    const username = namesUser(spec) || !namesUser(inventory.spec) ? spec.username : inventory.spec.username;
    fleet.push({ spec: { ...spec, username }, overrides: inventory.overrides, labels: inventory.labels });
  }
  for (const host of fromInventory) if (!listed.has(hostKey(host.spec))) fleet.push(host);
  if (fleet.length === 0) throw new InputError('hosts', 'no host given; expected hosts ([user@]host[:port] per line) or an inventory file with a hosts: list');
  return fleet;
}
