import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rig, TARGET, type TestHost } from '../rig/rig.js';
import { deploy, type Deploy } from '../rig/scenario.js';

/**
 * Issue 9, master-level changes, on real Workerman 5 and 4: a deploy that
 * changes what the master itself loaded (the start file, a file it requires
 * at top level, Workerman under vendor/, the worker definitions) is
 * restarted, refused or reloaded with a warning as on-master-change says; a
 * change to code loaded in a callback is still a plain reload; a switched
 * symlink release is refused; a master left stale by an earlier reload-only
 * deploy is noticed.
 *
 * Default inputs: the scenario's `ignore-workers: gateway` is cleared, as a
 * user who sets nothing would have it; settle and poll stay fast. Every test
 * has a host of its own.
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

const WEB_TITLE = /^WorkerMan: worker process\s+web\s/;

/** The master's web workers, by title. */
async function webWorkers(host: TestHost): Promise<number[]> {
  return (await host.workers())
    .filter((worker) => WEB_TITLE.test(worker.title))
    .map((worker) => worker.pid)
    .sort((a, b) => a - b);
}

/** What the report and the end of the log say, for assertion messages. */
function explain({ run, report }: Deploy): string {
  return `report: ${JSON.stringify(report)}\nlog (end):\n${run.log.split('\n').slice(-40).join('\n')}`;
}

/** Replaces exactly one occurrence of `from` in a file, so an edit that missed fails loudly. */
async function edit(path: string, from: string, to: string): Promise<void> {
  const text = await readFile(path, 'utf8');
  const at = text.indexOf(from);
  if (at < 0 || text.indexOf(from, at + 1) >= 0) throw new Error(`${path}: expected exactly one "${from}"`);
  await writeFile(path, text.slice(0, at) + to + text.slice(at + from.length));
}

/** The host's record of what its master loaded, beside the target. */
async function loadedRecord(host: TestHost): Promise<Record<string, unknown>> {
  return JSON.parse(await readFile(join(host.srv, '.app.graceful-reload', 'master.json'), 'utf8')) as Record<string, unknown>;
}

const COUNT_4 = '$web->count = 4;';
const COUNT_3 = '$web->count = 3;';
const AUTOLOAD = "require_once __DIR__ . '/vendor/autoload.php';\n";
const REQUIRE_CONFIG = `${AUTOLOAD}$appConfig = require __DIR__ . '/config.php';\n`;
const ON_MESSAGE = '$web->onMessage = function (TcpConnection $connection, Request $request) {\n';
/** web's onMessage answers /greeting from the value the master took from config.php. */
const CAPTURING_ON_MESSAGE =
  '$web->onMessage = function (TcpConnection $connection, Request $request) use ($appConfig) {\n' +
  "    if ($request->path() === '/greeting') {\n        $connection->send($appConfig['greeting'] . \"\\n\");\n        return;\n    }\n";

const workermanFile = (major: 4 | 5) => (major === 5 ? 'vendor/workerman/workerman/src/Worker.php' : 'vendor/workerman/workerman/Worker.php');

async function alive(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  return stat !== null && !/\) Z /.test(stat);
}

/** Masters in the host's mount namespace whose title names `startFile`, with their worker children. */
async function mastersOf(host: TestHost, startFile: string): Promise<{ pid: number; workers: number }[]> {
  const table: { pid: number; ppid: number; title: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (stat === '' || fields[0] === 'Z') continue;
    const title = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').trim();
    const namespace = await readlink(`/proc/${entry}/ns/mnt`).catch(() => '');
    if (namespace !== host.namespace) continue;
    table.push({ pid: Number(entry), ppid: Number(fields[1]), title });
  }
  return table
    .filter((p) => p.title === `WorkerMan: master process  start_file=${startFile}`)
    .map((m) => ({ pid: m.pid, workers: table.filter((p) => p.ppid === m.pid && /^WorkerMan: worker process\s/.test(p.title)).length }));
}

/**
 * The symlink release trap: /srv/app is moved to /srv/releases/1 and becomes
 * a symlink to it, the master is started from /srv/app (PHP resolves the
 * link: its title names /srv/releases/1/start.php), then the release is
 * copied to /srv/releases/2 and the link switched. `copyRuntimeFiles` keeps
 * the old release's pid, log and status files in the copy (cp -a), as a copy
 * of a live release directory would. Returns the running master.
 */
async function switchedRelease(host: TestHost, options: { copyRuntimeFiles: boolean }): Promise<{ pid: number; workers: number }> {
  await host.shell(`mkdir /srv/releases && mv ${TARGET} /srv/releases/1 && ln -s releases/1 ${TARGET}`);
  const env = { APP_HTTP_PORT: String(host.app.httpPort), APP_WS_PORT: String(host.app.wsPort) };
  await host.shell(`cd ${TARGET} && php start.php start -d >/srv/.master-start.out 2>&1 </dev/null`, env);
  const deadline = Date.now() + 20_000;
  let master: { pid: number; workers: number };
  for (;;) {
    const found = await mastersOf(host, '/srv/releases/1/start.php');
    const answers = await host.get('/').catch(() => null);
    // 4 web, 2 gateway, 1 task.
    if (found.length === 1 && found[0]!.workers === 7 && answers === 'hello from v1\n') {
      master = found[0]!;
      break;
    }
    if (Date.now() > deadline) {
      const said = await readFile(join(host.srv, '.master-start.out'), 'utf8').catch(() => '');
      throw new Error(`the master started from ${TARGET} -> releases/1 did not come up: ${JSON.stringify(found)}; start -d said: ${said}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const clean = options.copyRuntimeFiles ? '' : ` && find /srv/releases/2 \\( -name '*.pid' -o -name '*.log' -o -name '*.status' \\) -delete`;
  await host.shell(`cp -a /srv/releases/1 /srv/releases/2${clean} && ln -sfn releases/2 ${TARGET}`);
  return master;
}

/** Deploys v2 to /srv/app after a release switch: refused in preflight with the explanation, nothing changed. */
async function refusedAsSymlinkTrap(host: TestHost, master: { pid: number; workers: number }, inputs: Record<string, string>): Promise<void> {
  const releases = join(host.srv, 'releases');
  const startBefore = await readFile(join(releases, '2', 'start.php'));
  const source = await rig.makeSource('v2', { app: 'plain', workerman: host.workerman });

  const result = await deploy(rig, host, source, inputs);
  const { report, run } = result;
  assert.notEqual(run.code, 0, explain(result));
  assert.equal(report.ok, false, explain(result));
  assert.equal(report.step, 'preflight', explain(result));
  assert.equal(report.filesChanged, false, explain(result));
  assert.equal(report.signalled, false, explain(result));
  const error = report.error ?? '';
  assert.ok(error.includes('/srv/releases/1/start.php'), `the error names the release the master runs: ${error}`);
  assert.match(error, /symlink/, explain(result));
  assert.match(error, /reload would keep loading the old release/, explain(result));

  for (const release of ['1', '2']) {
    assert.equal(await readFile(join(releases, release, 'src/version.php'), 'utf8'), "<?php return 'v1';\n", `releases/${release} got no file`);
  }
  assert.deepEqual(await readFile(join(releases, '2', 'start.php')), startBefore);
  assert.deepEqual(await mastersOf(host, '/srv/releases/1/start.php'), [master], 'the master and its workers were left alone');
  assert.equal(await host.get('/'), 'hello from v1\n');
}

for (const major of MAJORS) {
  const v = `Workerman ${major}`;
  const app = { app: 'plain', workerman: major } as const;

  test(`${v}: a changed start file (web count 4 -> 3) is restarted under the default policy: new master, 3 web workers, v2 serving`, async () => {
    const host = await rig.addHost(`restart-${major}`, app);
    await host.startMaster();
    const oldMaster = await host.masterPid();
    assert.ok(oldMaster !== null);
    assert.equal((await webWorkers(host)).length, 4, 'the v1 master runs 4 web workers');
    const source = await rig.makeSource('v2', app);
    await edit(join(source, 'start.php'), COUNT_4, COUNT_3);

    const result = await deploy(rig, host, source, DEFAULTS);
    const { report, run } = result;
    assert.equal(report.ok, true, explain(result));
    assert.equal(run.code, 0, explain(result));
    assert.equal(report.action, 'restart', explain(result));
    assert.ok(report.restartBecause, explain(result));
    assert.ok(
      report.restartBecause.definitions.some((change) => /\bweb\b/.test(change) && /4/.test(change) && /3/.test(change)),
      explain(result),
    );
    assert.ok(report.restartBecause.files.includes('start.php'), explain(result));
    assert.deepEqual(report.restartBecause.stale, [], explain(result));
    assert.equal(report.previousMasterPid, oldMaster, explain(result));
    assert.equal(report.restartCost?.killedAfterStopTimeout, 0, explain(result));
    assert.equal(report.filesChanged, true);
    // The log says a restart drops connections, and why it was needed.
    assert.match(run.log, /restarting the app \(.*worker definitions changed.*web/, explain(result));
    assert.match(run.log, /Open connections are closed/);

    const newMaster = await host.masterPid();
    assert.ok(newMaster !== null, 'a master runs after the restart');
    assert.notEqual(newMaster, oldMaster, 'the master was replaced');
    assert.equal(report.masterPid, newMaster, explain(result));
    assert.equal(await alive(oldMaster), false, `the old master ${oldMaster} is gone`);
    const web = await webWorkers(host);
    assert.equal(web.length, 3, `3 web workers run the new definitions: ${JSON.stringify(await host.workers())}`);
    assert.deepEqual(
      (report.workers ?? [])
        .filter((worker) => worker.group === 'web')
        .map((worker) => worker.pid)
        .sort((a, b) => a - b),
      web,
      explain(result),
    );
    // Same port as before: the new master got the old one's environment (APP_HTTP_PORT).
    assert.equal(await host.get('/'), 'hello from v2\n');
  });

  test(`${v}: on-master-change: fail refuses the start file change before any file changes`, async () => {
    const host = await rig.addHost(`fail-${major}`, app);
    await host.startMaster();
    const oldMaster = await host.masterPid();
    const liveStart = join(host.srv, 'app', 'start.php');
    const startBefore = await readFile(liveStart);
    const source = await rig.makeSource('v2', app);
    await edit(join(source, 'start.php'), COUNT_4, COUNT_3);

    const result = await deploy(rig, host, source, { ...DEFAULTS, 'on-master-change': 'fail' });
    const { report, run } = result;
    assert.notEqual(run.code, 0, explain(result));
    assert.equal(report.ok, false, explain(result));
    assert.equal(report.step, 'preflight', explain(result));
    assert.equal(report.filesChanged, false, explain(result));
    assert.equal(report.signalled, false, explain(result));
    assert.match(report.error ?? '', /start\.php/, explain(result));
    assert.match(report.error ?? '', /on-master-change: fail/, explain(result));
    assert.match(report.error ?? '', /Nothing was changed/, explain(result));

    assert.deepEqual(await readFile(liveStart), startBefore, "the host's start.php is unchanged");
    assert.equal(await readFile(join(host.srv, 'app', 'src/version.php'), 'utf8'), "<?php return 'v1';\n", 'no other file was synced either');
    assert.equal(await host.masterPid(), oldMaster, 'the master was left alone');
    assert.equal((await webWorkers(host)).length, 4);
    assert.equal(await host.get('/'), 'hello from v1\n');
  });

  test(`${v}: a change to a file the start script requires at top level is restarted`, async () => {
    const host = await rig.addHost(`config-${major}`, app);
    // v1 already loads config.php at top level: it is part of the running master.
    const live = join(host.srv, 'app');
    await writeFile(join(live, 'config.php'), "<?php return ['greeting' => 'one'];\n");
    await edit(join(live, 'start.php'), AUTOLOAD, REQUIRE_CONFIG);
    await host.startMaster();
    const oldMaster = await host.masterPid();
    const source = await rig.makeSource('v2', app);
    await edit(join(source, 'start.php'), AUTOLOAD, REQUIRE_CONFIG);
    await writeFile(join(source, 'config.php'), "<?php return ['greeting' => 'two'];\n");

    const result = await deploy(rig, host, source, DEFAULTS);
    const { report } = result;
    assert.equal(report.ok, true, explain(result));
    assert.equal(report.action, 'restart', explain(result));
    // version.php changed too, but only in a callback: it is no reason to restart.
    assert.deepEqual(
      { ...report.restartBecause, evidence: undefined },
      { files: ['config.php'], definitions: [], stale: [], evidence: undefined },
      explain(result),
    );
    assert.match(
      report.restartBecause?.evidence?.['config.php'] ?? '',
      /^changed by this deploy; the master loaded it at top level and no worker reads it again at start/,
      explain(result),
    );
    assert.equal(report.previousMasterPid, oldMaster, explain(result));
    const newMaster = await host.masterPid();
    assert.ok(newMaster !== null && newMaster !== oldMaster, `a new master runs (old ${oldMaster}, now ${newMaster})`);
    assert.equal(report.masterPid, newMaster, explain(result));
    assert.equal((await webWorkers(host)).length, 4);
    assert.equal(await readFile(join(live, 'config.php'), 'utf8'), "<?php return ['greeting' => 'two'];\n");
    assert.equal(await host.get('/'), 'hello from v2\n');
  });

  test(`${v}: a change to src/handler.php only (loaded in onWorkerStart) is a plain reload`, async () => {
    const host = await rig.addHost(`handler-${major}`, app);
    await host.startMaster();
    const oldMaster = await host.masterPid();
    const oldWeb = await webWorkers(host);
    const source = await rig.makeSource('v2', app);
    await edit(join(source, 'src/handler.php'), '"hello from $version\\n"', '"hello again from $version\\n"');

    const result = await deploy(rig, host, source, DEFAULTS);
    const { report, run } = result;
    assert.equal(report.ok, true, explain(result));
    assert.equal(report.action, 'reload', explain(result));
    assert.equal(report.restartBecause, undefined, explain(result));
    assert.equal(report.previousMasterPid, undefined, explain(result));
    assert.doesNotMatch(run.log, /restarting the app|reloading although/, explain(result));
    assert.equal(report.masterPid, oldMaster, explain(result));
    assert.equal(await host.masterPid(), oldMaster, 'the master kept running');
    const web = await webWorkers(host);
    assert.equal(web.length, 4);
    assert.deepEqual(
      web.filter((pid) => oldWeb.includes(pid)),
      [],
      'every web worker was replaced',
    );
    assert.equal(await host.get('/'), 'hello again from v2\n');
  });

  test(`${v}: a changed Workerman file under vendor/ is a master-level change (on-master-change: fail names it)`, async () => {
    const host = await rig.addHost(`vendor-${major}`, app);
    await host.startMaster();
    const oldMaster = await host.masterPid();
    const file = workermanFile(major);
    const liveFile = join(host.srv, 'app', file);
    const liveBefore = await readFile(liveFile);
    const source = await rig.makeSource('v2', app);
    const sourceFile = join(source, file);
    await writeFile(sourceFile, `${await readFile(sourceFile, 'utf8')}\n// patched by the master-change test\n`);

    const result = await deploy(rig, host, source, { ...DEFAULTS, 'on-master-change': 'fail' });
    const { report, run } = result;
    assert.notEqual(run.code, 0, explain(result));
    assert.equal(report.ok, false, explain(result));
    assert.equal(report.step, 'preflight', explain(result));
    assert.equal(report.filesChanged, false, explain(result));
    assert.ok((report.error ?? '').includes(file), `the error names ${file}: ${explain(result)}`);
    // Only the Workerman file is master-level; version.php (changed too) is not named.
    assert.doesNotMatch(report.error ?? '', /version\.php/, explain(result));
    assert.deepEqual(await readFile(liveFile), liveBefore, `the host's ${file} is unchanged`);
    assert.equal(await host.masterPid(), oldMaster);
    assert.equal(await host.get('/'), 'hello from v1\n');
  });

  test(`${v}: a switched symlink release is refused in preflight: a reload would keep loading the old release`, async () => {
    const host = await rig.addHost(`symlink-${major}`, app);
    const master = await switchedRelease(host, { copyRuntimeFiles: false });
    await refusedAsSymlinkTrap(host, master, DEFAULTS);
  });

  // Workerman 4 names its pid file after the start file's path, so only 5.x
  // finds the running master's pid file in a plain copy of the release.
  if (major === 5) {
    test(`${v}: a switched symlink release copied with the old release's pid file is refused too`, async () => {
      const host = await rig.addHost(`symlink-pid-${major}`, app);
      const master = await switchedRelease(host, { copyRuntimeFiles: true });
      // status: process, so no status-table check stands between the probe and the reload.
      await refusedAsSymlinkTrap(host, master, { ...DEFAULTS, status: 'process' });
    });
  }

  test(`${v}: files touched on the host with their content unchanged, after a verified deploy: the next handler change reloads`, async () => {
    const host = await rig.addHost(`touched-${major}`, app);
    await host.startMaster();
    const master = await host.masterPid();
    const v2 = await rig.makeSource('v2', app);
    const first = await deploy(rig, host, v2, DEFAULTS);
    assert.equal(first.report.action, 'reload', explain(first));
    assert.equal(first.report.ok, true, explain(first));
    const record = await loadedRecord(host);
    assert.equal(record['pid'], master, explain(first));
    assert.ok(
      Object.keys(record['files'] as object).some((file) => file.endsWith('/start.php')),
      JSON.stringify(record),
    );

    // What rsync -a by hand, a checkout or a configuration tool does: every file newer than the master, nothing changed.
    await host.shell(`find ${TARGET} -type f -exec touch -d '+1 hour' {} +`);
    const v3 = await rig.makeSource('v3', app);
    await edit(join(v3, 'src/handler.php'), '"hello from $version\\n"', '"hello again from $version\\n"');
    const second = await deploy(rig, host, v3, { ...DEFAULTS, 'on-master-change': 'fail' });
    assert.equal(second.report.ok, true, explain(second));
    assert.equal(second.report.action, 'reload', explain(second));
    assert.equal(second.report.restartBecause, undefined, explain(second));
    assert.doesNotMatch(second.run.log, /did not load the current|a guess/, explain(second));
    assert.equal(await host.masterPid(), master, 'the same master');
    assert.equal(second.report.masterPid, master, explain(second));
    assert.equal(await host.get('/'), 'hello again from v3\n');
  });

  test(`${v}: a value start.php captures from config.php in a callback: a changed config.php restarts, and the new value is served`, async () => {
    const host = await rig.addHost(`captured-${major}`, app);
    const capture = async (dir: string, greeting: string) => {
      await writeFile(join(dir, 'config.php'), `<?php return ['greeting' => '${greeting}'];\n`);
      await edit(join(dir, 'start.php'), AUTOLOAD, REQUIRE_CONFIG);
      await edit(join(dir, 'start.php'), ON_MESSAGE, CAPTURING_ON_MESSAGE);
    };
    await capture(join(host.srv, 'app'), 'one');
    await host.startMaster();
    const oldMaster = await host.masterPid();
    assert.equal(await host.get('/greeting'), 'one\n');
    const source = await rig.makeSource('v1', app);
    await capture(source, 'two');

    const result = await deploy(rig, host, source, DEFAULTS);
    const { report } = result;
    assert.equal(report.ok, true, explain(result));
    assert.equal(report.action, 'restart', explain(result));
    assert.deepEqual(report.restartBecause?.files, ['config.php'], explain(result));
    assert.match(
      report.restartBecause?.evidence?.['config.php'] ?? '',
      /no worker reads it again at start: a value taken from it stays in the master/,
      explain(result),
    );
    assert.match(
      result.run.log,
      /restarting the app \(master-level file\(s\) changed: config\.php \(changed by this deploy; the master loaded it at top level and no worker reads it again/,
      explain(result),
    );
    const newMaster = await host.masterPid();
    assert.ok(newMaster !== null && newMaster !== oldMaster, `a new master runs (old ${oldMaster}, now ${newMaster})`);
    assert.equal(await host.get('/greeting'), 'two\n');
    assert.equal((await loadedRecord(host))['pid'], newMaster, 'the restart recorded what the new master loaded');
  });

  test(`${v}: framework layout: a data-only config/ file every worker reads again at start (support/bootstrap.php) changes: a reload, serving the new value`, async () => {
    const framework = { app: 'framework', workerman: major } as const;
    const host = await rig.addHost(`reread-${major}`, framework);
    await host.startMaster();
    const master = await host.masterPid();
    assert.equal(await host.get('/config'), 'hello UTC\n');
    const source = await rig.makeSource('v2', framework);
    await edit(join(source, 'config/app.php'), "'timezone' => 'UTC'", "'timezone' => 'Asia/Shanghai'");
    await edit(join(source, 'config/app.php'), "'greeting' => 'hello'", "'greeting' => 'bonjour'");

    const result = await deploy(rig, host, source, { ...DEFAULTS, 'on-master-change': 'fail' });
    const { report } = result;
    assert.equal(report.ok, true, explain(result));
    assert.equal(report.action, 'reload', explain(result));
    assert.equal(report.restartBecause, undefined, explain(result));
    assert.equal(await host.masterPid(), master, 'the same master');
    assert.equal(await host.get('/config'), 'bonjour Asia/Shanghai\n');
    assert.equal(await host.get('/'), 'hello from v2\n');
  });

  test(`${v}: a master left stale by a reload-only deploy is reported: fail names start.php, restart fixes it`, async () => {
    const host = await rig.addHost(`stale-${major}`, app);
    await host.startMaster();
    const oldMaster = await host.masterPid();
    const v2 = await rig.makeSource('v2', app);
    await edit(join(v2, 'start.php'), COUNT_4, COUNT_3);

    // 1. Reloaded although the start file changed: a warning, and the master keeps the old definitions.
    const first = await deploy(rig, host, v2, { ...DEFAULTS, 'on-master-change': 'reload' });
    assert.equal(first.report.ok, true, explain(first));
    assert.equal(first.report.action, 'reload', explain(first));
    assert.match(first.run.log, /::warning::.*reloading although .*web.*count 4 -> .*count 3.*on-master-change: reload/, explain(first));
    assert.equal(await host.masterPid(), oldMaster);
    assert.equal((await webWorkers(host)).length, 4, 'a reload keeps the old count');
    assert.equal(await host.get('/'), 'hello from v2\n');
    assert.equal((await loadedRecord(host))['pid'], oldMaster, 'the proven reload recorded what the master loaded');

    // 2. The next deploy changes only callback code; the running master did not load the current start.php.
    const v3 = await rig.makeSource('v3', app);
    await edit(join(v3, 'start.php'), COUNT_4, COUNT_3);
    const refused = await deploy(rig, host, v3, { ...DEFAULTS, 'on-master-change': 'fail' });
    assert.equal(refused.report.ok, false, explain(refused));
    assert.equal(refused.report.step, 'preflight', explain(refused));
    assert.equal(refused.report.filesChanged, false, explain(refused));
    // Decided by content: the record of what the master loaded (written after step 1's proven reload), not by file times.
    assert.match(
      refused.report.error ?? '',
      /did not load the current start\.php \(its content differs from what the running master loaded; /,
      explain(refused),
    );
    assert.match(refused.run.log, /::warning::.*the running master did not load the current start\.php \(its content differs/, explain(refused));
    assert.equal(await readFile(join(host.srv, 'app', 'src/version.php'), 'utf8'), "<?php return 'v2';\n", 'fail synced nothing');
    assert.equal(await host.masterPid(), oldMaster);

    // 3. The default policy restarts the stale master, for the stale file alone.
    const restarted = await deploy(rig, host, v3, DEFAULTS);
    assert.equal(restarted.report.ok, true, explain(restarted));
    assert.equal(restarted.report.action, 'restart', explain(restarted));
    assert.deepEqual(
      { ...restarted.report.restartBecause, evidence: undefined },
      { files: [], definitions: [], stale: ['start.php'], evidence: undefined },
      explain(restarted),
    );
    assert.match(
      restarted.report.restartBecause?.evidence?.['start.php'] ?? '',
      /^its content differs from what the running master loaded/,
      explain(restarted),
    );
    assert.equal(restarted.report.previousMasterPid, oldMaster, explain(restarted));
    const newMaster = await host.masterPid();
    assert.ok(newMaster !== null && newMaster !== oldMaster, `a new master runs (old ${oldMaster}, now ${newMaster})`);
    assert.equal((await webWorkers(host)).length, 3, 'the new master runs the new definitions');
    assert.equal(await host.get('/'), 'hello from v3\n');
  });
}
