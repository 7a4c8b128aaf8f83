import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  definitionChanges,
  describeMasterChange,
  frozenBecause,
  masterLevelPaths,
  needsRestart,
  NO_MASTER_CHANGE,
  staleFiles,
} from '../../src/engine/plan/master-change.js';
import { observeRestart, startRestartWatch } from '../../src/engine/verdict/restart-verdict.js';
import type { WorkerDefinition } from '../../src/engine/workers/worker-definitions.js';
import type { HostSnapshot, WorkerProcess } from '../../src/engine/workers/worker-snapshot.js';

const group = (name: string, count: number, extra: Partial<WorkerDefinition> = {}): WorkerDefinition => ({
  class: 'Workerman\\Worker',
  name,
  count,
  reloadable: true,
  listen: 'none',
  user: '',
  ...extra,
});

const WEB_AND_TASK = [group('web', 4), group('task', 1), group('gateway', 2, { reloadable: false })];

test('master-level paths: what the start script loaded at top level, inside the target, plus master-files globs', () => {
  const isMasterLevel = masterLevelPaths(
    {
      startFile: '/srv/app/start.php',
      appDir: '/srv/app',
      includedFiles: ['/srv/app/start.php', '/srv/app/config/boot.php', '/srv/app/vendor/workerman/workerman/src/Worker.php', '/usr/share/php/x.php'],
      groups: WEB_AND_TASK,
      workerStart: {
        groups: [
          { group: 0, reread: [] },
          { group: 1, reread: [] },
        ],
        declaring: [],
      },
    },
    '/srv/app',
    ['.env', 'config/*.ini'],
  );
  for (const path of ['start.php', 'config/boot.php', 'vendor/workerman/workerman/src/Worker.php', '.env', 'config/app.ini'])
    assert.equal(isMasterLevel(path), true, path);
  for (const path of ['src/handler.php', 'config/other.php', 'usr/share/php/x.php', 'sub/.env.example']) assert.equal(isMasterLevel(path), false, path);
});

test('frozen or re-read: a file every reloadable group reads again at start, declaring nothing, is applied by a reload', () => {
  const config = '/srv/app/config/app.php';
  const reread = (web: string[], task: string[], declaring: string[] = []) => ({
    groups: WEB_AND_TASK,
    workerStart: {
      groups: [
        { group: 0, reread: web },
        { group: 1, reread: task },
      ],
      declaring,
    },
  });
  assert.equal(frozenBecause(reread([config], [config]), config), undefined);
  // The gateway group is not reloadable: a reload never replaces it, so it has no say.
  assert.match(frozenBecause(reread([config], []), config) ?? '', /task workers do not read it again at start/);
  assert.match(frozenBecause(reread([], []), config) ?? '', /no worker reads it again at start: a value taken from it stays in the master/);
  assert.match(frozenBecause(reread([config], [config], [config]), config) ?? '', /declares a class, function or constant/);
  assert.match(frozenBecause({ groups: WEB_AND_TASK }, config) ?? '', /was not asked/);
  assert.match(
    frozenBecause({ groups: WEB_AND_TASK, workerStart: { error: 'pcntl_fork() is not available' } }, config) ?? '',
    /unknown: pcntl_fork\(\) is not available/,
  );
  const failed = {
    groups: WEB_AND_TASK,
    workerStart: {
      groups: [
        { group: 0, reread: [config] },
        { group: 1, error: 'onWorkerStart threw PDOException: refused' },
      ],
      declaring: [],
    },
  };
  assert.match(frozenBecause(failed, config) ?? '', /whether task workers read it again at start is unknown: onWorkerStart threw PDOException/);
  assert.match(
    frozenBecause({ groups: [group('gateway', 2, { reloadable: false })], workerStart: { groups: [], declaring: [] } }, config) ?? '',
    /no group is reloadable/,
  );

  const isMasterLevel = masterLevelPaths(
    { startFile: '/srv/app/start.php', appDir: '/srv/app', includedFiles: ['/srv/app/start.php', config], ...reread([config], [config]) },
    '/srv/app',
    [],
  );
  assert.equal(isMasterLevel('config/app.php'), false);
  assert.equal(isMasterLevel('start.php'), true);
  // master-files wins: the user said so.
  assert.equal(
    masterLevelPaths({ startFile: '/srv/app/start.php', appDir: '/srv/app', includedFiles: [config], ...reread([config], [config]) }, '/srv/app', ['config/*'])(
      'config/app.php',
    ),
    true,
  );
});

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);
const NOBODY_REREADS = { groups: [group('web', 4)], workerStart: { groups: [{ group: 0, reread: [] }], declaring: [] } };

test('a stale master without a record: master-level files modified after it started, to the second, and said to be a guess', () => {
  const fileTimes = { '/srv/app/start.php': 1000, '/srv/app/config/boot.php': 1010, '/srv/app/vendor/autoload.php': 990 };
  const definitions = { ...NOBODY_REREADS, fileTimes, appDir: '/srv/app', includedFiles: Object.keys(fileTimes) };
  const check = staleFiles(definitions, { startedAt: 1000.7 }, '/srv/app');
  assert.deepEqual(check.stale, ['config/boot.php']);
  assert.equal(check.basis, 'times');
  assert.match(
    check.evidence['config/boot.php'] ?? '',
    /^config\/boot\.php is newer than the master, and there is no record of what the master loaded: a guess; the master loaded it at top level/,
  );
  assert.deepEqual(staleFiles(definitions, { startedAt: 1011 }, '/srv/app').stale, []);
  assert.deepEqual(staleFiles(definitions, {}, '/srv/app'), { stale: [], evidence: {}, basis: 'unknown' }, 'no start time, no verdict');
});

test('a stale master with a record: content decides, not times; files workers read again do not count', () => {
  const files = ['/srv/app/start.php', '/srv/app/config/app.php', '/srv/app/config/boot.php', '/srv/app/vendor/autoload.php'];
  const definitions = {
    groups: [group('web', 4)],
    workerStart: { groups: [{ group: 0, reread: ['/srv/app/config/app.php'] }], declaring: [] },
    appDir: '/srv/app',
    includedFiles: files,
    // Every file touched long after the master started: times alone would call all of them stale.
    fileTimes: Object.fromEntries(files.map((file) => [file, 5000])),
    fileHashes: { '/srv/app/start.php': HASH_A, '/srv/app/config/app.php': HASH_B, '/srv/app/config/boot.php': HASH_B, '/srv/app/vendor/autoload.php': HASH_A },
  };
  const loaded = { '/srv/app/start.php': HASH_A, '/srv/app/config/app.php': HASH_A, '/srv/app/config/boot.php': HASH_A };
  const check = staleFiles(definitions, { startedAt: 1000, record: { files: loaded } }, '/srv/app');
  assert.equal(check.basis, 'record');
  // start.php: same content. config/app.php: changed, but workers read it again. boot.php: changed. autoload.php: not in the record.
  assert.deepEqual(check.stale, ['config/boot.php', 'vendor/autoload.php']);
  assert.match(
    check.evidence['config/boot.php'] ?? '',
    /^its content differs from what the running master loaded; the master loaded it at top level and no worker reads it again/,
  );
  assert.match(check.evidence['vendor/autoload.php'] ?? '', /^the record of what the running master loaded does not list it/);
  const same = staleFiles(definitions, { startedAt: 1000, record: { files: definitions.fileHashes } }, '/srv/app');
  assert.deepEqual(same, { stale: [], evidence: {}, basis: 'record' });
  // A probe too old to hash: the record cannot be used, times decide.
  const { fileHashes: _, ...unhashed } = definitions;
  assert.equal(staleFiles(unhashed, { startedAt: 1000, record: { files: loaded } }, '/srv/app').basis, 'times');
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

test("any of files, definitions or a stale master needs a restart, and is described with each file's evidence", () => {
  assert.equal(needsRestart(NO_MASTER_CHANGE), false);
  const change = {
    files: ['start.php'],
    definitions: ['web none: count 4 -> count 3'],
    stale: ['config/boot.php'],
    evidence: { 'start.php': 'changed by this deploy; the master loaded it', 'config/boot.php': 'its content differs' },
  };
  assert.equal(needsRestart(change), true);
  assert.equal(needsRestart({ ...NO_MASTER_CHANGE, stale: ['x.php'] }), true);
  assert.equal(
    describeMasterChange(change),
    'master-level file(s) changed: start.php (changed by this deploy; the master loaded it); worker definitions changed: web none: count 4 -> count 3; ' +
      'the running master did not load the current config/boot.php (its content differs): an earlier deploy reloaded where a restart was needed',
  );
});

const worker = (pid: number, group: string, startedAt: number): WorkerProcess => ({ pid, group, startedAt });
const snap = (at: number, masters: number[], workers: WorkerProcess[]): HostSnapshot => ({ at, masters: masters.map((pid) => ({ pid })), workers });

test('restart verdict: waits out the old master and old workers, then needs the new counts, stable for settle', () => {
  let state = startRestartWatch({ oldMasterPid: 9, startedAt: 100, expected: new Map([['web', 3]]) });
  const rules = { settleMs: 1000, confirmAgeMs: 50 };
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

test('restart verdict with settle 0: the new workers must be seen at an age of one poll interval', () => {
  const rules = { settleMs: 0, confirmAgeMs: 50 };
  const young = [worker(21, 'web', 101.18)];
  let state = startRestartWatch({ oldMasterPid: 9, startedAt: 100, expected: new Map([['web', 1]]) });
  const kinds: string[] = [];
  for (const snapshot of [snap(101.2, [30], young), snap(101.3, [30], young)]) {
    const step = observeRestart(state, snapshot, rules);
    state = step.state;
    kinds.push(step.verdict.kind);
  }
  assert.deepEqual(kinds, ['settling', 'restarted']);
});

test('restart verdict: new workers dying twice is a crash loop', () => {
  let state = startRestartWatch({ oldMasterPid: 9, startedAt: 100, expected: new Map([['web', 1]]) });
  let verdict;
  for (const snapshot of [snap(101, [30], [worker(21, 'web', 101)]), snap(102, [30], [worker(22, 'web', 102)]), snap(103, [30], [worker(23, 'web', 103)])]) {
    const step = observeRestart(state, snapshot, { settleMs: 5000, confirmAgeMs: 50 });
    state = step.state;
    verdict = step.verdict;
  }
  assert.equal(verdict!.kind === 'failed' && verdict!.reason, 'crash-loop');
});

test('a target reached through a symlink: PHP reports resolved paths, and they still count as inside the app', () => {
  const definitions = {
    ...NOBODY_REREADS,
    startFile: '/data/app/start.php',
    appDir: '/data/app',
    includedFiles: ['/data/app/start.php', '/data/app/config/boot.php'],
    fileTimes: { '/data/app/config/boot.php': 2000 },
  };
  const isMasterLevel = masterLevelPaths(definitions, '/srv/app', []);
  assert.equal(isMasterLevel('config/boot.php'), true);
  assert.equal(isMasterLevel('start.php'), true);
  assert.deepEqual(staleFiles(definitions, { startedAt: 1000 }, '/srv/app').stale, ['config/boot.php']);
});
