import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Rig, TARGET } from '../rig/rig.js';
import { deploy, installPhpWrapper, keepAliveClient, makeCrashingSource } from '../rig/scenario.js';

/**
 * Every way a reload goes wrong, each on a fresh rig host with the test
 * master: the action must fail clearly (or recover), never report success.
 */
let rig: Rig;
before(async () => {
  rig = await Rig.create();
});
after(async () => {
  await rig?.destroy();
});

const annotations = (log: string) => log.split('\n').filter((line) => line.startsWith('::error'));

test('crash loop: the new code dies in onWorkerStart; the action fails and quotes the PHP error', async () => {
  const host = await rig.addHost('crash');
  await host.startMaster();
  const { run, report } = await deploy(rig, host, await makeCrashingSource(rig), { settle: '2s' });
  assert.equal(run.code, 1);
  assert.equal(report.step, 'verify');
  assert.equal(report.reason, 'crash-loop', report.error);
  assert.match(report.error!, /crash-loops/);
  assert.ok(
    annotations(run.log).some((line) => line.includes('Error: boom: the new handler cannot start')),
    `an error annotation quotes the PHP error:\n${run.log}`,
  );
});

test('graceful reload pinned by a keep-alive client, on-graceful-timeout: force stops the holder and the reload completes', async () => {
  const host = await rig.addHost('pinned-force');
  await host.startMaster();
  const client = await keepAliveClient(host.app.httpPort);
  try {
    const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), { 'graceful-timeout': '2s' });
    assert.equal(run.code, 0, run.log);
    assert.equal(report.forced?.length, 1, JSON.stringify(report.forced));
    assert.equal(report.forced![0]!.signal, 'INT');
    assert.equal(report.forced![0]!.group, 'web');
    assert.match(run.log, /graceful reload pinned for .*; stopping web:\d+ .*with SIGINT/);
    assert.match(await host.get('/'), /hello from v2/);
  } finally {
    client.destroy();
  }
});

test('graceful reload pinned, on-graceful-timeout: fail names the pinned worker and its connections', async () => {
  const host = await rig.addHost('pinned-fail');
  await host.startMaster();
  const client = await keepAliveClient(host.app.httpPort);
  try {
    const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), { 'graceful-timeout': '2s', 'on-graceful-timeout': 'fail' });
    assert.equal(run.code, 1);
    assert.equal(report.reason, 'pinned', report.error);
    assert.match(report.error!, /pinned by web:\d+ \((?:\w+, )?1 open connection\(s\)\)/);
    assert.equal(report.forced?.length ?? 0, 0, 'fail mode stops nothing');
  } finally {
    client.destroy();
  }
});

test('the master dies during the reload: fail at once and say so', async () => {
  const host = await rig.addHost('master-dies');
  await host.startMaster();
  const client = await keepAliveClient(host.app.httpPort);
  try {
    const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), { 'graceful-timeout': '30s' }, [
      { match: /reload signalled/, then: () => host.stopMaster() },
    ]);
    assert.equal(run.code, 1);
    assert.equal(report.reason, 'master-gone', report.error);
    assert.match(report.error!, /master process \(pid \d+\) died during the reload/);
  } finally {
    client.destroy();
  }
});

test('the master is replaced (restart) during the reload: fail and say so', async () => {
  const host = await rig.addHost('master-replaced');
  await host.startMaster();
  const client = await keepAliveClient(host.app.httpPort);
  try {
    const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), { 'graceful-timeout': '30s' }, [
      {
        match: /reload signalled/,
        then: async () => {
          await host.stopMaster();
          await host.startMaster();
        },
      },
    ]);
    assert.equal(run.code, 1);
    assert.equal(report.reason, 'master-replaced', report.error);
    assert.match(report.error!, /the master was replaced during the reload/);
  } finally {
    client.destroy();
  }
});

test('no progress: an earlier reload still runs, so the signal is swallowed; reported as such, not as a bare timeout', async () => {
  const host = await rig.addHost('swallowed');
  await host.startMaster();
  const client = await keepAliveClient(host.app.httpPort);
  try {
    // Someone's earlier graceful reload, pinned by the client, is still running.
    await host.shell(`cd ${TARGET} && php start.php reload -g`);
    const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), { 'graceful-timeout': '3s', timeout: '30s' });
    assert.equal(run.code, 1);
    assert.equal(report.reason, 'no-progress', report.error);
    assert.match(report.error!, /no progress: not one of \d+ workers was replaced/);
    assert.match(report.error!, /no "reloading" line/);
    assert.equal(report.forced?.length ?? 0, 0, 'a swallowed signal is not forced');
  } finally {
    client.destroy();
  }
});

test('the status command prints garbage: a clear parse error, and nothing is changed', async () => {
  const host = await rig.addHost('garbage');
  await host.startMaster();
  const php = await installPhpWrapper(host, 'php-garbage', `echo 'Segmentation fault (core dumped)'; exit 0`);
  const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), { php });
  assert.equal(run.code, 1);
  assert.equal(report.step, 'preflight');
  assert.match(report.error!, /cannot read the output of "status": no PROCESS STATUS section. It began: Segmentation fault/);
  assert.equal(report.filesChanged, false);
});

test('the status command hangs: the per-command timeout fires with a clear message', async () => {
  const host = await rig.addHost('hang');
  await host.startMaster();
  const php = await installPhpWrapper(host, 'php-hang', 'sleep 600');
  const started = Date.now();
  const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), { php, 'command-timeout': '2s' });
  assert.equal(run.code, 1);
  assert.equal(report.step, 'preflight');
  assert.match(report.error!, /a remote command gave no answer within 2 s: cat \/proc\/uptime; cd \/srv\/app && \/srv\/bin\/php-hang start\.php status/);
  assert.equal(report.filesChanged, false);
  assert.ok(Date.now() - started < 30_000, 'the hang does not hold the action');
});

test('timeout: the message says which workers are still old and what each is doing', async () => {
  const host = await rig.addHost('timeout');
  await host.startMaster();
  const client = await keepAliveClient(host.app.httpPort);
  try {
    const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), { timeout: '4s', 'graceful-timeout': '60s' });
    assert.equal(run.code, 1);
    assert.equal(report.reason, 'timeout', report.error);
    assert.match(report.error!, /did not finish within the timeout \(4\.0 s\): 0\/5 workers replaced; still old: web:\d+ \(\w+, 1 open connection\(s\)\)/);
    assert.equal(report.stillOld?.length, 5);
  } finally {
    client.destroy();
  }
});

test('reloadable = false: a group left out of ignore-workers never moves, and the timeout says how to fix it', async () => {
  const host = await rig.addHost('not-reloadable');
  await host.startMaster();
  const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), { 'ignore-workers': '', timeout: '5s' });
  assert.equal(run.code, 1);
  assert.match(report.error!, /No worker of gateway was replaced while others were: if it has reloadable = false, list it in ignore-workers/);
  assert.deepEqual(report.stillOld?.map((w) => w.group), ['gateway', 'gateway']);
});

test('the status table turns to garbage or hangs mid-reload: verify fails clearly, never reports success', async () => {
  const host = await rig.addHost('midway');
  await host.startMaster();
  const php = await installPhpWrapper(
    host,
    'php-midway',
    `if [ -f /srv/garbage ]; then echo 'PHP Warning: Undefined index'; exit 0; fi; if [ -f /srv/hang ]; then sleep 600; fi`,
  );
  const garbage = await deploy(rig, host, await rig.makeSource('v2'), { php, settle: '3s' }, [
    { match: /reload signalled/, then: () => host.shell('touch /srv/garbage') },
  ]);
  assert.equal(garbage.run.code, 1);
  assert.equal(garbage.report.step, 'verify');
  assert.match(garbage.report.error!, /cannot read the output of "status": no PROCESS STATUS section. It began: PHP Warning: Undefined index; refusing to call the reload done without it/);

  await host.shell('rm -f /srv/garbage');
  const hang = await deploy(rig, host, await rig.makeSource('v3'), { php, settle: '3s', 'command-timeout': '2s' }, [
    { match: /reload signalled/, then: () => host.shell('touch /srv/hang') },
  ]);
  assert.equal(hang.run.code, 1);
  assert.equal(hang.report.step, 'verify');
  assert.match(hang.report.error!, /"\/srv\/bin\/php-midway start\.php status" gave no answer within 2 s/);
});

test('the deploy user may not signal the master (it runs as root): refused before any file changes, not a silent no-op', async () => {
  const host = await rig.addHost('other-user', { users: ['deploy'] });
  await host.startMaster();
  const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), { hosts: `deploy@127.0.0.1:${host.port}` });
  assert.equal(run.code, 1);
  assert.equal(report.step, 'preflight');
  assert.match(report.error!, /deploy may not signal the master \(pid \d+\).*Deploy as the user the master runs as/);
  assert.equal(report.filesChanged, false);
  assert.match(await host.get('/'), /hello from v1/);
});
