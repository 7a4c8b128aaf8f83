import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Rig, TARGET, type TestHost } from '../rig/rig.js';
import { attemptDeploy } from '../rig/scenario.js';

let rig: Rig;
before(async () => {
  rig = await Rig.create();
});
after(async () => {
  await rig?.destroy();
});

/** The running app's own files: its log, pid file and the status file Workerman's status command writes and removes. */
const RUNTIME_FILE = /^app\/workerman\.[^/]*\.(pid|status)$|^app\/workerman\.log$/;

/**
 * Every entry under the host's /srv but the app's runtime files: a file's
 * content hash, mode and mtime; a directory's mode (its entries are listed
 * too, so one added or removed shows).
 */
async function treeState(host: TestHost): Promise<Map<string, string>> {
  const state = new Map<string, string>();
  for (const entry of await readdir(host.srv, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    const name = relative(host.srv, path);
    if (RUNTIME_FILE.test(name)) continue;
    const info = await lstat(path);
    const content =
      entry.isFile() ?
        `${createHash('sha256')
          .update(await readFile(path))
          .digest('hex')} ${info.mtimeMs}`
      : entry.isSymbolicLink() ? 'link'
      : 'dir';
    state.set(name, `${content} ${info.mode.toString(8)}`);
  }
  return state;
}

test('dry-run: every host preflighted and planned (the changed and deleted files, the batch, reload and why) and nothing on the host changes', async (t) => {
  const host = await rig.addHost('dry-run');
  t.after(() => host.stop());
  await host.startMaster();
  // A file only the host has: the sync's --delete would remove it.
  await host.shell(`echo '<?php // left over' > ${TARGET}/src/leftover.php`);
  const source = await rig.makeSource('v2');
  const masterBefore = await host.masterPid();
  const workersBefore = (await host.workers()).map((worker) => worker.pid).sort();
  const filesBefore = await treeState(host);
  const logBefore = await readFile(join(host.srv, 'app/workerman.log'), 'utf8');

  const { run, reports } = await attemptDeploy(rig, host, source, { 'dry-run': 'true' });
  assert.equal(run.code, 0, run.log);

  // Nothing changed: not a file, a mode or an mtime under /srv (no lock, no snapshot, no state directory), and no process.
  assert.deepEqual(await treeState(host), filesBefore);
  // Preflight's `php start.php status` (status: workerman) is all the app saw: Workerman logs each one.
  const logAdded = (await readFile(join(host.srv, 'app/workerman.log'), 'utf8')).slice(logBefore.length);
  assert.match(logAdded, /^(.*Workerman\[start\.php\] status\n)*$/, logAdded);
  assert.equal(await host.masterPid(), masterBefore, 'the master is the same');
  assert.deepEqual((await host.workers()).map((worker) => worker.pid).sort(), workersBefore, 'every worker is the same');
  assert.match(await host.get('/'), /hello from v1/, 'the app still serves the old code');

  assert.equal(reports.length, 1);
  const [report] = reports;
  assert.equal(report!.status, 'planned', run.log);
  assert.deepEqual([report!.ok, report!.filesChanged, report!.signalled], [true, false, false]);
  const plan = report!.dryRun!;
  assert.ok(plan.files!.changedNames.includes('src/version.php'), `the changed file is listed: ${JSON.stringify(plan.files)}`);
  assert.deepEqual(plan.files!.deletedNames, ['src/leftover.php']);
  assert.equal(plan.files!.deleted, 1);
  assert.equal(plan.files!.changed, plan.files!.changedNames.length);
  assert.deepEqual(plan.batch, { index: 1, of: 1, canary: false });
  assert.equal(plan.action, 'reload');
  assert.match(plan.actionBecause, /no master-level file would change/);
  assert.deepEqual(plan.replacedGroups, ['web', 'task']);
  assert.deepEqual(plan.keptGroups, [{ group: 'gateway', keptBecause: 'reloadable = false' }]);
  assert.match(plan.unknown.join('\n'), /worker definitions/);
  assert.match(run.log, /dry run: batch 1 of 1; would write \d+ file\(s\) \([^)]*src\/version\.php[^)]*\) and delete 1 \(src\/leftover\.php\); then reload/);
  assert.match(run.log, /all 1 host\(s\) planned, nothing changed/);
});
