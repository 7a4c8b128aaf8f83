import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { parse } from 'yaml';
import { execFile, type Exec } from '../rig/process.js';
import { REPO, Rig, type TestHost } from '../rig/rig.js';
import { inputsFor } from '../rig/scenario.js';
import type { HostReport } from '../../src/engine/report/report.js';

let rig: Rig;
before(async () => {
  rig = await Rig.create();
});
after(async () => {
  await rig?.destroy();
});

/** Runs `graceful-reload` (bin/graceful-reload.js, on dist/index.cjs) as a user would, in `cwd`, with no terminal: plain lines. */
function cli(args: readonly string[], options: { cwd?: string; env?: Record<string, string> } = {}): Promise<Exec> {
  return execFile(process.execPath, [join(REPO, 'bin/graceful-reload.js'), ...args], {
    cwd: options.cwd ?? REPO,
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], ...options.env },
    timeoutMs: 120_000,
  });
}

/**
 * A config file with the one-host inputs for a rig host; the source is named
 * relative to the file (the CLI runs elsewhere), and the key by path, as a
 * secret must be.
 */
async function configFor(host: TestHost, source: string, extra: Record<string, string> = {}): Promise<string> {
  const dir = await mkdtemp(join(rig.dir, 'cli-config-'));
  const file = join(dir, 'deploy.yml');
  const { 'private-key': _inline, ...inputs } = inputsFor(rig, host, source);
  const settings = { ...inputs, source: relative(dir, source), 'private-key-file': rig.clientKeyFile, ...extra };
  await writeFile(
    file,
    Object.entries(settings)
      .map(([key, value]) => `${key}: ${JSON.stringify(value)}\n`)
      .join(''),
  );
  return file;
}

test('CLI: a deploy from a config file succeeds with exit 0, plain progress lines and the report file, and the app serves the new code', async (t) => {
  const host = await rig.addHost('cli-deploy');
  t.after(() => host.stop());
  await host.startMaster();
  const masterBefore = await host.masterPid();
  const source = await rig.makeSource('v2');
  const config = await configFor(host, source);
  const reportFile = join(rig.dir, 'cli-report.json');

  const run = await cli(['--config', config, '--report-file', reportFile]);
  const log = run.stdout + run.stderr;
  assert.equal(run.code, 0, log);
  assert.match(await host.get('/'), /hello from v2/);
  assert.equal(await host.masterPid(), masterBefore, 'a reload keeps the master');

  // Plain lines: one message per line, no cursor movement, and the host's steps in order.
  assert.doesNotMatch(run.stdout, /\x1b/, 'no terminal control sequences when stdout is not a terminal');
  const label = `root@127.0.0.1:${host.port}`;
  const connecting = run.stdout.indexOf(`${label}: connecting`);
  const syncing = run.stdout.indexOf(`${label}: syncing `);
  assert.ok(connecting >= 0 && syncing > connecting, run.stdout);
  assert.match(run.stdout, /all 5 workers replaced|5\/5 workers replaced/);
  assert.ok(
    run.stdout.split('\n').some((line) => line.startsWith(`${label}: ok (reload) in `)),
    run.stdout,
  );
  assert.match(run.stdout, /^1 host\(s\) in .*: 1 succeeded, 0 failed, 0 rolled back, 0 skipped$/m);

  const [report] = JSON.parse(await readFile(reportFile, 'utf8')) as HostReport[];
  assert.deepEqual([report!.host, report!.status, report!.action], [label, 'ok', 'reload']);
});

test('CLI: a failing deploy exits 1 and says why; flags win over the config file', async (t) => {
  const host = await rig.addHost('cli-fail');
  t.after(() => host.stop());
  // No master running: preflight refuses before any file changes.
  const source = await rig.makeSource('v2');
  const config = await configFor(host, source, { timeout: '1s' });

  const run = await cli(['--config', config, '--timeout', '60s']);
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.ok(run.stdout.includes(`root@127.0.0.1:${host.port}: failed: preflight failed: no Workerman master is running`), run.stdout);
  assert.match(run.stdout, /^1 host\(s\) in .*: 0 succeeded, 1 failed, 0 rolled back, 0 skipped$/m);
  assert.doesNotMatch(run.stdout + run.stderr, /settle: must be shorter than timeout/, 'the 60s on the command line replaced the 1s of the file');
});

test('CLI: --help lists every input of action.yml with its description, and the way to give secrets', async () => {
  const run = await cli(['--help']);
  assert.equal(run.code, 0, run.stderr);
  const inputs = (parse(await readFile(join(REPO, 'action.yml'), 'utf8')) as { inputs: Record<string, { description: string; default?: string }> }).inputs;
  for (const [name, input] of Object.entries(inputs)) {
    const flag = ['private-key', 'passphrase', 'password'].includes(name) ? `${name}-file` : name;
    const usage = run.stdout.split('\n').find((line) => line.startsWith(`  --${flag} `) || line.startsWith(`  --${flag}[`) || line === `  --${flag}`);
    assert.ok(usage, `--help lists --${flag}`);
    if (input.default) assert.ok(usage.endsWith(`(default: ${input.default})`), `--help gives ${name}'s default: ${usage}`);
    const firstWords = input.description.trim().split(/\s+/).slice(0, 4).join(' ');
    assert.ok(run.stdout.replace(/\s+/g, ' ').includes(firstWords), `--help describes ${name} ("${firstWords}")`);
  }
  assert.match(run.stdout, /GRACEFUL_RELOAD_PRIVATE_KEY/);
  assert.match(run.stdout, /Exit status: 0/);
});

test('CLI: bad options are refused with exit 2 before any connection, each naming the option', async () => {
  const typo = await cli(['--hots', 'web1']);
  assert.equal(typo.code, 2);
  assert.match(typo.stderr, /^graceful-reload: unknown option --hots \(did you mean --hosts\?\)$/m);

  const secret = await cli(['--private-key', '-----BEGIN OPENSSH PRIVATE KEY-----']);
  assert.equal(secret.code, 2);
  assert.match(secret.stderr, /--private-key: a secret is never taken on the command line .* --private-key-file <file>, or set GRACEFUL_RELOAD_PRIVATE_KEY/);

  const values = await cli([
    '--hosts',
    'web1',
    '--target',
    'srv/app',
    '--port',
    '99999',
    '--reload-mode',
    'hard',
    '--private-key-file',
    join(rig.dir, 'no-such-key'),
  ]);
  assert.equal(values.code, 2);
  assert.match(values.stderr, /--private-key-file: cannot read .*no-such-key \(ENOENT\)/);

  const inputs = await cli(['--hosts', 'web1', '--target', 'srv/app', '--port', '99999', '--reload-mode', 'hard', '--private-key-file', rig.clientKeyFile]);
  assert.equal(inputs.code, 2);
  // Every bad value at once, each by its option.
  assert.match(inputs.stderr, /^graceful-reload: --target: "srv\/app" is not an absolute path$/m);
  assert.match(inputs.stderr, /^graceful-reload: --port: "99999" is not a TCP port/m);
  assert.match(inputs.stderr, /^graceful-reload: --reload-mode: "hard" is not one of: auto, graceful, quick$/m);
  assert.match(inputs.stderr, /^graceful-reload: --known-hosts: no host key is pinned/m);
  assert.equal(inputs.stdout, '', 'nothing was started');
});
