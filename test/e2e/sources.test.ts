import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rig } from '../rig/rig.js';
import { deploy, keepAliveClient } from '../rig/scenario.js';

/** The three status sources, both reload modes and both Workerman flavours, each against the test master. */
let rig: Rig;
before(async () => {
  rig = await Rig.create();
});
after(async () => {
  await rig?.destroy();
});

async function sourceWithRevision(version: string, revision: string): Promise<string> {
  const source = await rig.makeSource(version);
  await writeFile(join(source, 'REVISION'), `${revision}\n`);
  return source;
}

test('status: http reads the example status worker; not-reloadable groups are kept without ignore-workers; revisions are checked', async () => {
  const host = await rig.addHost('http');
  await host.startMaster({ statusWorker: true });
  const url = `http://127.0.0.1:${host.app.statusPort}/status`;
  const { run, report } = await deploy(rig, host, await sourceWithRevision('v2', 'rev-2'), {
    status: 'http',
    'status-url': url,
    revision: 'rev-2',
    'ignore-workers': '',
  });
  assert.equal(run.code, 0, run.log);
  assert.equal(report.replaced?.length, 5, 'web and task');
  assert.deepEqual([...new Set(report.kept!.map((w) => w.group))].sort(), ['gateway', 'graceful-reload-status']);
  assert.match(await host.get('/'), /hello from v2/);

  const wrong = await deploy(rig, host, await sourceWithRevision('v3', 'rev-3'), {
    status: 'http',
    'status-url': url,
    revision: 'rev-expected',
    'ignore-workers': '',
    timeout: '5s',
  });
  assert.equal(wrong.run.code, 1);
  assert.equal(wrong.report.reason, 'timeout');
  assert.match(wrong.report.error!, /New workers report another revision than rev-expected: web:\d+=rev-3/);
});

test('status: http with a URL that answers garbage fails with the contract error', async () => {
  const host = await rig.addHost('http-garbage');
  await host.startMaster();
  const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), {
    status: 'http',
    'status-url': `http://127.0.0.1:${host.app.httpPort}/`,
  });
  assert.equal(run.code, 1);
  assert.equal(report.step, 'preflight');
  assert.match(report.error!, /not the status JSON contract: not JSON. It began: hello from v1/);
  assert.equal(report.filesChanged, false);
});

test('status: process needs nothing from the app', async () => {
  const host = await rig.addHost('process');
  await host.startMaster();
  const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), { status: 'process' });
  assert.equal(run.code, 0, run.log);
  assert.equal(report.replaced?.length, 5);
  assert.match(await host.get('/'), /hello from v2/);
});

test('reload-mode: quick replaces workers even with an open keep-alive connection, and nothing is forced', async () => {
  const host = await rig.addHost('quick');
  await host.startMaster();
  const client = await keepAliveClient(host.app.httpPort);
  try {
    const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), { 'reload-mode': 'quick' });
    assert.equal(run.code, 0, run.log);
    assert.match(run.log, /quick reload signalled/);
    assert.equal(report.forced?.length ?? 0, 0);
    assert.match(await host.get('/'), /hello from v2/);
  } finally {
    client.destroy();
  }
});

test('Workerman 4 flavour: its status table is read and a pinned reload is still forced (SIGINT, which 4.x honours)', async () => {
  const host = await rig.addHost('v4');
  await host.startMaster({ version: 4 });
  const client = await keepAliveClient(host.app.httpPort);
  try {
    const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), { 'graceful-timeout': '2s' });
    assert.equal(run.code, 0, run.log);
    assert.match(run.log, /Workerman 4\.2\.1/);
    assert.equal(report.forced?.[0]?.signal, 'INT');
    assert.match(await host.get('/'), /hello from v2/);
  } finally {
    client.destroy();
  }
});
