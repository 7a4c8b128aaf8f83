import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rig, TARGET } from '../rig/rig.js';
import { deploy, installPhpWrapper, makeCrashingSource, pinFirstWorker } from '../rig/scenario.js';

/**
 * Every way a reload goes wrong, each on a fresh rig host running real
 * Workerman, 5.2.2 and 4.2.1: the action must fail clearly (or recover),
 * never report success.
 */
let rig: Rig;
before(async () => {
  rig = await Rig.create();
});
after(async () => {
  await rig?.destroy();
});

const annotations = (log: string) => log.split('\n').filter((line) => line.startsWith('::error'));

/**
 * How a still-old worker is described: on 5.x with what the status table
 * says of it (its connections); the action never runs `status` on 4.x (it
 * ends workers that are stopping gracefully), so there only its process state.
 */
// After the signal no status table is read: a worker is described by its /proc state, or on 5.x by what the table said before the signal.
const holding = (major: 4 | 5) => (major === 5 ? '\\(\\w+(?:, 1 open connection\\(s\\))?\\)' : '\\(\\w+\\)');

for (const major of [5, 4] as const) {
  test(`Workerman ${major}: crash loop: the new code dies in onWorkerStart; the action fails and quotes the PHP error`, async (t) => {
    const host = await rig.addHost(`crash-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster();
    const { run, report } = await deploy(rig, host, await makeCrashingSource(rig, { workerman: major }), { settle: '2s' });
    assert.equal(run.code, 1, run.log);
    assert.equal(report.step, 'verify');
    assert.equal(report.reason, 'crash-loop', report.error);
    assert.match(report.error!, /crash-loops/);
    assert.ok(
      annotations(run.log).some((line) => line.includes('Error: boom: the new handler cannot start')),
      `an error annotation quotes the PHP error:\n${run.log}`,
    );
  });

  test(`Workerman ${major}: graceful reload pinned by a keep-alive client, on-graceful-timeout: force stops the holder and the reload completes`, async (t) => {
    const host = await rig.addHost(`pinned-force-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster();
    const { socket: client, pid: pinned } = await pinFirstWorker(host);
    try {
      const { run, report } = await deploy(rig, host, await rig.makeSource('v2', { workerman: major }), { 'graceful-timeout': '2s' });
      assert.equal(run.code, 0, run.log);
      assert.equal(report.forced?.length, 1, JSON.stringify(report.forced));
      assert.equal(report.forced![0]!.signal, 'INT');
      assert.equal(report.forced![0]!.group, 'web');
      assert.equal(report.forced![0]!.pid, pinned, 'the worker forced is the one the client pins');
      assert.match(run.log, /graceful reload pinned for .*; stopping web:\d+ .*with SIGINT/);
      assert.match(await host.get('/'), /hello from v2/);
    } finally {
      client.destroy();
    }
  });

  test(`Workerman ${major}: graceful reload pinned, on-graceful-timeout: fail names the pinned worker and its connections`, async (t) => {
    const host = await rig.addHost(`pinned-fail-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster();
    const { socket: client, pid: pinned } = await pinFirstWorker(host);
    try {
      const { run, report } = await deploy(rig, host, await rig.makeSource('v2', { workerman: major }), {
        'graceful-timeout': '2s',
        'on-graceful-timeout': 'fail',
      });
      assert.equal(run.code, 1, run.log);
      assert.equal(report.reason, 'pinned', report.error);
      assert.match(report.error!, new RegExp(`pinned by web:${pinned} ${holding(major)}`));
      assert.equal(report.forced?.length ?? 0, 0, 'fail mode stops nothing');
    } finally {
      client.destroy();
    }
  });

  test(`Workerman ${major}: the master dies during the reload: fail at once and say so`, async (t) => {
    const host = await rig.addHost(`master-dies-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster();
    const { socket: client } = await pinFirstWorker(host);
    try {
      const { run, report } = await deploy(rig, host, await rig.makeSource('v2', { workerman: major }), { 'graceful-timeout': '30s' }, [
        { match: /reload signalled/, then: () => host.stopMaster() },
      ]);
      assert.equal(run.code, 1, run.log);
      assert.equal(report.reason, 'master-gone', report.error);
      assert.match(report.error!, /master process \(pid \d+\) died during the reload/);
    } finally {
      client.destroy();
    }
  });

  test(`Workerman ${major}: the master is replaced (restart) during the reload: fail and say so`, async (t) => {
    const host = await rig.addHost(`master-replaced-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster();
    const { socket: client } = await pinFirstWorker(host);
    try {
      const { run, report } = await deploy(rig, host, await rig.makeSource('v2', { workerman: major }), { 'graceful-timeout': '30s' }, [
        {
          match: /reload signalled/,
          // A real master takes over a second to come up; the runner stalls
          // meanwhile (SIGSTOP), so its next look finds the new master in place.
          // (Without the stall it first sees no master at all: master-gone.)
          then: async ({ pid }) => {
            process.kill(pid, 'SIGSTOP');
            try {
              await host.stopMaster();
              await host.startMaster();
            } finally {
              process.kill(pid, 'SIGCONT');
            }
          },
        },
      ]);
      assert.equal(run.code, 1, run.log);
      assert.equal(report.reason, 'master-replaced', report.error);
      assert.match(report.error!, /the master was replaced during the reload/);
    } finally {
      client.destroy();
    }
  });

  test(`Workerman ${major}: no progress: an earlier reload still runs, so the signal is swallowed; reported as such, not as a bare timeout`, async (t) => {
    const host = await rig.addHost(`swallowed-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster();
    const { socket: client } = await pinFirstWorker(host);
    try {
      // Someone's earlier graceful reload, pinned by the client, is still running.
      await host.shell(`cd ${TARGET} && php start.php reload -g`);
      const { run, report } = await deploy(rig, host, await rig.makeSource('v2', { workerman: major }), { 'graceful-timeout': '3s', timeout: '30s' });
      assert.equal(run.code, 1, run.log);
      assert.equal(report.reason, 'no-progress', report.error);
      assert.match(report.error!, /no progress: not one of \d+ workers was replaced/);
      assert.match(report.error!, /no "reloading" line/);
      assert.equal(report.forced?.length ?? 0, 0, 'a swallowed signal is not forced');
    } finally {
      client.destroy();
    }
  });

  test(`Workerman ${major}: the status command is never run (its signal kills workers just forked or stopping), so one that prints garbage or hangs changes nothing`, async (t) => {
    const host = await rig.addHost(`status-never-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster();
    const php = await installPhpWrapper(host, 'php-broken-status', `echo 'Segmentation fault (core dumped)'; sleep 600`);
    const { run, report } = await deploy(rig, host, await rig.makeSource('v2', { workerman: major }), { php, 'command-timeout': '2s' });
    assert.equal(run.code, 0, run.log);
    assert.equal(await host.shell('cat /srv/bin/php-broken-status.status-calls 2>/dev/null | wc -l'), '0\n', 'php start.php status never ran');
    assert.equal(report.replaced?.length, 5);
    assert.match(await host.get('/'), /hello from v2/);
  });

  test(`Workerman ${major}: timeout: the message says which workers are still old and what each is doing`, async (t) => {
    const host = await rig.addHost(`timeout-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster();
    const { socket: client } = await pinFirstWorker(host);
    try {
      const { run, report } = await deploy(rig, host, await rig.makeSource('v2', { workerman: major }), { timeout: '4s', 'graceful-timeout': '60s' });
      assert.equal(run.code, 1, run.log);
      assert.equal(report.reason, 'timeout', report.error);
      assert.match(report.error!, new RegExp(`did not finish within the timeout \\(4\\.0 s\\): 0/5 workers replaced; still old: web:\\d+ ${holding(major)}`));
      assert.equal(report.stillOld?.length, 5);
    } finally {
      client.destroy();
    }
  });

  test(`Workerman ${major}: reloadable = false: the app's own definition keeps the group, without ignore-workers`, async (t) => {
    const host = await rig.addHost(`not-reloadable-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster();
    const gateway = (await host.workers())
      .filter((w) => / gateway /.test(w.title))
      .map((w) => w.pid)
      .sort();
    const { run, report } = await deploy(rig, host, await rig.makeSource('v2', { workerman: major }), { 'ignore-workers': '', timeout: '20s' });
    assert.equal(run.code, 0, run.log);
    assert.deepEqual(report.kept?.map((w) => w.pid).sort(), gateway, 'both gateway workers kept');
    assert.deepEqual(
      report.kept?.map((w) => w.group),
      ['gateway', 'gateway'],
    );
    assert.equal(report.replaced?.length, 5);
    assert.match(await host.get('/'), /hello from v2/);
  });

  test(`Workerman ${major}: the deployed start script changes a group's definition: a reload cannot apply it, so the app is restarted`, async (t) => {
    const host = await rig.addHost(`definition-changed-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster();
    const masterBefore = await host.masterPid();
    const source = await rig.makeSource('v2', { workerman: major });
    // The new start script makes gateway reloadable; a reload would keep the running master's definitions.
    const startFile = join(source, 'start.php');
    const script = await readFile(startFile, 'utf8');
    assert.ok(script.includes('$gateway->reloadable = false;'));
    await writeFile(startFile, script.replace('$gateway->reloadable = false;', ''));
    const { run, report } = await deploy(rig, host, source, { 'ignore-workers': '', timeout: '30s' });
    assert.equal(run.code, 0, run.log);
    assert.match(run.log, /::warning::.*restarting the app \(.*worker definitions changed: gateway .*reloadable = false -> /);
    assert.equal(report.action, 'restart');
    assert.equal(report.previousMasterPid, masterBefore);
    const masterAfter = await host.masterPid();
    assert.ok(masterAfter !== null && masterAfter !== masterBefore, 'a new master runs');
    assert.equal(report.masterPid, masterAfter);
    assert.match(await host.get('/'), /hello from v2/);
  });

  test(`Workerman ${major}: the deploy user may not signal the master (it runs as root): refused before any file changes, not a silent no-op`, async (t) => {
    const host = await rig.addHost(`other-user-${major}`, { workerman: major, users: ['deploy'] });
    t.after(() => host.stop());
    // The deploy user owns the app and its parent, so it could sync (and keep its state beside the app); the master runs as root.
    await host.shell('chown -R deploy /srv/app && chown deploy /srv');
    await host.startMaster();
    const { run, report } = await deploy(rig, host, await rig.makeSource('v2', { workerman: major }), { hosts: `deploy@127.0.0.1:${host.port}` });
    assert.equal(run.code, 1, run.log);
    assert.equal(report.step, 'preflight', report.error);
    assert.match(report.error!, /deploy may not signal the master \(pid \d+\).*Deploy as the user the master runs as/);
    assert.equal(report.filesChanged, false);
    assert.match(await host.get('/'), /hello from v1/);
  });
}
