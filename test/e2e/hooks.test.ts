import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rig, TARGET, type TestHost } from '../rig/rig.js';
import { deployFleet, type FleetRun } from '../rig/scenario.js';

/**
 * Issue 25, commands around the reload, on real Workerman 5 and three rig
 * hosts: before-reload runs once, on the first host, before any host
 * reloads; when it fails or runs past hook-timeout, every host keeps serving
 * the old code (the first one's files put back), the rest untouched; after-
 * reload runs on each host after its verdict, and its failure fails that host
 * without a rollback.
 */

let rig: Rig;
before(async () => {
  rig = await Rig.create();
});
after(async () => {
  await rig?.destroy();
});

const APP = { app: 'plain', workerman: 5 } as const;

async function threeHosts(name: string): Promise<TestHost[]> {
  const hosts: TestHost[] = [];
  for (let n = 1; n <= 3; n++) hosts.push(await rig.addHost(`${name}-${n}`, APP));
  for (const host of hosts) await host.startMaster();
  return hosts;
}

function explain({ run, reports }: FleetRun): string {
  return `reports: ${JSON.stringify(reports)}\nlog (end):\n${run.log.split('\n').slice(-40).join('\n')}`;
}

async function serves(hosts: readonly TestHost[]): Promise<string[]> {
  return Promise.all(hosts.map((host) => host.get('/')));
}

/** What a failed before-reload must leave: every host on v1 with its master, the first rolled back, the rest never touched. */
async function assertNothingServesNew(hosts: readonly TestHost[], masters: readonly (number | null)[], result: FleetRun, why: RegExp): Promise<void> {
  const { run, reports } = result;
  assert.notEqual(run.code, 0, explain(result));
  assert.deepEqual(await serves(hosts), ['hello from v1\n', 'hello from v1\n', 'hello from v1\n']);
  assert.deepEqual(await Promise.all(hosts.map((host) => host.masterPid())), masters, 'no master was restarted or replaced');
  assert.equal(reports[0]!.step, 'before-reload', explain(result));
  assert.match(reports[0]!.error ?? '', why, explain(result));
  assert.equal(reports[0]!.status, 'rolled-back', explain(result));
  assert.equal(reports[0]!.rollback?.ok, true, explain(result));
  assert.equal(await readFile(join(hosts[0]!.srv, 'app/src/version.php'), 'utf8'), "<?php return 'v1';\n", 'the first host has its old files back');
  for (const report of reports.slice(1)) {
    assert.equal(report.status, 'skipped', explain(result));
    assert.match(report.skippedBecause ?? '', /before-reload failed on .*no other host runs it/);
    assert.equal(report.filesChanged, false);
  }
  for (const host of hosts.slice(1)) assert.equal(await readFile(join(host.srv, 'app/src/version.php'), 'utf8'), "<?php return 'v1';\n");
}

test('before-reload runs once, on the first host, after its sync and before any reload, with the revision, host and target; after-reload on every host', async () => {
  const hosts = await threeHosts('hooks-ok');
  const source = await rig.makeSource('v2', APP);
  const before =
    'echo "migrating $GRACEFUL_RELOAD_HOST"; { echo "rev=$GRACEFUL_RELOAD_REVISION"; echo "host=$GRACEFUL_RELOAD_HOST"; echo "target=$GRACEFUL_RELOAD_TARGET"; echo "pwd=$(pwd)"; echo "code=$(cat src/version.php)"; echo "serving=$(curl -s http://127.0.0.1:$APP_HTTP_PORT/)"; } > /srv/before-reload.txt';
  const afterCommand = 'curl -s http://127.0.0.1:$APP_HTTP_PORT/ > /srv/after-reload.txt';
  const result = await deployFleet(rig, hosts, source, { 'max-parallel': '3', revision: 'rev-42', 'before-reload': before, 'after-reload': afterCommand });
  const { run, reports } = result;
  assert.equal(run.code, 0, explain(result));
  const ran = await Promise.all(hosts.map((host) => readFile(join(host.srv, 'before-reload.txt'), 'utf8').catch(() => null)));
  assert.ok(ran[0] !== null, 'the first host ran before-reload');
  assert.deepEqual(ran.slice(1), [null, null], 'no other host ran it');
  const seen = Object.fromEntries(
    ran[0]!
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  assert.equal(seen['rev'], 'rev-42');
  assert.equal(seen['host'], `root@127.0.0.1:${hosts[0]!.port}`);
  assert.equal(seen['target'], TARGET);
  assert.equal(seen['pwd'], TARGET);
  assert.equal(seen['code'], "<?php return 'v2';", 'it ran after the sync');
  assert.equal(seen['serving'], 'hello from v1', 'and before the reload');
  for (const host of hosts)
    assert.equal(await readFile(join(host.srv, 'after-reload.txt'), 'utf8'), 'hello from v2\n', `${host.name}: after-reload saw the new code serving`);
  assert.deepEqual(
    reports.map((report) => report.commands?.map((command) => `${command.name} ${command.exit}`)),
    [['before-reload exit 0', 'after-reload exit 0'], ['after-reload exit 0'], ['after-reload exit 0']],
  );
  assert.match(run.log, /before-reload: migrating root@127\.0\.0\.1:\d+/, 'its output is in the log under the host');
  // mode: rollback puts the old code back: commands meant for new code do not run.
  const back = await deployFleet(rig, hosts, source, {
    'max-parallel': '3',
    mode: 'rollback',
    'before-reload': 'touch /srv/rollback-before',
    'after-reload': 'touch /srv/rollback-after',
  });
  assert.equal(back.run.code, 0, explain(back));
  assert.deepEqual(await serves(hosts), ['hello from v1\n', 'hello from v1\n', 'hello from v1\n']);
  for (const host of hosts) {
    for (const file of ['rollback-before', 'rollback-after'])
      assert.equal(
        await readFile(join(host.srv, file)).then(
          () => true,
          () => false,
        ),
        false,
        `${host.name}: ${file} ran`,
      );
  }
  // The first host went alone: the others started after its verdict.
  const first = reports[0]!.phases!.find((phase) => phase.name === 'verify')!;
  for (const report of reports.slice(1)) assert.ok(report.phases!.find((phase) => phase.name === 'sync')!.start >= first.end, JSON.stringify(report.phases));
});

test('a before-reload that exits 1: every host still serves the old code, the first rolled back and proven, the others untouched, and the summary quotes it', async () => {
  const hosts = await threeHosts('hooks-fail');
  const masters = await Promise.all(hosts.map((host) => host.masterPid()));
  const source = await rig.makeSource('v2', APP);
  const result = await deployFleet(rig, hosts, source, { 'max-parallel': '3', 'before-reload': 'echo "SQLSTATE[42S01]: table already exists"; exit 1' });
  await assertNothingServesNew(hosts, masters, result, /before-reload exit 1: SQLSTATE\[42S01\]: table already exists; the app was not signalled/);
  assert.match(result.run.summary, /### What the commands said[\s\S]*before-reload exit 1, its last lines[\s\S]*SQLSTATE\[42S01\]: table already exists/);
});

test('a before-reload that sleeps past hook-timeout is stopped, with the same result, and leaves nothing running on the host', async () => {
  const hosts = await threeHosts('hooks-slow');
  const masters = await Promise.all(hosts.map((host) => host.masterPid()));
  const source = await rig.makeSource('v2', APP);
  const result = await deployFleet(rig, hosts, source, { 'max-parallel': '3', 'hook-timeout': '2s', 'before-reload': 'echo started; sleep 617; echo never' });
  await assertNothingServesNew(hosts, masters, result, /before-reload timed out after 2\.0 s: started; the app was not signalled/);
  // -x: the whole command line, so pgrep's own shell (which names the pattern) does not count.
  const sleeping = await hosts[0]!.shell("pgrep -x -f 'sleep 617' || true");
  assert.equal(sleeping.trim(), '', 'the command and its sleep were ended');
});

test('an after-reload that fails fails its host, which keeps its new code (no rollback)', async () => {
  const hosts = await threeHosts('hooks-after');
  const source = await rig.makeSource('v2', APP);
  const result = await deployFleet(rig, hosts.slice(0, 1), source, { 'after-reload': 'echo "warm-up failed"; exit 3' });
  const [report] = result.reports;
  assert.notEqual(result.run.code, 0, explain(result));
  assert.equal(report!.ok, false);
  assert.equal(report!.status, 'failed');
  assert.equal(report!.step, 'after-reload');
  assert.equal(report!.rollback, undefined, 'not rolled back');
  assert.match(report!.error ?? '', /after-reload exit 3: warm-up failed; the new code serves and was not rolled back/);
  assert.equal(await hosts[0]!.get('/'), 'hello from v2\n');
});
