import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AUTO_QUICK_STOP_AFTER_MS, planReload, unmatchedWorkers } from '../../src/engine/plan/reload-plan.js';
import { runtimeProtectRules } from '../../src/engine/plan/runtime-files.js';
import { observe, startWatch, takeBaseline, type VerdictRules } from '../../src/engine/verdict/verdict.js';
import type { WorkerDefinition } from '../../src/engine/workers/worker-definitions.js';
import type { HostSnapshot, WorkerProcess } from '../../src/engine/workers/worker-snapshot.js';

const group = (name: string, count: number, listen: string, reloadable = true): WorkerDefinition => ({
  class: 'Workerman\\Worker',
  name,
  count,
  listen,
  reloadable,
  user: '',
});
/** examples/app: web listens, gateway is not reloadable, task does not listen. */
const plainApp = { groups: [group('web', 2, 'http://127.0.0.1:8080'), group('gateway', 1, 'websocket://127.0.0.1:8090', false), group('task', 1, 'none')] };
/** GatewayWorker: only the BusinessWorkers are replaced, and they do not listen. */
const gatewayApp = {
  groups: [group('Register', 1, 'text://127.0.0.1:1238', false), group('Gateway', 2, 'text://127.0.0.1:8282', false), group('BusinessWorker', 4, 'none')],
};

const w = (pid: number, name: string, listen: string, startedAt: number): WorkerProcess => ({ pid, group: name, listen, startedAt });
const snap = (at: number, workers: readonly WorkerProcess[], extra: Partial<HostSnapshot> = {}): HostSnapshot => ({
  at,
  masters: [{ pid: 100 }],
  workers,
  ...extra,
});
const rules = (mode: 'graceful' | 'quick', extra: Partial<VerdictRules> = {}): VerdictRules => ({
  settleMs: 1000,
  confirmAgeMs: 50,
  reloadMode: mode,
  gracefulTimeoutMs: 60_000,
  noProgressMs: 10_000,
  forceStepMs: 3000,
  ...extra,
});

test('auto: quick when no replaced group listens (GatewayWorker), graceful when one does', () => {
  const gateway = planReload(gatewayApp, { reloadMode: 'auto', ignoreWorkers: [] });
  assert.equal(gateway.mode, 'quick');
  assert.match(gateway.modeReason, /no replaced group listens \(BusinessWorker\)/);
  assert.equal(gateway.quickStopAfterMs, undefined);

  const plain = planReload(plainApp, { reloadMode: 'auto', ignoreWorkers: [] });
  assert.equal(plain.mode, 'graceful');
  assert.equal(plain.quickStopAfterMs, AUTO_QUICK_STOP_AFTER_MS);
  assert.match(plain.modeReason, /web listens.*task \(not listening\) get SIGINT/);

  const listeningOnly = planReload({ groups: [plainApp.groups[0]!] }, { reloadMode: 'auto', ignoreWorkers: [] });
  assert.equal(listeningOnly.mode, 'graceful');
  assert.equal(listeningOnly.quickStopAfterMs, undefined);

  assert.equal(planReload(gatewayApp, { reloadMode: 'graceful', ignoreWorkers: [] }).mode, 'graceful', 'an explicit mode is kept');
  assert.equal(planReload(plainApp, { reloadMode: 'quick', ignoreWorkers: [] }).mode, 'quick');
});

test('the baseline keeps what the definitions say is not reloadable, without ignore-workers, and orders by definition then fork order', () => {
  const plan = planReload(plainApp, { reloadMode: 'auto', ignoreWorkers: [] });
  const before = snap(10, [
    w(7, 'task', 'none', 1),
    w(5, 'gateway', 'websocket://127.0.0.1:8090', 1),
    w(3, 'web', 'http://127.0.0.1:8080', 5),
    w(4, 'web', 'http://127.0.0.1:8080', 2),
  ]);
  const baseline = takeBaseline(before, plan);
  assert.deepEqual(
    baseline.tracked.map((x) => x.pid),
    [4, 3, 7],
    'web before task (definition order), web:4 forked before web:3',
  );
  assert.deepEqual(
    baseline.kept.map((x) => [x.pid, x.keptBecause]),
    [[5, 'reloadable = false']],
  );
  assert.deepEqual(
    [...baseline.expected],
    [
      ['web', 2],
      ['task', 1],
    ],
  );

  const ignoring = takeBaseline(before, planReload(plainApp, { reloadMode: 'auto', ignoreWorkers: ['task'] }));
  assert.deepEqual(
    ignoring.kept.map((x) => [x.pid, x.keptBecause]),
    [
      [7, 'ignore-workers'],
      [5, 'reloadable = false'],
    ],
  );
});

test('a group must come back to the count the app defines, not the count found before the signal', () => {
  const plan = planReload({ groups: [group('web', 3, 'http://:80')] }, { reloadMode: 'graceful', ignoreWorkers: [] });
  // One worker was already missing (crashed, not yet re-forked) when the baseline was taken.
  const baseline = takeBaseline(snap(10, [w(1, 'web', 'http://:80', 1), w(2, 'web', 'http://:80', 1)]), plan);
  const step = observe(startWatch(baseline), snap(12, [w(11, 'web', 'http://:80', 11), w(12, 'web', 'http://:80', 11)]), rules('graceful'));
  assert.equal(step.verdict.kind, 'replacing', 'two of three is short');
});

test('pinned: the holder is the first old worker in the master order, not the oldest process', () => {
  const plan = planReload(plainApp, { reloadMode: 'graceful', ignoreWorkers: [] });
  const before = snap(10, [w(7, 'task', 'none', 1), w(3, 'web', 'http://127.0.0.1:8080', 5), w(4, 'web', 'http://127.0.0.1:8080', 6)]);
  const r = rules('graceful', { gracefulTimeoutMs: 2000 });
  let state = startWatch(takeBaseline(before, plan));
  let verdict;
  for (const at of [11, 12.5]) {
    const step = observe(state, { ...snap(at, before.workers), reloadStarted: true }, r);
    state = step.state;
    verdict = step.verdict;
  }
  assert.equal(verdict!.kind, 'pinned');
  assert.deepEqual(verdict!.kind === 'pinned' && verdict!.holders.map((x) => x.pid), [3, 4, 7], 'task started first, but web is defined first');
  assert.equal(verdict!.kind === 'pinned' && verdict!.quickStop, false);
});

test('auto under graceful: a non-listening holder is stopped after the short grace, only once the reload is under way', () => {
  const plan = planReload(plainApp, { reloadMode: 'auto', ignoreWorkers: [] });
  const r = rules('graceful', { quickStopAfterMs: plan.quickStopAfterMs! });
  const before = snap(10, [w(3, 'web', 'http://127.0.0.1:8080', 1), w(7, 'task', 'none', 1)]);
  const webDone = [w(13, 'web', 'http://127.0.0.1:8080', 10.2), w(7, 'task', 'none', 1)];
  let state = startWatch(takeBaseline(before, plan));
  const kinds: string[] = [];
  let last;
  for (const at of [10.3, 10.9, 11.3]) {
    const step = observe(state, snap(at, webDone), r);
    state = step.state;
    last = step.verdict;
    kinds.push(last.kind);
  }
  assert.deepEqual(kinds, ['replacing', 'replacing', 'pinned'], 'grace counts from the last progress (10.3)');
  assert.equal(last!.kind === 'pinned' && last!.quickStop, true);

  // The same standstill before anything was replaced and with no "reloading" line: the master may not be reloading at all.
  const taskFirst = planReload({ groups: [group('task', 1, 'none'), group('web', 1, 'http://:80')] }, { reloadMode: 'auto', ignoreWorkers: [] });
  const early = takeBaseline(snap(10, [w(7, 'task', 'none', 1), w(3, 'web', 'http://:80', 1)]), taskFirst);
  const step = observe(startWatch(early), snap(12, early.tracked), rules('graceful', { quickStopAfterMs: 1000 }));
  assert.equal(step.verdict.kind, 'replacing');
});

test("runtime files: a directory below the target is protected whole, Workerman 4's vendor/ place file by file, outside paths not at all", () => {
  assert.deepEqual(
    runtimeProtectRules(
      {
        pidFile: '/srv/app/runtime/webman.pid',
        logFile: '/srv/app/runtime/logs/workerman.log',
        statusFile: '/srv/app/runtime/webman.status',
        stdoutFile: '/dev/null',
        appDir: '/srv/app',
      },
      '/srv/app',
    ),
    ['/runtime/***'],
  );
  assert.deepEqual(
    runtimeProtectRules(
      {
        pidFile: '/srv/app/vendor/workerman/_srv_app_start.php.pid',
        logFile: '/srv/app/vendor/workerman/workerman.log',
        statusFile: '',
        stdoutFile: '/var/log/app.out',
        appDir: '/srv/app',
      },
      '/srv/app/',
    ),
    ['/vendor/workerman/_srv_app_start.php.pid', '/vendor/workerman/workerman.log'],
  );
  assert.deepEqual(
    runtimeProtectRules(
      { pidFile: '/srv/app/workerman.start.php.pid', logFile: '/srv/app/a[1].log', statusFile: '', stdoutFile: '', appDir: '/srv/app' },
      '/srv/app',
    ),
    ['/workerman.start.php.pid', '/a\\[1\\].log'],
  );
  // /srv/app is a symlink to /data/app: PHP reports the resolved paths.
  assert.deepEqual(
    runtimeProtectRules(
      { pidFile: '/data/app/runtime/app.pid', logFile: '/data/app/runtime/logs/workerman.log', statusFile: '', stdoutFile: '', appDir: '/data/app' },
      '/srv/app',
    ),
    ['/runtime/***'],
  );
});

test('workers find their group by name; the listen address only separates groups that share a name', () => {
  // The master was started with APP_PORT=9000; the probe ran without it and saw the default port.
  const plan = planReload(
    { groups: [group('none', 1, 'http://0.0.0.0:80'), group('none', 1, 'text://0.0.0.0:81', false), group('gateway', 1, 'websocket://0.0.0.0:8090', false)] },
    { reloadMode: 'auto', ignoreWorkers: [] },
  );
  const baseline = takeBaseline(
    snap(10, [w(1, 'gateway', 'websocket://0.0.0.0:9000', 1), w(2, 'none', 'http://0.0.0.0:80', 1), w(3, 'none', 'text://0.0.0.0:81', 1)]),
    plan,
  );
  assert.deepEqual(
    baseline.tracked.map((x) => x.pid),
    [2],
  );
  assert.deepEqual(baseline.kept.map((x) => x.pid).sort(), [1, 3]);
});

test('a worker matched to no definition is refused before the signal, named by its escaped title, never tracked or signalled', () => {
  const app = { groups: [group('web', 1, 'http://127.0.0.1:8080'), group('g\nw', 1, 'websocket://127.0.0.1:8090', false)] };
  const plan = planReload(app, { reloadMode: 'graceful', ignoreWorkers: [] });
  // The newline group, read whole, is kept as not reloadable.
  const kept = takeBaseline(snap(10, [w(1, 'web', 'http://127.0.0.1:8080', 1), w(2, 'g\nw', 'websocket://127.0.0.1:8090', 1)]), plan);
  assert.deepEqual(
    kept.kept.map((worker) => [worker.pid, worker.keptBecause]),
    [[2, 'reloadable = false']],
  );
  // A title that did not parse is its own group name: it matches nothing.
  const unparsed: WorkerProcess = { pid: 3, group: 'WorkerMan: worker process  odd', startedAt: 1 };
  assert.throws(
    () => takeBaseline(snap(10, [w(1, 'web', 'http://127.0.0.1:8080', 1), unparsed, w(4, 'g', 'w', 1)]), plan),
    (error: Error) => {
      assert.match(
        error.message,
        /^2 worker\(s\) match none of the app's worker definitions \(pid 3 "WorkerMan: worker process  odd", pid 4 "g w"; defined: "web http:\/\/127\.0\.0\.1:8080", "g\\nw websocket:\/\/127\.0\.0\.1:8090"\)\. A worker the action cannot match is never signalled/,
      );
      return true;
    },
  );
  // Unknown definitions: the source speaks for every worker, so nothing is refused.
  const blind = planReload(undefined, { reloadMode: 'graceful', ignoreWorkers: [] });
  assert.equal(unmatchedWorkers(blind, [unparsed]).length, 0);
});
