import { test } from 'node:test';
import assert from 'node:assert/strict';
import { definitionChanges, describeMasterChange, masterLevelPaths, needsRestart, NO_MASTER_CHANGE, staleFiles } from '../../src/engine/master-change.js';
import { observeRestart, startRestartWatch } from '../../src/engine/restart-verdict.js';
import type { WorkerDefinition } from '../../src/engine/worker-definitions.js';
import type { HostSnapshot, WorkerProcess } from '../../src/engine/worker-snapshot.js';

const group = (name: string, count: number, extra: Partial<WorkerDefinition> = {}): WorkerDefinition => ({
  class: 'Workerman\\Worker',
  name,
  count,
  reloadable: true,
  listen: 'none',
  user: '',
  ...extra,
});

test('master-level paths: what the start script loaded at top level, inside the target, plus master-files globs', () => {
  const isMasterLevel = masterLevelPaths(
    { startFile: '/srv/app/start.php', appDir: '/srv/app', includedFiles: ['/srv/app/start.php', '/srv/app/config/boot.php', '/srv/app/vendor/workerman/workerman/src/Worker.php', '/usr/share/php/x.php'] },
    '/srv/app',
    ['.env', 'config/*.ini'],
  );
  for (const path of ['start.php', 'config/boot.php', 'vendor/workerman/workerman/src/Worker.php', '.env', 'config/app.ini']) assert.equal(isMasterLevel(path), true, path);
  for (const path of ['src/handler.php', 'config/other.php', 'usr/share/php/x.php', 'sub/.env.example']) assert.equal(isMasterLevel(path), false, path);
});

test('a stale master: master-level files modified after it started, to the second', () => {
  const fileTimes = { '/srv/app/start.php': 1000, '/srv/app/config/boot.php': 1010, '/srv/app/vendor/autoload.php': 990 };
  assert.deepEqual(staleFiles({ fileTimes, appDir: '/srv/app' }, 1000.7, '/srv/app'), ['config/boot.php']);
  assert.deepEqual(staleFiles({ fileTimes, appDir: '/srv/app' }, 1011, '/srv/app'), []);
  assert.deepEqual(staleFiles({ fileTimes, appDir: '/srv/app' }, undefined, '/srv/app'), [], 'no start time, no verdict');
});

test('definition changes: count, listen address, reloadable, new and removed groups; the same definitions are no change', () => {
  const before = { groups: [group('web', 4, { listen: 'http://0.0.0.0:80' }), group('task', 1), group('old', 1)] };
  const after = { groups: [group('web', 3, { listen: 'http://0.0.0.0:80' }), group('task', 1, { reloadable: false }), group('mail', 1)] };
  assert.deepEqual(definitionChanges(before, after), [
    'web http://0.0.0.0:80: Workerman\\Worker count 4 -> Workerman\\Worker count 3',
    'task none: Workerman\\Worker count 1 -> Workerman\\Worker count 1 reloadable = false',
    'new group mail none',
    'group old none removed',
  ]);
  assert.deepEqual(definitionChanges(before, before), []);
});

test('any of files, definitions or a stale master needs a restart, and is described', () => {
  assert.equal(needsRestart(NO_MASTER_CHANGE), false);
  const change = { files: ['start.php'], definitions: ['web none: count 4 -> count 3'], stale: ['config/boot.php'] };
  assert.equal(needsRestart(change), true);
  assert.equal(needsRestart({ ...NO_MASTER_CHANGE, stale: ['x.php'] }), true);
  assert.match(describeMasterChange(change), /master-level file\(s\) changed: start\.php; worker definitions changed: web none: count 4 -> count 3; the running master is older than config\/boot\.php/);
});

const worker = (pid: number, group: string, startedAt: number): WorkerProcess => ({ pid, group, startedAt });
const snap = (at: number, masters: number[], workers: WorkerProcess[]): HostSnapshot => ({ at, masters: masters.map((pid) => ({ pid })), workers });

test('restart verdict: waits out the old master and old workers, then needs the new counts, stable for settle', () => {
  let state = startRestartWatch({ oldMasterPid: 9, startedAt: 100, expected: new Map([['web', 3]]) });
  const rules = { settleMs: 1000 };
  const newWeb = [worker(21, 'web', 101), worker(22, 'web', 101), worker(23, 'web', 101)];
  const kinds: string[] = [];
  for (const snapshot of [
    snap(100.5, [9], [worker(11, 'web', 50)]),
    snap(101, [], []),
    snap(101.2, [30], newWeb.slice(0, 2)),
    snap(101.5, [30], newWeb),
    snap(102.6, [30], newWeb),
  ]) {
    const step = observeRestart(state, snapshot, rules);
    state = step.state;
    kinds.push(step.verdict.kind === 'starting' ? `starting: ${step.verdict.detail}` : step.verdict.kind);
  }
  assert.deepEqual(kinds, ['starting: the old master (pid 9) still runs', 'starting: no master yet', 'starting: web 2/3', 'settling', 'restarted']);
});

test('restart verdict: new workers dying twice is a crash loop', () => {
  let state = startRestartWatch({ oldMasterPid: 9, startedAt: 100, expected: new Map([['web', 1]]) });
  let verdict;
  for (const snapshot of [snap(101, [30], [worker(21, 'web', 101)]), snap(102, [30], [worker(22, 'web', 102)]), snap(103, [30], [worker(23, 'web', 103)])]) {
    const step = observeRestart(state, snapshot, { settleMs: 5000 });
    state = step.state;
    verdict = step.verdict;
  }
  assert.equal(verdict!.kind === 'failed' && verdict!.reason, 'crash-loop');
});

test('a target reached through a symlink: PHP reports resolved paths, and they still count as inside the app', () => {
  const definitions = { startFile: '/data/app/start.php', appDir: '/data/app', includedFiles: ['/data/app/start.php', '/data/app/config/boot.php'], fileTimes: { '/data/app/config/boot.php': 2000 } };
  const isMasterLevel = masterLevelPaths(definitions, '/srv/app', []);
  assert.equal(isMasterLevel('config/boot.php'), true);
  assert.equal(isMasterLevel('start.php'), true);
  assert.deepEqual(staleFiles(definitions, 1000, '/srv/app'), ['config/boot.php']);
});
