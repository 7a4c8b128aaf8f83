import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHostList, type HostSpec } from '../../src/engine/inputs/host-spec.js';
import { InputError } from '../../src/engine/inputs/inputs.js';
import { mergeHosts, parseInventory, type InventoryHost } from '../../src/engine/inputs/inventory.js';

const defaults = { username: 'root', port: 22 };

/** Asserts that `run` throws an InputError with exactly this message. */
function refuses(run: () => unknown, message: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`);
    assert.equal(error.message, message);
    return true;
  });
}

/** The error parseInventory gives for this text. */
function inventoryError(text: string, message: string): void {
  refuses(() => parseInventory(text, defaults), `input inventory: ${message}`);
}

const KEYS = 'host, user, port, target, start-file, status-url, labels';
const TOP = 'expected one top-level key, hosts, holding a list of entries such as "- host: web1.example.com"';

test('a full entry, a short entry and defaults', () => {
  const text = [
    '# the fleet',
    'hosts:',
    '  - host: web1.example.com',
    '    user: deploy',
    '    port: 2222',
    '    target: /srv/app/',
    '    start-file: app/start.php',
    '    status-url: http://127.0.0.1:9090/status',
    '    labels: [eu, canary]',
    '  - ops@web2.example.com:2200',
    '  - host: "[fe80::1]"',
    '    port: "2201"',
    '    labels:',
    '      - us',
    '  - web4',
    '',
  ].join('\n');
  const hosts = parseInventory(text, { username: 'www', port: 2022 });
  assert.deepEqual(hosts, [
    {
      spec: { label: 'deploy@web1.example.com:2222', host: 'web1.example.com', port: 2222, username: 'deploy' },
      overrides: { target: '/srv/app', startFile: 'app/start.php', statusUrl: 'http://127.0.0.1:9090/status' },
      labels: ['eu', 'canary'],
    },
    { spec: { label: 'ops@web2.example.com:2200', host: 'web2.example.com', port: 2200, username: 'ops' }, overrides: {}, labels: [] },
    { spec: { label: '[fe80::1]:2201', host: 'fe80::1', port: 2201, username: 'www' }, overrides: {}, labels: ['us'] },
    { spec: { label: 'web4', host: 'web4', port: 2022, username: 'www' }, overrides: {}, labels: [] },
  ]);
});

test('every value is text: no YAML booleans, no hex or octal ports', () => {
  const [host] = parseInventory('hosts:\n  - host: web1\n    labels: [no, yes, 2024, on]\n', defaults);
  assert.deepEqual(host!.labels, ['no', 'yes', '2024', 'on']);
  inventoryError('hosts:\n  - host: web1\n    port: 0x16\n', 'hosts entry 1 (web1, line 2): port: "0x16" is not a TCP port (1-65535)');
  inventoryError('hosts:\n  - host: web1\n    port: 0o26\n', 'hosts entry 1 (web1, line 2): port: "0o26" is not a TCP port (1-65535)');
  inventoryError('hosts:\n  - host: web1\n    port: 22.0\n', 'hosts entry 1 (web1, line 2): port: "22.0" is not a TCP port (1-65535)');
});

test('labels: repeated ones count once; !!str is fine; anchors and aliases work', () => {
  const text = 'hosts:\n  - host: web1\n    labels: &eu [eu, eu, canary]\n  - host: !!str web2\n    labels: *eu\n';
  const hosts = parseInventory(text, defaults);
  assert.deepEqual(
    hosts.map((h) => [h.spec.host, h.labels]),
    [
      ['web1', ['eu', 'canary']],
      ['web2', ['eu', 'canary']],
    ],
  );
});

test('status-url is normalized as the status-url input is', () => {
  const [host] = parseInventory('hosts:\n  - host: web1\n    status-url: HTTP://127.0.0.1:9090\n', defaults);
  assert.equal(host!.overrides.statusUrl, 'http://127.0.0.1:9090/');
});

test('unknown keys are errors, naming the entry, its host and its line', () => {
  inventoryError(
    'hosts:\n  - host: web1\n  - host: web2\n    taget: /srv/app\n',
    `hosts entry 2 (web2, line 3): unknown key "taget"; expected one of: ${KEYS}`,
  );
  inventoryError('hosts:\n  - host: web1\n    statusurl: http://x\n', `hosts entry 1 (web1, line 2): unknown key "statusurl"; expected one of: ${KEYS}`);
  inventoryError(
    'hosts:\n  - host: web1\n    ? [a]\n    : b\n',
    `hosts entry 1 (web1, line 2): unknown key that is not a plain name; expected one of: ${KEYS}`,
  );
  inventoryError('hosts:\n  - host: web1\n    <<: {target: /srv}\n', `hosts entry 1 (web1, line 2): unknown key "<<"; expected one of: ${KEYS}`);
  inventoryError('hosts:\n  - web1\nextra: 1\n', 'unknown top-level key "extra"; expected only hosts');
  inventoryError('defaults: &d {host: web1}\n', 'unknown top-level key "defaults"; expected only hosts');
});

test('host: required, [user@]host[:port], user and port not given twice', () => {
  inventoryError('hosts:\n  - port: 2222\n', 'hosts entry 1 (line 2): has no host; expected host: [user@]host[:port]');
  inventoryError('hosts:\n  - host:\n', 'hosts entry 1 (line 2): host: is empty; expected [user@]host[:port]');
  inventoryError('hosts:\n  - host: [web1]\n', 'hosts entry 1 (line 2): host: expected [user@]host[:port], not a list');
  inventoryError('hosts:\n  - {host}\n', 'hosts entry 1 (line 2): host: expected [user@]host[:port], not a null');
  inventoryError(
    'hosts:\n  - host: web_1.example.com\n',
    'hosts entry 1 (web_1.example.com, line 2): host: "web_1.example.com" is not a host name or IPv4 address; expected [user@]host[:port], e.g. deploy@web1.example.com:2222',
  );
  inventoryError(
    'hosts:\n  - host: -oProxyCommand=x\n',
    'hosts entry 1 (-oProxyCommand=x, line 2): host: "-oProxyCommand=x" is not a host name or IPv4 address; expected [user@]host[:port], e.g. deploy@web1.example.com:2222',
  );
  inventoryError(
    'hosts:\n  - "[web1]:22"\n',
    'hosts entry 1 ([web1]:22, line 2): host: "web1" is not an IPv6 address; expected [user@]host[:port], e.g. deploy@web1.example.com:2222',
  );
  inventoryError('hosts:\n  - host: web1:99999\n', 'hosts entry 1 (web1:99999, line 2): host: "99999" is not a TCP port (1-65535)');
  inventoryError(
    'hosts:\n  - host: deploy@web1\n    user: ops\n',
    'hosts entry 1 (deploy@web1, line 2): user: is given twice, in host ("deploy@web1") and as user; keep one',
  );
  inventoryError(
    'hosts:\n  - host: web1:2222\n    port: 2222\n',
    'hosts entry 1 (web1:2222, line 2): port: is given twice, in host ("web1:2222") and as port; keep one',
  );
  inventoryError(
    'hosts:\n  - host: "[::1]:2222"\n    port: 2222\n',
    'hosts entry 1 ([::1]:2222, line 2): port: is given twice, in host ("[::1]:2222") and as port; keep one',
  );
  // A bracketed IPv6 address without a port takes the port key.
  assert.equal(parseInventory('hosts:\n  - host: "[::1]"\n    port: 2222\n', defaults)[0]!.spec.port, 2222);
});

test('user and port: validated like the username and port inputs', () => {
  inventoryError(
    'hosts:\n  - host: web1\n    user: -x\n',
    'hosts entry 1 (web1, line 2): user: "-x" is not a valid user name (letters, digits, _ . -, not starting with - or a digit)',
  );
  inventoryError(
    'hosts:\n  - host: web1\n    user: a b\n',
    'hosts entry 1 (web1, line 2): user: "a b" is not a valid user name (letters, digits, _ . -, not starting with - or a digit)',
  );
  inventoryError('hosts:\n  - host: web1\n    user:\n', 'hosts entry 1 (web1, line 2): user: is empty; expected a user name, e.g. deploy');
  inventoryError('hosts:\n  - host: web1\n    port: 0\n', 'hosts entry 1 (web1, line 2): port: "0" is not a TCP port (1-65535)');
  inventoryError('hosts:\n  - host: web1\n    port: [22]\n', 'hosts entry 1 (web1, line 2): port: expected a TCP port (1-65535), not a list');
});

test('target, start-file and status-url: validated like their action inputs', () => {
  const entry = (key: string, value: string) => `hosts:\n  - host: web1\n    ${key}: ${value}\n`;
  inventoryError(entry('target', 'srv/app'), 'hosts entry 1 (web1, line 2): target: "srv/app" is not an absolute path');
  inventoryError(entry('target', '/'), 'hosts entry 1 (web1, line 2): target: "/" would let the sync delete the whole file system');
  inventoryError(entry('target', '/srv/../etc'), 'hosts entry 1 (web1, line 2): target: "/srv/../etc" contains a "." or ".." segment');
  inventoryError(entry('target', ''), 'hosts entry 1 (web1, line 2): target: is empty; expected an absolute path, e.g. /srv/app');
  inventoryError(entry('target', '{path: /srv}'), 'hosts entry 1 (web1, line 2): target: expected an absolute path, e.g. /srv/app, not a mapping');
  inventoryError(entry('start-file', '/srv/app/start.php'), 'hosts entry 1 (web1, line 2): start-file: "/srv/app/start.php" must be relative to target');
  inventoryError(
    entry('start-file', '../start.php'),
    'hosts entry 1 (web1, line 2): start-file: "../start.php" must stay inside target (no "..", no empty segments)',
  );
  inventoryError(
    entry('start-file', '-start.php'),
    'hosts entry 1 (web1, line 2): start-file: "-start.php" starts with "-", which a command would read as an option',
  );
  inventoryError(entry('start-file', 'start.sh'), 'hosts entry 1 (web1, line 2): start-file: "start.sh" is not a .php file');
  inventoryError(entry('status-url', 'ftp://x/status'), 'hosts entry 1 (web1, line 2): status-url: "ftp://x/status" must be http:// or https://');
  inventoryError(
    entry('status-url', 'not a url'),
    'hosts entry 1 (web1, line 2): status-url: "not a url" is not a URL; expected e.g. http://127.0.0.1:9090/status',
  );
});

test('control characters are refused, wherever they are', () => {
  inventoryError(
    'hosts:\n  - host: web1\n    target: "/srv/app\\n--delete"\n',
    'hosts entry 1 (web1, line 2): target: contains a control character (a line break, tab or NUL)',
  );
  inventoryError(
    'hosts:\n  - host: web1\n    start-file: "st\\0art.php"\n',
    'hosts entry 1 (web1, line 2): start-file: contains a control character (a line break, tab or NUL)',
  );
  inventoryError('hosts:\n  - host: "web1\\x07"\n', 'hosts entry 1 (line 2): host: contains a control character (a line break, tab or NUL)');
  inventoryError('hosts:\n  - web1\n\0', 'the file contains a NUL byte; expected a YAML text file');
});

test('labels: a list of plain names', () => {
  const expected = 'a list of labels, e.g. [eu, canary] (letters, digits, _ . -, starting with a letter or digit)';
  inventoryError('hosts:\n  - host: web1\n    labels: eu\n', `hosts entry 1 (web1, line 2): labels: expected ${expected}`);
  inventoryError('hosts:\n  - host: web1\n    labels: [eu west]\n', `hosts entry 1 (web1, line 2): labels: "eu west" is not a label; expected ${expected}`);
  inventoryError('hosts:\n  - host: web1\n    labels: [-eu]\n', `hosts entry 1 (web1, line 2): labels: "-eu" is not a label; expected ${expected}`);
  inventoryError('hosts:\n  - host: web1\n    labels: [[eu]]\n', `hosts entry 1 (web1, line 2): labels: expected ${expected}, not a list`);
  inventoryError('hosts:\n  - host: web1\n    labels: [eu, ""]\n', `hosts entry 1 (web1, line 2): labels: is empty; expected ${expected}`);
});

test('the same host and port twice is an error; the same host on another port is another host', () => {
  inventoryError(
    'hosts:\n  - host: web1\n  - host: ops@WEB1:22\n',
    'hosts entry 2 ("ops@WEB1:22") is the same host and port as hosts entry 1 ("web1"); list each host once',
  );
  inventoryError(
    'hosts:\n  - web1\n  - web2\n  - host: web1\n    port: "22"\n',
    'hosts entry 3 ("web1:22") is the same host and port as hosts entry 1 ("web1"); list each host once',
  );
  assert.deepEqual(
    parseInventory('hosts:\n  - web1\n  - web1:2222\n', defaults).map((h) => h.spec.port),
    [22, 2222],
  );
});

test('the file: one YAML document, a mapping with a non-empty hosts list', () => {
  inventoryError('', `the file is empty; ${TOP}`);
  inventoryError('# nothing\n', `the file is empty; ${TOP}`);
  inventoryError('- web1\n', `the top level is a list; ${TOP}`);
  inventoryError('web1\n', `the top level is a text; ${TOP}`);
  inventoryError('hosts: web1\n', `hosts is not a list; ${TOP}`);
  inventoryError('hosts: []\n', `hosts lists no host; ${TOP}`);
  inventoryError(
    'hosts:\n  - web1\n  - [web2]\n',
    'hosts entry 2 (line 3): expected a mapping (host: ..., target: ...) or a [user@]host[:port] string, not a list',
  );
  inventoryError('hosts:\n  - *nowhere\n', 'hosts entry 1 (line 2): the alias *nowhere names no anchor before it');
  inventoryError('hosts:\n  - host: web1\n    target: *nowhere\n', 'hosts entry 1 (web1, line 2): target: the alias *nowhere names no anchor before it');
});

test('YAML errors: the library message with its position, without the quoted source', () => {
  inventoryError('hosts:\n  - host: a\n    host: b\n', 'not valid YAML: Map keys must be unique at line 3, column 5');
  inventoryError(
    'hosts:\n  - web1\n---\nhosts:\n  - web2\n',
    'not valid YAML: Source contains multiple documents; please use YAML.parseAllDocuments() at line 3, column 1',
  );
  inventoryError('hosts:\n\t- web1\n', 'not valid YAML: Tabs are not allowed as indentation at line 2, column 1');
  inventoryError('hosts: [web1\n', 'not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1');
  inventoryError('hosts:\n  - !shell web1\n', 'not valid YAML: Unresolved tag: !shell at line 2, column 5');
});

const input = (text: string): HostSpec[] => parseHostList(text, defaults);
const inventory = (text: string): InventoryHost[] => parseInventory(text, defaults);

test('mergeHosts: the hosts input first, then hosts only in the inventory; a host in both takes its overrides', () => {
  const fleet = mergeHosts(
    input('web1\nweb2:2222\nweb3'),
    inventory('hosts:\n  - host: web4\n    labels: [new]\n  - host: WEB2\n    port: 2222\n    target: /srv/b\n    labels: [b]\n  - host: web3:2200\n'),
  );
  assert.deepEqual(
    fleet.map((h) => [h.spec.label, h.spec.host, h.spec.port, h.overrides, h.labels]),
    [
      ['web1', 'web1', 22, {}, []],
      ['web2:2222', 'web2', 2222, { target: '/srv/b' }, ['b']],
      ['web3', 'web3', 22, {}, []],
      ['web4', 'web4', 22, {}, ['new']],
      ['web3:2200', 'web3', 2200, {}, []],
    ],
  );
  assert.deepEqual(
    mergeHosts([], inventory('hosts:\n  - web1\n')).map((h) => h.spec.label),
    ['web1'],
  );
  assert.deepEqual(
    mergeHosts(input('web1'), []).map((h) => [h.spec.label, h.overrides, h.labels]),
    [['web1', {}, []]],
  );
});

test('mergeHosts: the user is the one written; written twice differently is an error', () => {
  const user = (hosts: string, file: string) => mergeHosts(input(hosts), inventory(file)).map((h) => h.spec.username);
  assert.deepEqual(user('web1', 'hosts:\n  - host: web1\n    user: deploy\n'), ['deploy'], 'the inventory names the user');
  assert.deepEqual(user('deploy@web1', 'hosts:\n  - host: web1\n'), ['deploy'], 'the hosts input names the user');
  assert.deepEqual(user('deploy@web1', 'hosts:\n  - deploy@web1\n'), ['deploy'], 'both, the same');
  assert.deepEqual(user('web1', 'hosts:\n  - web1\n'), ['root'], 'neither: the username input');
  refuses(
    () => mergeHosts(input('deploy@web1'), inventory('hosts:\n  - host: web1\n    user: ops\n')),
    'input inventory: "ops@web1" names the user ops, but the hosts input names deploy ("deploy@web1"); name the user in one place',
  );
});

test('mergeHosts: a host twice in the hosts input (same host and port) is an error naming it; no host at all is one too', () => {
  const spec = (label: string, host: string, username = 'root', port = 22): HostSpec => ({ label, host, username, port });
  refuses(() => mergeHosts([spec('web1', 'web1'), spec('web1', 'web1')], []), 'input hosts: "web1" is listed twice');
  refuses(
    () => mergeHosts(input('deploy@web1, ops@Web1:22'), inventory('hosts:\n  - web2\n')),
    'input hosts: "ops@Web1:22" is listed twice (also as "deploy@web1"): the same host and port',
  );
  assert.equal(mergeHosts(input('web1, web1:2222'), []).length, 2, 'another port is another host');
  refuses(() => mergeHosts([], []), 'input hosts: no host given; expected hosts ([user@]host[:port] per line) or an inventory file with a hosts: list');
});
