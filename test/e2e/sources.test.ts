import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rig, type WorkermanMajor } from '../rig/rig.js';
import { WORKERMAN_RELEASES } from '../rig/workerman-vendor.js';
import { deploy, pinFirstWorker } from '../rig/scenario.js';

/** The three status sources and both reload modes, each on real Workerman 5.2.2 and 4.2.1. */
let rig: Rig;
before(async () => {
  rig = await Rig.create();
});
after(async () => {
  await rig?.destroy();
});

async function sourceWithRevision(version: string, revision: string, workerman: WorkermanMajor): Promise<string> {
  const source = await rig.makeSource(version, { workerman });
  await writeFile(join(source, 'REVISION'), `${revision}\n`);
  return source;
}

for (const major of [5, 4] as const) {
  test(`Workerman ${major}: status: http reads the example status worker; not-reloadable groups are kept without ignore-workers; revisions are checked`, async (t) => {
    const host = await rig.addHost(`http-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster({ statusWorker: true });
    const url = `http://127.0.0.1:${host.app.statusPort}/status`;
    const { run, report } = await deploy(rig, host, await sourceWithRevision('v2', 'rev-2', major), {
      status: 'http',
      'status-url': url,
      revision: 'rev-2',
      'ignore-workers': '',
    });
    assert.equal(run.code, 0, run.log);
    assert.equal(report.replaced?.length, 5, 'web and task');
    assert.deepEqual([...new Set(report.kept!.map((w) => w.group))].sort(), ['gateway', 'graceful-reload-status']);
    assert.match(await host.get('/'), /hello from v2/);

    const wrong = await deploy(rig, host, await sourceWithRevision('v3', 'rev-3', major), {
      status: 'http',
      'status-url': url,
      revision: 'rev-expected',
      'ignore-workers': '',
      timeout: '5s',
    });
    assert.equal(wrong.run.code, 1, wrong.run.log);
    assert.equal(wrong.report.step, 'verify');
    assert.match(wrong.report.error!, /another revision than rev-expected.*web:\d+=rev-3/);
    // The new workers did load the deployed code (rev-2 before, rev-3 now): what differs is the
    // deployed REVISION and the revision input, not where the app loads its code.
    assert.doesNotMatch(wrong.report.error!, /loaded outside the worker callbacks/);
  });

  test(`Workerman ${major}: status: http with a URL that answers garbage fails with the contract error`, async (t) => {
    const host = await rig.addHost(`http-garbage-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster();
    const { run, report } = await deploy(rig, host, await rig.makeSource('v2', { workerman: major }), {
      status: 'http',
      'status-url': `http://127.0.0.1:${host.app.httpPort}/`,
    });
    assert.equal(run.code, 1, run.log);
    assert.equal(report.step, 'preflight');
    assert.match(report.error!, /not the status JSON contract: not JSON. It began: hello from v1/);
    assert.equal(report.filesChanged, false);
  });

  test(`Workerman ${major}: status: process needs nothing from the app`, async (t) => {
    const host = await rig.addHost(`process-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster();
    const { run, report } = await deploy(rig, host, await rig.makeSource('v2', { workerman: major }), { status: 'process' });
    assert.equal(run.code, 0, run.log);
    assert.equal(report.replaced?.length, 5);
    assert.match(await host.get('/'), /hello from v2/);
  });

  test(`Workerman ${major}: reload-mode: quick replaces workers even with an open keep-alive connection, and nothing is forced`, async (t) => {
    const host = await rig.addHost(`quick-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster();
    // Held by the worker replaced first: a graceful reload would stand still.
    const { socket: client } = await pinFirstWorker(host);
    try {
      const { run, report } = await deploy(rig, host, await rig.makeSource('v2', { workerman: major }), { 'reload-mode': 'quick' });
      assert.equal(run.code, 0, run.log);
      assert.match(run.log, /quick reload signalled/);
      assert.equal(report.forced?.length ?? 0, 0);
      assert.match(await host.get('/'), /hello from v2/);
    } finally {
      client.destroy();
    }
  });

  test(`Workerman ${major}: the version is recognised, and a pinned reload is forced with SIGINT (which 4.x workers honour, unlike SIGTERM)`, async (t) => {
    const host = await rig.addHost(`flavour-${major}`, { workerman: major });
    t.after(() => host.stop());
    await host.startMaster();
    const { socket: client, pid: pinned } = await pinFirstWorker(host);
    try {
      const { run, report } = await deploy(rig, host, await rig.makeSource('v2', { workerman: major }), { 'graceful-timeout': '2s' });
      assert.equal(run.code, 0, run.log);
      assert.ok(run.log.includes(`Workerman ${WORKERMAN_RELEASES[major]}`), run.log);
      assert.equal(report.forced?.[0]?.signal, 'INT');
      assert.equal(report.forced?.[0]?.pid, pinned);
      assert.match(await host.get('/'), /hello from v2/);
    } finally {
      client.destroy();
    }
  });
}
