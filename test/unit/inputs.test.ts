import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DEFAULT_PROTECT, parseInputs, type RawInputs } from '../../src/engine/inputs.js';
import { parseHostList } from '../../src/engine/host-spec.js';

const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----';
const hostKey = Buffer.concat([Buffer.from('\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20', 'latin1'), randomBytes(32)]).toString('base64');
const valid: Record<string, string> = {
  hosts: 'web1.example.com',
  'private-key': key,
  'known-hosts': `web1.example.com ssh-ed25519 ${hostKey}`,
  target: '/srv/app',
};
const inputs =
  (overrides: Record<string, string> = {}): RawInputs =>
  (name) =>
    ({ ...valid, ...overrides })[name] ?? '';

test('defaults fill every optional input', () => {
  const plan = parseInputs(inputs());
  assert.deepEqual(plan.hosts, [{ label: 'web1.example.com', host: 'web1.example.com', port: 22, username: 'root' }]);
  assert.equal(plan.rollout.target, '/srv/app');
  assert.equal(plan.rollout.startFile, 'start.php');
  assert.equal(plan.rollout.php, 'php');
  assert.equal(plan.rollout.reloadMode, 'auto');
  assert.equal(plan.rollout.status, 'workerman');
  assert.equal(plan.rollout.timeoutMs, 300_000);
  assert.equal(plan.rollout.settleMs, 5000);
  assert.deepEqual(plan.rollout.protect, DEFAULT_PROTECT);
  assert.deepEqual(plan.rollout.exclude, ['.git/'], '.git is never deployed by default');
  assert.equal(plan.credentials.passphrase, undefined);
});

test('hosts: newline or comma separated, with users, ports and IPv6', () => {
  const hosts = parseHostList('deploy@web1:2222, web2\n# comment\n[::1]:2200\nops@[fe80::1]', { username: 'root', port: 22 });
  assert.deepEqual(
    hosts.map((h) => [h.username, h.host, h.port]),
    [
      ['deploy', 'web1', 2222],
      ['root', 'web2', 22],
      ['root', '::1', 2200],
      ['ops', 'fe80::1', 22],
    ],
  );
  assert.throws(() => parseHostList('web1:0', { username: 'root', port: 22 }), /not a TCP port/);
  assert.throws(() => parseHostList('-oProxyCommand=x', { username: 'root', port: 22 }), /not a host name/);
  assert.throws(() => parseHostList('web1, web1', { username: 'root', port: 22 }), /listed twice/);
  assert.throws(() => parseHostList(' , ', { username: 'root', port: 22 }), /no host given/);
});

test('target: missing, empty, relative, "/" and ".." are refused by name', () => {
  assert.throws(() => parseInputs(inputs({ target: '' })), /input target: is required/);
  assert.throws(() => parseInputs(inputs({ target: '   ' })), /input target: is required/);
  assert.throws(() => parseInputs(inputs({ target: 'srv/app' })), /input target: "srv\/app" is not an absolute path/);
  assert.throws(() => parseInputs(inputs({ target: '/' })), /input target: "\/" would let the sync delete/);
  assert.throws(() => parseInputs(inputs({ target: '//' })), /input target: "\/" would let/);
  assert.throws(() => parseInputs(inputs({ target: '/srv/../etc' })), /input target: .* "\.\." segment/);
  assert.equal(parseInputs(inputs({ target: '/srv/app/' })).rollout.target, '/srv/app');
});

test('each bad input is refused naming the input and the rule', () => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ 'known-hosts': '' }, /input known-hosts: no host key is pinned/],
    [{ 'known-hosts': 'garbage' }, /input known-hosts: line 1: expected/],
    [{ 'private-key': '' }, /input private-key: no credentials: give private-key .*, password, or run an ssh-agent/],
    [{ 'private-key': '', passphrase: 'x' }, /input passphrase: is set but private-key is empty/],
    [{ password: 'a\nb' }, /input password: contains a line break/],
    [{ 'insecure-ignore-host-key': 'yes' }, /input insecure-ignore-host-key: "yes" is not true or false/],
    [{ 'jump-host': '-J evil' }, /input jump-host: .*is not a host name/],
    [{ 'jump-host': 'bastion:99999' }, /input jump-host: .*not a TCP port/],
    [{ 'status-url': 'http://127.0.0.1/' }, /input status-url: is only used with status: http/],
    [{ status: 'http' }, /input status-url: is required with status: http/],
    [{ status: 'http', 'status-url': 'file:///etc/passwd' }, /input status-url: .* must be http/],
    [{ 'log-file': '../../etc/shadow' }, /input log-file: .* must be a plain path/],
    [{ 'log-file': '-n' }, /input log-file: "-n" starts with "-"/],
    [{ protect: '--delete-excluded' }, /input protect: .* starts with "-"/],
    [{ revision: '$(id)' }, /input revision: .* is not a revision/],
    [{ 'graceful-timeout': 'soon' }, /input graceful-timeout: "soon" is not a duration/],
    [{ 'on-graceful-timeout': 'panic' }, /input on-graceful-timeout: "panic" is not one of: force, fail/],
    [{ 'private-key': 'hunter2' }, /input private-key: does not look like a private key/],
    [{ 'reload-mode': 'hard' }, /input reload-mode: "hard" is not one of: auto, graceful, quick/],
    [{ status: 'magic' }, /input status: "magic" is not one of/],
    [{ timeout: '5' }, /input timeout: "5" is not a duration/],
    [{ timeout: '10ms' }, /input timeout: 10ms is out of range/],
    [{ settle: '10m', timeout: '5m' }, /input settle: must be shorter than timeout/],
    [{ 'poll-interval': '10s', timeout: '5s', settle: '1s' }, /input poll-interval: must be shorter than timeout/],
    [{ 'start-file': '/etc/passwd.php' }, /input start-file: .* relative to target/],
    [{ 'start-file': '../start.php' }, /input start-file: .* must stay inside target/],
    [{ 'start-file': '-rstart.php' }, /input start-file: .* starts with "-"/],
    [{ php: '--define=x' }, /input php: .* starts with "-"/],
    [{ php: 'php; reboot' }, /input php: .* must be a command name \(php8.2\) or an absolute path/],
    [{ php: '../bin/php' }, /input php: .* must be a command name/],
    [{ exclude: '.git\n--rsh=evil' }, /input exclude: "--rsh=evil" starts with "-"/],
    [{ port: '70000' }, /input port: "70000" is not a TCP port/],
    [{ username: '-oProxyCommand' }, /input username: .* is not a valid user name/],
    [{ source: '-r' }, /input source: "-r" starts with "-"/],
  ];
  for (const [overrides, expected] of cases) {
    assert.throws(() => parseInputs(inputs(overrides)), expected, JSON.stringify(overrides));
  }
});

test('lists: exclude, protect and ignore-workers', () => {
  const plan = parseInputs(inputs({ exclude: '.git\n\n# not me\nnode_modules/', protect: 'storage/', 'ignore-workers': 'gateway, monitor' }));
  assert.deepEqual(plan.rollout.exclude, ['.git', 'node_modules/']);
  assert.deepEqual(plan.rollout.protect.slice(-1), ['storage/']);
  assert.deepEqual(plan.rollout.ignoreWorkers, ['gateway', 'monitor']);
});

test('known-hosts may be empty only with insecure-ignore-host-key: true', () => {
  assert.throws(() => parseInputs(inputs({ 'known-hosts': '' })), /input known-hosts: no host key is pinned/);
  const plan = parseInputs(inputs({ 'known-hosts': '', 'insecure-ignore-host-key': 'true' }));
  assert.deepEqual([plan.trust.ignoreHostKeys, plan.trust.pins.length], [true, 0]);
});

test('credentials: a key, a password, or an agent from the environment', () => {
  const withPassword = parseInputs(inputs({ 'private-key': '', password: 's3cret' }));
  assert.deepEqual(withPassword.credentials, { password: 's3cret' });
  const withAgent = parseInputs(inputs({ 'private-key': '' }), { agentSocket: '/tmp/agent.sock' });
  assert.deepEqual(withAgent.credentials, { agentSocket: '/tmp/agent.sock' });
  const withKey = parseInputs(inputs({ passphrase: ' pp with spaces \n' }));
  assert.equal(withKey.credentials.passphrase, ' pp with spaces ', 'spaces kept, the final line break dropped');
  assert.ok(withKey.credentials.privateKey!.endsWith('-----END OPENSSH PRIVATE KEY-----\n'));
});

test('jump-host takes the default user and port like hosts; revision defaults to GITHUB_SHA', () => {
  const plan = parseInputs(inputs({ 'jump-host': 'bastion.example.com', username: 'deploy', port: '2222' }), { githubSha: 'abc123' });
  assert.deepEqual(plan.jumpHost, { label: 'bastion.example.com', host: 'bastion.example.com', port: 2222, username: 'deploy' });
  assert.equal(plan.rollout.revision, 'abc123');
  assert.equal(parseInputs(inputs({ revision: 'v1.2.3' }), { githubSha: 'abc123' }).rollout.revision, 'v1.2.3');
});
