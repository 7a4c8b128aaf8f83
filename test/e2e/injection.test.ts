import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openSshShell } from '../../src/adapters/ssh-connect.js';
import { parseInputs } from '../../src/engine/inputs/inputs.js';
import { parseKnownHosts } from '../../src/engine/inputs/known-hosts.js';
import { commandLine } from '../../src/engine/shell-quote.js';
import { CANARY_DIR, CANARY_NAME, FILE_NAME_PAYLOADS, PAYLOADS } from '../injection/corpus.js';
import { execFile } from '../rig/process.js';
import { REPO, Rig, type TestHost } from '../rig/rig.js';
import { attemptDeploy, deploy, inputsFor } from '../rig/scenario.js';

/**
 * The injection corpus against the real thing: the remote login shell, rsync,
 * and the action itself. Not one payload may run: the canary is never created,
 * on the runner or on the host.
 */
let rig: Rig;
let host: TestHost;
before(async () => {
  await rm(CANARY_DIR, { recursive: true, force: true });
  await mkdir(CANARY_DIR, { recursive: true });
  rig = await Rig.create();
  host = await rig.addHost('injection');
  await host.startMaster();
});
after(async () => {
  await rig?.destroy();
  await rm(CANARY_DIR, { recursive: true, force: true });
});

async function assertNoCanary(): Promise<void> {
  assert.deepEqual(await readdir(CANARY_DIR), [], 'a payload ran: the canary exists');
  // host.dir holds the host's /srv and its private /root (the remote login's home).
  const found = await execFile('find', ['/tmp', host.dir, REPO, '/root', '-xdev', '-name', `${CANARY_NAME}*`, '-not', '-path', '*/node_modules/*'], {
    timeoutMs: 60_000,
  });
  assert.equal(found.stdout.trim(), '', 'a relative-path payload ran somewhere');
}

test("every payload reaches the host's login shell as one literal argument", async () => {
  const shell = await openSshShell(
    { label: 'injection', host: '127.0.0.1', port: host.port, username: 'root' },
    { trust: { pins: parseKnownHosts(host.hostKeyLine), ignoreHostKeys: false }, credentials: { privateKey: rig.clientKey }, connectTimeoutMs: 10_000 },
  );
  try {
    const payloads = PAYLOADS.filter((payload) => !payload.includes('\0'));
    const result = await shell.run(commandLine(['printf', '%s\\0', ...payloads]));
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.split('\0').slice(0, -1), payloads);
    assert.throws(() => commandLine(['printf', 'a\0b']), /NUL/);
  } finally {
    await shell.close();
  }
  await assertNoCanary();
});

test('file names from the corpus in the source tree arrive on the host with the same names and contents', async () => {
  const source = await rig.makeSource('v2');
  await mkdir(join(source, 'payload-files'));
  for (const name of FILE_NAME_PAYLOADS) await writeFile(join(source, 'payload-files', name), name);
  const { run } = await deploy(rig, host, source);
  assert.equal(run.code, 0, run.log);
  const arrived = await readdir(join(host.srv, 'app/payload-files'));
  assert.deepEqual([...arrived].sort(), [...FILE_NAME_PAYLOADS].sort());
  for (const name of FILE_NAME_PAYLOADS) assert.equal(await readFile(join(host.srv, 'app/payload-files', name), 'utf8'), name);
  await assertNoCanary();
});

test('exclude, protect and ignore-workers carrying every payload at once: rsync and the verdict take them literally', async () => {
  // Lines that start with "-" are refused (the unit sweep proves it); every other line goes in.
  const lines = PAYLOADS.flatMap((payload) => payload.split(/\r?\n/))
    .filter((line) => !line.includes('\0') && !line.trim().startsWith('-'))
    .join('\n');
  const { run } = await deploy(rig, host, await rig.makeSource('v3'), { exclude: lines, protect: lines, 'ignore-workers': `gateway\n${lines}` });
  assert.equal(run.code, 0, run.log);
  await assertNoCanary();
});

test('single-valued inputs: payloads that pass validation are used literally and fail (or pass) cleanly', async () => {
  const inputs = ['target', 'start-file', 'log-file', 'status-url', 'source', 'passphrase', 'password'] as const;
  // status: process keeps each run short; the status source plays no part in where values go.
  const fast = { settle: '0s', 'command-timeout': '3s', status: 'process' };
  const base = inputsFor(rig, host, await rig.makeSource('v4'), fast);
  let runs = 0;
  for (const input of inputs) {
    const extra: Record<string, string> = input === 'status-url' ? { status: 'http' } : {};
    const accepted = PAYLOADS.filter((payload) => {
      try {
        parseInputs((name) => ({ ...base, ...extra, [input]: payload })[name] ?? '');
        return true;
      } catch {
        return false;
      }
    });
    // An even spread over what validation lets through, every class of payload represented.
    const sample = accepted.filter((_, index) => index % Math.max(1, Math.floor(accepted.length / 5)) === 0).slice(0, 5);
    for (const payload of sample) {
      const { run, reports } = await attemptDeploy(rig, host, base['source']!, { ...fast, ...extra, [input]: payload });
      runs += 1;
      assert.ok(run.code === 0 || run.code === 1, `${input}=${JSON.stringify(payload)}:\n${run.log}`);
      if (run.code === 1) {
        const error = reports[0]?.error ?? /^::error::(.*)$/m.exec(run.log)?.[1] ?? '';
        assert.ok(error.length > 20, `${input}=${JSON.stringify(payload)} failed without a clear error:\n${run.log}`);
      }
    }
  }
  assert.ok(runs >= 20, `${runs} action runs`);
  await assertNoCanary();
});
