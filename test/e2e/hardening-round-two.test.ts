import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rig, TARGET, type TestHost } from '../rig/rig.js';
import { deploy } from '../rig/scenario.js';

/** Issue #21: what an outside attack and fault run broke, each on real Workerman over the rig's real sshd and rsync. */

let rig: Rig;
before(async () => {
  rig = await Rig.create();
});
after(async () => {
  await rig?.destroy();
});

/** Renames the example app's gateway group (reloadable = false) in a start.php: the host's and the source's must stay the same, or the change is master-level. */
async function renameGateway(appDir: string, name: string): Promise<void> {
  const startFile = join(appDir, 'start.php');
  const text = await readFile(startFile, 'utf8');
  const anchor = "$gateway->name = 'gateway';";
  if (!text.includes(anchor)) throw new Error(`examples/app/start.php no longer names its gateway with "${anchor}"`);
  await writeFile(startFile, text.replace(anchor, `$gateway->name = ${name};`));
}

async function gatewayPids(host: TestHost): Promise<number[]> {
  return (await host.workers()).filter((worker) => /worker process\s+g\nw /.test(worker.title)).map((worker) => worker.pid).sort((a, b) => a - b);
}

for (const workerman of [5, 4] as const) {
  test(`Workerman ${workerman}: a reloadable = false group named with a newline is kept, never stopped`, async () => {
    const host = await rig.addHost(`newline-${workerman}`, { workerman });
    await renameGateway(join(host.srv, 'app'), '"g\\nw"');
    await host.startMaster();
    const before = await gatewayPids(host);
    assert.equal(before.length, 2, `the two gateway workers carry the newline in their titles: ${JSON.stringify(await host.workers())}`);
    const source = await rig.makeSource('v2', { workerman });
    await renameGateway(source, '"g\\nw"');
    const { run, report } = await deploy(rig, host, source, { 'ignore-workers': 'task' });
    assert.equal(report.ok, true, run.log);
    assert.deepEqual(report.forced ?? [], []);
    assert.deepEqual(
      report.kept?.filter((worker) => worker.group === 'g\nw').map((worker) => [worker.pid, worker.keptBecause]),
      before.map((pid) => [pid, 'reloadable = false']),
    );
    assert.deepEqual(await gatewayPids(host), before, 'the gateway workers still run, same pids');
    assert.equal((await host.get('/version')).trim(), 'v2');
  });
}
