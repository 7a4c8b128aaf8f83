import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { DEFAULT_PROTECT, InputError, parseInputs, type RawInputs } from '../../src/engine/inputs/inputs.js';
import { parseHostList } from '../../src/engine/inputs/host-spec.js';

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

/** The error parseInputs refuses these inputs with. */
function refusal(overrides: Record<string, string>): InputError {
  try {
    parseInputs(inputs(overrides));
  } catch (error) {
    assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`);
    return error;
  }
  assert.fail(`${JSON.stringify(overrides)} was accepted`);
}

test('every bad input is reported at once, each naming the input and the rule it broke', () => {
  const overrides = { target: 'srv/app', port: '70000', 'reload-mode': 'hard', timeout: 'soon', 'max-parallel': '0', 'private-key': 'hunter2' };
  const { problems, message } = refusal(overrides);
  assert.deepEqual(
    problems.map((problem) => problem.input),
    ['target', 'port', 'max-parallel', 'private-key', 'timeout', 'reload-mode'],
  );
  assert.match(problems.find((p) => p.input === 'reload-mode')!.problem, /"hard" is not one of: auto, graceful, quick/);
  assert.match(problems.find((p) => p.input === 'timeout')!.problem, /"soon" is not a duration/);
  assert.match(message, /^6 inputs are wrong: input target: "srv\/app" is not an absolute path; input port: "70000" is not a TCP port/);
  for (const { input, problem } of problems) assert.ok(message.includes(`input ${input}: ${problem}`), `${input} is in the message`);
});

test('one bad input is one problem, its message as before, never echoed by the inputs that depend on it', () => {
  const cases: [Record<string, string>, string][] = [
    // log-file is relative to target; a bad target says nothing about the log file.
    [{ target: 'srv/app', 'log-file': 'storage/app.log' }, 'target'],
    // settle and poll-interval are compared with timeout only when timeout itself is good.
    [{ timeout: 'soon', settle: '10s', 'poll-interval': '1s' }, 'timeout'],
    // status-url is judged against status only when status is good.
    [{ status: 'magic', 'status-url': 'http://127.0.0.1:9090/status' }, 'status'],
    // A malformed key is not also "no credentials", and its passphrase is not "set without a key".
    [{ 'private-key': 'hunter2', passphrase: 'pp' }, 'private-key'],
    // A bad insecure-ignore-host-key does not also make an empty known-hosts a problem.
    [{ 'insecure-ignore-host-key': 'yes', 'known-hosts': '' }, 'insecure-ignore-host-key'],
    // A NUL is read several times (timeout is named in other messages) but reported once.
    [{ timeout: '5m\0' }, 'timeout'],
  ];
  for (const [overrides, input] of cases) {
    const { problems, message } = refusal(overrides);
    assert.deepEqual(
      problems.map((problem) => problem.input),
      [input],
      JSON.stringify(overrides),
    );
    assert.equal(message, `input ${input}: ${problems[0]!.problem}`, 'a single problem keeps the one-input message');
  }
});

test('rules between two good inputs are still reported alongside the others', () => {
  const { problems } = refusal({ settle: '10m', timeout: '5m', php: 'php; reboot', mode: 'rollback', sync: 'false' });
  assert.deepEqual(
    problems.map((problem) => problem.input),
    ['sync', 'settle', 'php'],
  );
  assert.match(problems[0]!.problem, /false makes no sense with mode: rollback/);
  assert.match(problems[1]!.problem, /must be shorter than timeout \(5m\)/);
});

test('dry-run: false by default, true or false when given', () => {
  assert.equal(parseInputs(inputs()).fleet.dryRun, false);
  assert.equal(parseInputs(inputs({ 'dry-run': 'true' })).fleet.dryRun, true);
  assert.deepEqual(refusal({ 'dry-run': 'maybe' }).problems, [{ input: 'dry-run', problem: '"maybe" is not true or false' }]);
});
