import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { execFile, mustExec } from '../rig/process.js';
import { Rig, type TestHost } from '../rig/rig.js';
import { RUNNER_FILE_NAMES, runAction } from '../rig/action-runner.js';
import { deploy, inputsFor, keepAliveClient } from '../rig/scenario.js';

let rig: Rig;
before(async () => {
  rig = await Rig.create();
});
after(async () => {
  await rig?.destroy();
});

/** Every file under a directory with its content hash: "0 files changed" is this map unchanged. */
async function tree(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    files.set(
      relative(dir, path),
      createHash('sha256')
        .update(await readFile(path))
        .digest('hex'),
    );
  }
  return files;
}

/** The log as a runner shows it: ::add-mask:: commands are consumed, not displayed. */
const shownLog = (log: string) =>
  log
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n');

/** A client key with a passphrase, authorized on the host. */
async function passphraseKey(host: TestHost, passphrase: string): Promise<string> {
  const file = join(rig.dir, `key-${host.name}`);
  await mustExec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', passphrase, '-C', 'with-passphrase', '-f', file]);
  await appendFile(join(host.dir, 'etc', 'authorized_keys'), await readFile(`${file}.pub`, 'utf8'));
  return readFile(file, 'utf8');
}

/** What the action itself wrote to RUNNER_TEMP and the temp dir: everything but the runner's own command files. */
async function writtenByAction(runnerTemp: string): Promise<string[]> {
  const inRunnerTemp = (await readdir(runnerTemp)).filter((name) => !RUNNER_FILE_NAMES.includes(name));
  const inTmp = (await readdir(tmpdir())).filter((name) => name.startsWith('graceful-reload-'));
  return [...inRunnerTemp, ...inTmp];
}

test('impostor host: 0 files changed, and the failure gives the offered and pinned fingerprints', async () => {
  const impostor = await rig.addHost('impostor2');
  await impostor.startMaster();
  const genuine = await rig.addHost('genuine2', { app: false });
  const before = await tree(impostor.srv);
  const pin = genuine.hostKeyLine.replace(`]:${genuine.port}`, `]:${impostor.port}`);
  const { run, report } = await deploy(rig, impostor, await rig.makeSource('v2'), { 'known-hosts': pin });
  assert.equal(run.code, 1);
  assert.equal(report.step, 'host-key');
  assert.equal(report.host, `root@127.0.0.1:${impostor.port}`);
  assert.match(report.error!, new RegExp(`^the host key offered by \\[127\\.0\\.0\\.1\\]:${impostor.port} matches none of its pinned keys`));
  assert.match(report.error!, /offered SHA256:\S+; pinned: ssh-ed25519 SHA256:\S+\. Nothing was sent to this host/);
  assert.deepEqual(await tree(impostor.srv), before, 'not one file on the impostor changed');
});

test('a key with a passphrase works, for the commands and for rsync (one connection carries both)', async () => {
  const host = await rig.addHost('passphrase');
  await host.startMaster();
  const key = await passphraseKey(host, 'correct horse battery');
  const { run } = await deploy(rig, host, await rig.makeSource('v2'), { 'private-key': key, passphrase: 'correct horse battery' });
  assert.equal(run.code, 0, run.log);
  assert.match(await host.get('/'), /hello from v2/);
});

test('password authentication, and a wrong password fails at the auth step', async () => {
  const host = await rig.addHost('password', { password: 'pw; $(touch /tmp/never) `x`' });
  await host.startMaster();
  const ok = await deploy(rig, host, await rig.makeSource('v2'), { 'private-key': '', password: 'pw; $(touch /tmp/never) `x`' });
  assert.equal(ok.run.code, 0, ok.run.log);
  assert.match(await host.get('/'), /hello from v2/);
  const wrong = await deploy(rig, host, await rig.makeSource('v3'), { 'private-key': '', password: 'not it' });
  assert.equal(wrong.run.code, 1);
  assert.equal(wrong.report.step, 'auth');
  assert.match(wrong.report.error!, /authentication as root failed/);
  assert.equal(wrong.report.filesChanged, false);
});

test('a running ssh-agent is used when no key or password is given', async () => {
  const host = await rig.addHost('agent');
  await host.startMaster();
  const socket = join(rig.dir, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 50 && (await execFile('test', ['-S', socket])).code !== 0; i++) await new Promise((r) => setTimeout(r, 50));
    await mustExec('ssh-add', [rig.clientKeyFile], { env: { ...process.env, SSH_AUTH_SOCK: socket } });
    const run = await runAction(inputsFor(rig, host, await rig.makeSource('v2'), { 'private-key': '' }), { env: { SSH_AUTH_SOCK: socket } });
    assert.equal(run.code, 0, run.log);
    assert.match(await host.get('/'), /hello from v2/);
  } finally {
    agent.kill();
  }
});

test('jump host: the one connection goes through it, rsync included, and its host key is checked', async () => {
  const bastion = await rig.addHost('bastion', { app: false, logLevel: 'DEBUG1' });
  const target = await rig.addHost('behind');
  await target.startMaster();
  const jumpHost = `root@127.0.0.1:${bastion.port}`;
  const pins = `${bastion.hostKeyLine}\n${target.hostKeyLine}`;

  const { run, report } = await deploy(rig, target, await rig.makeSource('v2'), { 'jump-host': jumpHost, 'known-hosts': pins });
  assert.equal(run.code, 0, run.log);
  assert.ok(report.sync!.filesTransferred > 0, 'rsync sent files through the bastion');
  assert.match(await target.get('/'), /hello from v2/);
  const forwards = bastion.sshdLog
    .split(/\r?\n/)
    .filter((line) => line.includes(`server_request_direct_tcpip:`) && line.endsWith(`target 127.0.0.1 port ${target.port}`));
  assert.equal(forwards.length, 1, `one forward through the bastion, for commands and rsync alike:\n${forwards.join('\n')}`);

  // A bastion whose key does not match its pin is refused before anything reaches the target.
  const impostorPin = target.hostKeyLine.replace(`]:${target.port}`, `]:${bastion.port}`);
  const before = await tree(target.srv);
  const refused = await deploy(rig, target, await rig.makeSource('v3'), { 'jump-host': jumpHost, 'known-hosts': `${impostorPin}\n${target.hostKeyLine}` });
  assert.equal(refused.run.code, 1);
  assert.equal(refused.report.step, 'host-key');
  assert.match(refused.report.error!, /^jump host root@127\.0\.0\.1:\d+: the host key offered by \[127\.0\.0\.1\]:\d+ matches none of its pinned keys/);
  assert.deepEqual(await tree(target.srv), before);
});

test('a source of 2,000 files or more: the connection to the host is compressed, the one to the jump host is not, and the run ends cleanly', async () => {
  const bastion = await rig.addHost('bastion-z', { app: false, logLevel: 'DEBUG1' });
  const target = await rig.addHost('behind-z', { logLevel: 'DEBUG1' });
  await target.startMaster();
  const source = await rig.makeSource('v2');
  await mkdir(join(source, 'data'));
  await Promise.all(Array.from({ length: 2_000 }, (_, i) => writeFile(join(source, 'data', `f${i}.php`), `<?php return ${i};\n`)));

  const { run, report } = await deploy(rig, target, source, {
    'jump-host': `root@127.0.0.1:${bastion.port}`,
    'known-hosts': `${bastion.hostKeyLine}\n${target.hostKeyLine}`,
  });
  assert.equal(run.code, 0, run.log);
  assert.ok(report.sync!.filesTransferred >= 2_000);
  assert.match(await target.get('/'), /hello from v2/);
  const compression = (log: string) => [
    ...new Set(log.match(/client->server cipher: .* compression: [\w@.]+/g)?.map((line) => line.split('compression: ')[1])),
  ];
  // The host's log has the rig's own OpenSSH sessions too (uncompressed); the bastion's is the action's alone.
  assert.ok(compression(target.sshdLog).includes('zlib@openssh.com'), target.sshdLog);
  assert.deepEqual(compression(bastion.sshdLog), ['none']);
});

test('insecure-ignore-host-key: true runs without pins, with a loud warning', async () => {
  const host = await rig.addHost('insecure');
  await host.startMaster();
  const { run } = await deploy(rig, host, await rig.makeSource('v2'), { 'known-hosts': '', 'insecure-ignore-host-key': 'true' });
  assert.equal(run.code, 0, run.log);
  assert.match(run.log, /::warning::insecure-ignore-host-key is true: host keys are NOT checked/);
});

test('secrets: no key, passphrase or password in the log of valid and failing runs with debug logging, and none written to disk', async () => {
  const host = await rig.addHost('secrets', { password: 'P@ss-w0rd-for-the-log-test' });
  await host.startMaster();
  const passphrase = 'a passphrase that must never be printed';
  const key = await passphraseKey(host, passphrase);
  const debug = { RUNNER_DEBUG: '1', ACTIONS_STEP_DEBUG: 'true' };
  const runs = [
    await runAction(inputsFor(rig, host, await rig.makeSource('v2'), { 'private-key': key, passphrase }), { env: debug }),
    await runAction(inputsFor(rig, host, await rig.makeSource('v3'), { 'private-key': key, passphrase: 'wrong passphrase here' }), { env: debug }),
    await runAction(
      inputsFor(rig, host, await rig.makeSource('v4'), { 'private-key': '', password: 'P@ss-w0rd-for-the-log-test', 'known-hosts': rig.hosts[0]!.hostKeyLine }),
      { env: debug },
    ),
    await runAction(inputsFor(rig, host, await rig.makeSource('v5'), { 'private-key': key, passphrase, target: 'relative/path' }), { env: debug }),
  ];
  assert.deepEqual(
    runs.map((run) => run.code),
    [0, 1, 1, 1],
  );
  const secrets = [passphrase, 'P@ss-w0rd-for-the-log-test', ...key.split('\n').filter((line) => line.length >= 20 && !line.startsWith('-----'))];
  for (const run of runs) {
    const log = shownLog(run.log);
    assert.match(log, /::debug::/, 'debug logging was on');
    for (const secret of secrets) assert.ok(!log.includes(secret), `a secret leaked into the log:\n${log}`);
    assert.deepEqual(await writtenByAction(run.runnerTemp), [], 'no key, config or other file of the action on disk');
  }
});

test('killed mid-rollout: there is no key or config file to leave behind', async () => {
  const host = await rig.addHost('cancel');
  await host.startMaster();
  const client = await keepAliveClient(host.app.httpPort);
  const controller = new AbortController();
  try {
    const run = await runAction(inputsFor(rig, host, await rig.makeSource('v2'), { 'graceful-timeout': '60s' }), {
      signal: controller.signal,
      echo: (text) => {
        if (/reload signalled/.test(text) && !controller.signal.aborted) controller.abort();
      },
    });
    assert.notEqual(run.code, 0, 'the step was killed');
    assert.match(run.log, /reload signalled/, 'it was killed after the sync, mid-rollout');
    assert.deepEqual(await writtenByAction(run.runnerTemp), []);
  } finally {
    client.destroy();
  }
});
