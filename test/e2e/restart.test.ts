import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { adminStates, HaProxy } from '../rig/haproxy.js';
import { startLoad } from '../rig/http-load.js';
import { Rig, type TestHost } from '../rig/rig.js';
import { deploy, deployFleet, explainDeploy as explain, keepAliveClient } from '../rig/scenario.js';

/**
 * Issue 20, a restart without an outage, on real Workerman 5 and 4: a
 * master-level change with an idle client restarts without waiting for that
 * client (it is closed, and reconnects to the new master); a GatewayWorker
 * client is closed during the restart; behind a real HAProxy with the drain
 * commands, no request fails and HAProxy itself shows each server was in
 * maintenance; a drain that fails stops its host before anything is stopped.
 * How long the port is unserved is measured by `npm run bench`, not here.
 */

const DEFAULTS = { 'ignore-workers': '' } as const;
const MAJORS = [5, 4] as const;

let rig: Rig;
before(async () => {
  rig = await Rig.create();
});
after(async () => {
  await rig?.destroy();
});

/** A master-level change: a new line in the start file, so its content differs. */
async function touchStartFile(source: string, file = 'start.php'): Promise<void> {
  const path = join(source, file);
  await writeFile(path, `${await readFile(path, 'utf8')}\n// changed by the restart test\n`);
}

/** Whether a socket has been closed by its peer, kept up to date. */
function watchClose(socket: Socket): { closed: boolean } {
  const state = { closed: false };
  socket.on('close', () => (state.closed = true));
  socket.on('error', () => undefined);
  return state;
}

for (const major of MAJORS) {
  const app = { app: 'plain', workerman: major } as const;

  test(`Workerman ${major}: a restart with an idle keep-alive client closes it instead of waiting graceful-timeout, and the new code serves`, async () => {
    const host = await rig.addHost(`restart-idle-${major}`, app);
    await host.startMaster();
    const oldMaster = await host.masterPid();
    const idle = await keepAliveClient(host.app.httpPort);
    const state = watchClose(idle);
    try {
      const source = await rig.makeSource('v2', app);
      await touchStartFile(source);
      const result = await deploy(rig, host, source, DEFAULTS);
      const { report, run } = result;
      assert.equal(report.ok, true, explain(result));
      assert.equal(report.action, 'restart', explain(result));
      assert.equal(report.previousMasterPid, oldMaster, explain(result));
      assert.equal(state.closed, true, 'the idle client was closed by the stop, before the rollout ended');
      const cost = report.restartCost;
      assert.ok(cost, explain(result));
      assert.ok((cost.connectionsClosed ?? 0) >= 1, `the stop counted the idle client: ${JSON.stringify(cost)}`);
      assert.equal(cost.killedAfterStopTimeout, 0, 'every old worker exited on SIGINT, none had to be killed');
      assert.equal(typeof cost.unservedMs, 'number', 'the new listener was seen');
      assert.doesNotMatch(run.log, /graceful-timeout|stop -g/, 'nothing waited for the idle client');
      assert.notEqual(await host.masterPid(), oldMaster);
      assert.equal(await host.get('/'), 'hello from v2\n');
    } finally {
      idle.destroy();
    }
  });
}

test('GatewayWorker: a restart closes the gateway client during the restart, and the app answers again', async () => {
  const host = await rig.addHost('restart-gateway', { app: 'gateway', workerman: 5 });
  await host.startMaster();
  const client = connect(host.app.gatewayPort, '127.0.0.1');
  await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject));
  const state = watchClose(client);
  try {
    const source = await rig.makeSource('v2', { app: 'gateway', workerman: 5 });
    await touchStartFile(source);
    let closedWhenStarted: boolean | undefined;
    const result = await deploy(rig, host, source, DEFAULTS, [{ match: /started again/, then: async () => (closedWhenStarted = state.closed) }]);
    assert.equal(result.report.ok, true, explain(result));
    assert.equal(result.report.action, 'restart', explain(result));
    assert.equal(closedWhenStarted, true, 'the client was closed by the time the new master started');
    assert.equal(result.report.restartCost?.killedAfterStopTimeout, 0, explain(result));
    const again = connect(host.app.gatewayPort, '127.0.0.1');
    const reply = await new Promise<string>((resolve, reject) => {
      again.once('error', reject);
      again.once('connect', () => again.write('hello\n'));
      again.once('data', (chunk) => resolve(chunk.toString().trim()));
    });
    again.destroy();
    assert.equal(reply, 'v2: hello');
  } finally {
    client.destroy();
  }
});

test('behind a real HAProxy, drained one host at a time: no request fails, 3 new masters, and HAProxy held each server in maintenance', async () => {
  const app = { app: 'plain', workerman: 5 } as const;
  const hosts: TestHost[] = [];
  for (let n = 1; n <= 3; n++) hosts.push(await rig.addHost(`lb-${n}`, app));
  for (const host of hosts) await host.startMaster();
  const oldMasters = await Promise.all(hosts.map((host) => host.masterPid()));
  const proxy = await HaProxy.start(hosts.map((host) => host.app.httpPort));
  const record = join(rig.dir, 'haproxy-states.txt');
  try {
    const source = await rig.makeSource('v2', app);
    await touchStartFile(source);
    const load = startLoad([proxy.port], { perPort: 2, pauseMs: 5, maxMs: 90_000, maxRequests: 50_000 });
    const { run, reports } = await deployFleet(rig, hosts, source, {
      ...DEFAULTS,
      'max-parallel': '1',
      'drain-command': proxy.stateCommand('maint'),
      'undrain-command': `${proxy.recordStateCommand(record)} && ${proxy.stateCommand('ready')}`,
    });
    const requests = await load.stop();
    assert.equal(run.code, 0, run.log);
    assert.deepEqual(
      reports.map((report) => report.action),
      ['restart', 'restart', 'restart'],
      run.log,
    );
    assert.ok(requests.ok > 100, `the load ran: ${JSON.stringify(requests)}`);
    assert.equal(requests.failed, 0, `no request through HAProxy failed: ${JSON.stringify(requests)}`);
    const newMasters = await Promise.all(hosts.map((host) => host.masterPid()));
    newMasters.forEach((pid, index) => assert.ok(pid !== null && pid !== oldMasters[index], `host ${index + 1} runs a new master`));
    for (const report of reports) {
      assert.deepEqual(
        report.commands?.map((command) => `${command.name} ${command.exit}`),
        ['drain exit 0', 'undrain exit 0'],
        JSON.stringify(report),
      );
      assert.equal(report.leftDrained, false);
    }
    // Recorded by HAProxy itself right before each undrain, after the host's restart was proven.
    const recorded = (await readFile(record, 'utf8')).split(/^host /m).filter((part) => part.trim() !== '');
    assert.equal(recorded.length, 3, 'one record per host');
    for (const part of recorded) {
      const index = Number(part.split('\n')[0]);
      const states = adminStates(part);
      assert.equal((states.get(`web${index}`) ?? 0) & 1, 1, `web${index} was in maintenance through its restart: ${part}`);
      for (const [server, admin] of states) if (server !== `web${index}`) assert.equal(admin & 1, 0, `${server} stayed in service meanwhile`);
    }
    assert.deepEqual(
      [...adminStates(await proxy.admin('show servers state app')).values()].map((admin) => admin & 1),
      [0, 0, 0],
      'every server is back in service',
    );
  } finally {
    await proxy.stop();
  }
});

test('a drain-command that exits 1: its host is not stopped, is reported failed, and undrain-command never runs', async () => {
  const app = { app: 'plain', workerman: 5 } as const;
  const host = await rig.addHost('drain-fails', app);
  await host.startMaster();
  const oldMaster = await host.masterPid();
  const marker = join(rig.dir, 'undrained');
  const source = await rig.makeSource('v2', app);
  await touchStartFile(source);
  const result = await deploy(rig, host, source, { ...DEFAULTS, 'drain-command': 'echo "lb refused"; exit 1', 'undrain-command': `touch ${marker}` });
  const { report, run } = result;
  assert.notEqual(run.code, 0, explain(result));
  assert.equal(report.ok, false);
  assert.equal(report.step, 'drain', explain(result));
  assert.match(report.error ?? '', /drain-command exit 1: lb refused; the host was not stopped/, explain(result));
  assert.equal(await host.masterPid(), oldMaster, 'the old master was never stopped');
  assert.equal(report.status, 'rolled-back', 'its files were rolled back');
  assert.equal(await host.get('/'), 'hello from v1\n');
  assert.equal(
    await readFile(marker).then(
      () => true,
      () => false,
    ),
    false,
    'undrain-command did not run',
  );
  assert.deepEqual(
    report.commands?.map((command) => `${command.name} ${command.exit}`),
    ['drain exit 1'],
  );
  assert.equal(report.leftDrained, undefined, 'never taken out, so not left out');
});
