import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { mustExec } from '../rig/process.js';
import { Rig, TARGET, type TestHost } from '../rig/rig.js';
import { WORKERMAN_RELEASES } from '../rig/workerman-vendor.js';
import { removeRunnerTemp, runAction, RUNNER_FILE_NAMES } from '../rig/action-runner.js';
import { inputsFor as sharedInputs } from '../rig/scenario.js';
import type { HostReport } from '../../src/engine/report/report.js';

let rig: Rig;
before(async () => {
  rig = await Rig.create();
});
after(async () => {
  await rig?.destroy();
});

const inputsFor = (host: TestHost, source: string, extra: Record<string, string> = {}) => sharedInputs(rig, host, source, extra);

const versionOn = (host: TestHost) => readFile(join(host.srv, 'app/src/version.php'), 'utf8');

/** Where each Workerman keeps its pid file and log, relative to the app (start file /srv/app/start.php). */
const LAYOUT = {
  5: { pid: 'workerman.start.php.pid', log: 'workerman.log' },
  4: { pid: 'vendor/workerman/_srv_app_start.php.pid', log: 'vendor/workerman/workerman.log' },
} as const;

for (const major of [5, 4] as const) {
  test(`Workerman ${major}: a one-host deploy syncs the files, replaces every reloadable worker, and the app serves the new code`, async (t) => {
    const host = await rig.addHost(`deploy-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster();
    assert.match(await host.get('/'), /hello from v1/);
    const before = await host.workers();
    const masterBefore = await host.masterPid();
    const source = await rig.makeSource('v2', { workerman: major });

    const run = await runAction(inputsFor(host, source));
    assert.equal(run.code, 0, run.log);

    assert.match(await versionOn(host), /v2/);
    assert.match(await host.get('/'), /hello from v2/);
    assert.equal(await host.masterPid(), masterBefore, 'a reload keeps the master');
    const afterWorkers = await host.workers();
    const gatewayBefore = before
      .filter((w) => / gateway /.test(w.title))
      .map((w) => w.pid)
      .sort();
    const gatewayAfter = afterWorkers
      .filter((w) => / gateway /.test(w.title))
      .map((w) => w.pid)
      .sort();
    assert.deepEqual(gatewayAfter, gatewayBefore, 'reloadable = false workers keep their PIDs');
    const reloadable = before.filter((w) => !/ gateway /.test(w.title));
    assert.equal(reloadable.length, 5, '4 web + 1 task before the reload');
    const stillThere = reloadable.filter((w) => afterWorkers.some((a) => a.pid === w.pid));
    assert.deepEqual(stillThere, [], 'every reloadable worker was replaced');

    const [report] = JSON.parse(run.outputs['report']!) as HostReport[];
    assert.equal(report!.ok, true);
    assert.equal(report!.masterPid, masterBefore);
    assert.deepEqual(report!.replaced!.map((r) => r.oldPid).sort(), reloadable.map((w) => w.pid).sort());
    assert.deepEqual(report!.kept!.map((k) => k.pid).sort(), gatewayBefore);
    assert.match(run.log, /5\/5 workers replaced|all 5 workers replaced/);
    const layout = LAYOUT[major];
    assert.ok(
      run.log.includes(
        `master ${masterBefore} running (Workerman ${WORKERMAN_RELEASES[major]}); groups web×4, gateway×2 (not reloadable), task×1; log ${TARGET}/${layout.log}`,
      ),
      run.log,
    );

    // The sync's --delete kept the master's own files, where this Workerman keeps them.
    await stat(join(host.srv, 'app', layout.pid));
    await stat(join(host.srv, 'app', layout.log));

    // Nothing of the action's on disk: no key, no SSH config, no known_hosts file.
    assert.deepEqual(
      (await readdir(run.runnerTemp)).filter((name) => !RUNNER_FILE_NAMES.includes(name)),
      [],
    );
    await removeRunnerTemp(run);
  });
}

test('no master running: the action fails before changing any file, though reload would exit 0', async () => {
  const host = await rig.addHost('nomaster');
  const reload = await host.shell(`cd ${TARGET} && php start.php reload -g; echo "exit=$?"`);
  assert.match(reload, /not run[\s\S]*exit=0/, 'the trap: reload exits 0 with no master');
  const source = await rig.makeSource('v2');

  const run = await runAction(inputsFor(host, source));
  assert.equal(run.code, 1);
  assert.match(run.log, /no Workerman master is running for \/srv\/app\/start\.php/);
  assert.match(run.log, /Nothing was changed/);
  assert.match(await versionOn(host), /v1/);
  const [report] = JSON.parse(run.outputs['report']!) as HostReport[];
  assert.deepEqual([report!.ok, report!.step, report!.filesChanged], [false, 'preflight', false]);
  await removeRunnerTemp(run);
});

test('a host key that does not match is refused before a single file is sent', async () => {
  const host = await rig.addHost('impostor');
  await host.startMaster();
  const other = await rig.addHost('genuine', { app: false });
  const source = await rig.makeSource('v2');
  // Pin the genuine host's key under the impostor's address.
  const wrongPin = other.hostKeyLine.replace(`[127.0.0.1]:${other.port}`, `[127.0.0.1]:${host.port}`);

  const run = await runAction(inputsFor(host, source, { 'known-hosts': wrongPin }));
  assert.equal(run.code, 1);
  const offered = (await mustExec('ssh-keygen', ['-l', '-f', join(host.dir, 'etc/ssh_host_ed25519_key.pub')])).split(' ')[1]!;
  const pinned = (await mustExec('ssh-keygen', ['-l', '-f', join(other.dir, 'etc/ssh_host_ed25519_key.pub')])).split(' ')[1]!;
  assert.ok(run.log.includes(`offered ${offered}`), run.log);
  assert.ok(run.log.includes(`pinned: ssh-ed25519 ${pinned}`), run.log);
  assert.match(await versionOn(host), /v1/);
  const [report] = JSON.parse(run.outputs['report']!) as HostReport[];
  assert.deepEqual([report!.ok, report!.step, report!.filesChanged], [false, 'host-key', false]);
  await removeRunnerTemp(run);
});
