import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BaselineError, markStopped, observe, startWatch, takeBaseline, type Verdict, type VerdictRules } from '../../src/engine/verdict/verdict.js';
import type { HostSnapshot, WorkerProcess } from '../../src/engine/workers/worker-snapshot.js';
import { planReload } from '../../src/engine/plan/reload-plan.js';

const w = (pid: number, group: string, startedAt = 1): WorkerProcess => ({ pid, group, startedAt });
const snap = (at: number, workers: WorkerProcess[], masters = [{ pid: 100, startedAt: 0 }]): HostSnapshot => ({ at, masters, workers });
/** No definitions known: workers are judged by the source, gateway listed in ignore-workers. */
const plan = planReload(undefined, { reloadMode: 'graceful', ignoreWorkers: ['gateway'] });
const rules: VerdictRules = {
  settleMs: 1000,
  reloadMode: 'graceful',
  gracefulTimeoutMs: 60_000,
  noProgressMs: 10_000,
  forceStepMs: 3000,
  crashLimit: 2,
  confirmAgeMs: 50,
};

const before = snap(10, [w(1, 'web'), w(2, 'web'), w(3, 'task'), w(4, 'gateway'), w(5, 'gateway')]);

/** Feeds snapshots in order and returns every verdict. */
function run(snapshots: HostSnapshot[], r: VerdictRules = rules): Verdict[] {
  let state = startWatch(takeBaseline(before, plan));
  return snapshots.map((snapshot) => {
    const step = observe(state, snapshot, r);
    state = step.state;
    return step.verdict;
  });
}

test('baseline tracks reloadable workers and keeps ignored groups', () => {
  const baseline = takeBaseline(before, plan);
  assert.equal(baseline.masterPid, 100);
  assert.equal(baseline.signalAt, 10);
  assert.deepEqual(
    baseline.tracked.map((x) => x.pid),
    [1, 2, 3],
  );
  assert.deepEqual(
    baseline.kept.map((x) => x.pid),
    [4, 5],
  );
});

test('no master, or nothing reloadable, refuses to take a baseline', () => {
  assert.throws(() => takeBaseline(snap(1, [], []), plan), /no Workerman master/);
  assert.throws(() => takeBaseline(snap(1, [w(4, 'gateway')]), plan), BaselineError);
});

test('progress counts replaced workers one at a time, then settles, then is replaced', () => {
  const kept = [w(4, 'gateway'), w(5, 'gateway')];
  const verdicts = run([
    snap(10.2, [w(1, 'web'), w(2, 'web'), w(3, 'task'), ...kept]),
    snap(10.4, [w(11, 'web', 10.3), w(2, 'web'), w(3, 'task'), ...kept]),
    snap(10.6, [w(11, 'web', 10.3), w(12, 'web', 10.5), w(3, 'task'), ...kept]),
    snap(10.8, [w(11, 'web', 10.3), w(12, 'web', 10.5), w(13, 'task', 10.7), ...kept]),
    snap(11.3, [w(11, 'web', 10.3), w(12, 'web', 10.5), w(13, 'task', 10.7), ...kept]),
    snap(11.9, [w(11, 'web', 10.3), w(12, 'web', 10.5), w(13, 'task', 10.7), ...kept]),
  ]);
  assert.deepEqual(
    verdicts.map((v) => (v.kind === 'replacing' ? `${v.replaced}/${v.total}` : v.kind)),
    ['0/3', '1/3', '2/3', 'settling', 'settling', 'replaced'],
  );
});

test('a group short of its worker count is not done, even with every old PID gone', () => {
  const [verdict] = run([snap(11, [w(11, 'web', 10.5), w(13, 'task', 10.5)])]);
  assert.equal(verdict!.kind, 'replacing');
});

test('a worker started before the signal does not count as new', () => {
  const [verdict] = run([snap(11, [w(11, 'web', 10.5), w(12, 'web', 9.0), w(13, 'task', 10.5)])]);
  assert.equal(verdict!.kind, 'replacing');
  assert.deepEqual(verdict!.kind === 'replacing' && verdict!.stale.map((x) => x.pid), [12]);
});

test('PIDs that change during settle restart the settle clock', () => {
  const verdicts = run([
    snap(11, [w(11, 'web', 10.5), w(12, 'web', 10.5), w(13, 'task', 10.5)]),
    snap(11.8, [w(11, 'web', 10.5), w(14, 'web', 11.7), w(13, 'task', 10.5)]),
    snap(12.3, [w(11, 'web', 10.5), w(14, 'web', 11.7), w(13, 'task', 10.5)]),
    snap(12.9, [w(11, 'web', 10.5), w(14, 'web', 11.7), w(13, 'task', 10.5)]),
  ]);
  assert.deepEqual(
    verdicts.map((v) => v.kind),
    ['settling', 'settling', 'settling', 'replaced'],
  );
});

test('the master dying or being replaced fails at once, naming it', () => {
  const [gone] = run([snap(11, [], [])]);
  assert.equal(gone!.kind, 'failed');
  assert.match(gone!.kind === 'failed' ? gone!.message : '', /master process \(pid 100\) died/);
  const [replaced] = run([snap(11, [w(11, 'web', 10.5)], [{ pid: 200, startedAt: 10.6 }])]);
  assert.equal(replaced!.kind === 'failed' && replaced!.reason, 'master-replaced');
});

test('ignored groups may change or vanish without affecting the verdict', () => {
  const verdicts = run([
    snap(11, [w(11, 'web', 10.5), w(12, 'web', 10.5), w(13, 'task', 10.5)]),
    snap(12.1, [w(11, 'web', 10.5), w(12, 'web', 10.5), w(13, 'task', 10.5), w(40, 'gateway', 12)]),
  ]);
  assert.deepEqual(
    verdicts.map((v) => v.kind),
    ['settling', 'replaced'],
  );
});

test('crash loop: new workers that vanish count as crash exits, and two fail the reload', () => {
  const kept = [w(4, 'gateway'), w(5, 'gateway')];
  const verdicts = run([
    snap(10.5, [w(21, 'web', 10.3), w(2, 'web'), w(3, 'task'), ...kept]),
    snap(10.7, [w(22, 'web', 10.6), w(2, 'web'), w(3, 'task'), ...kept]),
    snap(10.9, [w(23, 'web', 10.8), w(2, 'web'), w(3, 'task'), ...kept]),
  ]);
  assert.deepEqual(
    verdicts.map((v) => v.kind),
    ['replacing', 'replacing', 'failed'],
  );
  const last = verdicts[2]!;
  assert.equal(last.kind === 'failed' && last.reason, 'crash-loop');
});

test('crash loop: rising crash exits in the status table fail even when no PID is caught dying', () => {
  const base = { ...before, crashExits: new Map([['web', 1]]) };
  let state = startWatch(takeBaseline(base, plan));
  const replacedOnce = [w(11, 'web', 10.5), w(12, 'web', 10.5), w(13, 'task', 10.5)];
  let step = observe(state, { ...snap(11, replacedOnce), crashExits: new Map([['web', 2]]) }, rules);
  assert.equal(step.verdict.kind, 'settling', 'one crash exit is not yet a loop');
  state = step.state;
  step = observe(
    state,
    {
      ...snap(11.5, replacedOnce),
      crashExits: new Map([
        ['web', 3],
        ['gateway', 9],
      ]),
    },
    rules,
  );
  assert.equal(step.verdict.kind === 'failed' && step.verdict.reason, 'crash-loop');
});

test('a crash during settle restarts the settle window', () => {
  const base = { ...before, crashExits: new Map<string, number>() };
  let state = startWatch(takeBaseline(base, plan));
  const done = [w(11, 'web', 10.5), w(12, 'web', 10.5), w(13, 'task', 10.5)];
  const kinds: string[] = [];
  for (const [at, crashes] of [
    [11, 0],
    [11.8, 1],
    [12.5, 1],
    [12.9, 1],
  ] as const) {
    const step = observe(state, { ...snap(at, done), crashExits: new Map([['web', crashes]]), crashExitsAt: at }, { ...rules, crashLimit: 5 });
    state = step.state;
    kinds.push(step.verdict.kind);
  }
  assert.deepEqual(kinds, ['settling', 'settling', 'settling', 'replaced']);
});

test('settle waits for crash figures taken after the picture became stable', () => {
  const done = [w(11, 'web', 10.5), w(12, 'web', 10.5), w(13, 'task', 10.5)];
  let state = startWatch(takeBaseline({ ...before, crashExits: new Map() }, plan));
  const kinds: string[] = [];
  for (const [at, tableAt] of [
    [11, 10.2],
    [12.5, 10.9],
    [12.7, 11.4],
  ] as const) {
    const step = observe(state, { ...snap(at, done), crashExits: new Map(), crashExitsAt: tableAt }, rules);
    state = step.state;
    kinds.push(step.verdict.kind);
  }
  assert.deepEqual(kinds, ['settling', 'settling', 'replaced']);
});

test('graceful reload standing still past graceful-timeout is pinned; the with no definitions known the holder is the oldest still-old worker, whatever the connection counts', () => {
  const quickRules = { ...rules, gracefulTimeoutMs: 2000, noProgressMs: 1000 };
  const older = snap(10, [w(1, 'web', 2), w(2, 'web', 3), w(3, 'task', 1)]);
  let state = startWatch(takeBaseline(older, plan));
  const holding = [w(11, 'web', 10.5), { ...w(2, 'web', 3), connections: 40 }, { ...w(3, 'task', 1), connections: 1 }];
  const kinds: string[] = [];
  let last;
  for (const at of [11, 12.1, 13.1]) {
    const step = observe(state, snap(at, holding), quickRules);
    state = step.state;
    last = step.verdict;
    kinds.push(last.kind);
  }
  assert.deepEqual(kinds, ['replacing', 'replacing', 'pinned']);
  assert.deepEqual(last!.kind === 'pinned' && last!.holders.map((h) => h.pid), [3, 2]);
});

test('a recorded PID reused by a new worker counts as replaced (PID and start time are matched)', () => {
  const [verdict] = run([snap(11, [w(1, 'web', 10.5), w(12, 'web', 10.6), w(13, 'task', 10.7)])]);
  assert.equal(verdict!.kind, 'settling');
});

test('no worker replaced and the log shows no "reloading": the signal was swallowed', () => {
  const quickRules = { ...rules, noProgressMs: 1000 };
  const same = [w(1, 'web'), w(2, 'web'), w(3, 'task'), w(4, 'gateway'), w(5, 'gateway')];
  const verdicts = run(
    [
      { ...snap(10.5, same), reloadStarted: false },
      { ...snap(11.2, same), reloadStarted: false },
    ],
    quickRules,
  );
  assert.deepEqual(
    verdicts.map((v) => v.kind),
    ['replacing', 'failed'],
  );
  const last = verdicts[1]!;
  assert.equal(last.kind === 'failed' && last.reason, 'no-progress');
  assert.match(last.kind === 'failed' ? last.message : '', /no "reloading" line/);
  assert.doesNotMatch(last.kind === 'failed' ? last.message : '', /gateway/, 'kept workers are not blamed on an earlier reload');
});

test('no worker replaced but the master logged "reloading": pinned, not swallowed', () => {
  const quickRules = { ...rules, noProgressMs: 1000, gracefulTimeoutMs: 2000 };
  const same = [w(1, 'web'), w(2, 'web'), w(3, 'task')];
  const verdicts = run(
    [1.5, 2.5].map((after) => ({ ...snap(10 + after, same), reloadStarted: true })),
    quickRules,
  );
  assert.deepEqual(
    verdicts.map((v) => v.kind),
    ['replacing', 'pinned'],
  );
});

test('quick mode with no log: nothing replaced for the no-progress window is reported as no progress', () => {
  const quickRules = { ...rules, reloadMode: 'quick' as const, noProgressMs: 1000 };
  const same = [w(1, 'web'), w(2, 'web'), w(3, 'task')];
  const [, verdict] = run([snap(10.5, same), snap(11.1, same)], quickRules);
  assert.equal(verdict!.kind === 'failed' && verdict!.reason, 'no-progress');
});

test('a revision is checked only where workers report one', () => {
  const revRules = { ...rules, revision: 'abc' };
  const withRevisions = [{ ...w(11, 'web', 10.5), revision: 'abc' }, { ...w(12, 'web', 10.5), revision: 'old' }, w(13, 'task', 10.5)];
  const [wrong] = run([snap(11, withRevisions)], revRules);
  assert.equal(wrong!.kind, 'replacing');
  assert.deepEqual(wrong!.kind === 'replacing' && wrong!.wrongRevision.map((x) => x.pid), [12]);
  const [fine] = run([snap(11, [withRevisions[0]!, { ...withRevisions[1]!, revision: 'abc' }, withRevisions[2]!])], revRules);
  assert.equal(fine!.kind, 'settling');
});

test('groups reported as not reloadable are kept, never waited for', () => {
  const snapshot = snap(10, [w(1, 'web'), { ...w(2, 'status'), reloadable: false }]);
  const baseline = takeBaseline(snapshot, planReload(undefined, { reloadMode: 'graceful', ignoreWorkers: [] }));
  assert.deepEqual(
    baseline.tracked.map((x) => x.pid),
    [1],
  );
  assert.deepEqual(
    baseline.kept.map((x) => x.pid),
    [2],
  );
});

test('every old worker replaced but the new ones keep the old revision: the code is loaded in the master, and the verdict says so after settle', () => {
  const revRules = { ...rules, revision: 'new', settleMs: 1000 };
  const withOld = snap(10, [
    { ...w(1, 'web'), revision: 'old' },
    { ...w(2, 'web'), revision: 'old' },
    { ...w(3, 'task'), revision: 'old' },
  ]);
  const oldRevision = [
    { ...w(11, 'web', 10.5), revision: 'old' },
    { ...w(12, 'web', 10.5), revision: 'old' },
    { ...w(13, 'task', 10.5), revision: 'old' },
  ];
  let state = startWatch(takeBaseline(withOld, plan));
  const verdicts = [snap(10.6, oldRevision), snap(11.2, oldRevision), snap(11.7, oldRevision)].map((snapshot) => {
    const step = observe(state, snapshot, revRules);
    state = step.state;
    return step.verdict;
  });
  assert.deepEqual(
    verdicts.map((v) => v.kind),
    ['replacing', 'replacing', 'failed'],
  );
  const last = verdicts[2]!;
  assert.equal(last.kind === 'failed' && last.reason, 'revision-not-loaded');
  assert.match(
    last.kind === 'failed' ? last.message : '',
    /still report the old revision, not new \(web:11=old.*loaded outside the worker callbacks.*only a restart loads it/,
  );
});

test('new workers reporting a third revision loaded new code: the deploy is not the expected revision, and the verdict does not blame the callbacks', () => {
  const revRules = { ...rules, revision: 'expected', settleMs: 1000 };
  const withOld = snap(10, [
    { ...w(1, 'web'), revision: 'rev-2' },
    { ...w(2, 'web'), revision: 'rev-2' },
    { ...w(3, 'task'), revision: 'rev-2' },
  ]);
  const third = [
    { ...w(11, 'web', 10.5), revision: 'rev-3' },
    { ...w(12, 'web', 10.5), revision: 'rev-3' },
    { ...w(13, 'task', 10.5), revision: 'rev-3' },
  ];
  let state = startWatch(takeBaseline(withOld, plan));
  let verdict;
  for (const at of [10.6, 11.7]) {
    const step = observe(state, snap(at, third), revRules);
    state = step.state;
    verdict = step.verdict;
  }
  assert.equal(verdict!.kind === 'failed' && verdict!.reason, 'wrong-revision');
  assert.match(verdict!.kind === 'failed' ? verdict!.message : '', /loaded new code, but they report another revision than expected \(web:11=rev-3/);
  assert.doesNotMatch(verdict!.kind === 'failed' ? verdict!.message : '', /outside the worker callbacks/);
});

test('a worker the watch stopped itself is no crash, even when its exit status is not 0', () => {
  const base = { ...before, crashExits: new Map([['web', 0]]) };
  // Both pinned web workers were stopped by the watch, one after the other.
  let state = markStopped(markStopped(startWatch(takeBaseline(base, plan)), w(1, 'web'), true), w(2, 'web'), true);
  const done = [w(11, 'web', 10.5), w(12, 'web', 10.5), w(13, 'task', 10.5)];
  let step = observe(state, { ...snap(11, done), crashExits: new Map([['web', 2]]), crashExitsAt: 11 }, rules);
  assert.equal(step.verdict.kind, 'settling', 'the two forced exits (status 2 on PHP 8.2) are ours');
  state = step.state;
  step = observe(state, { ...snap(11.5, done), crashExits: new Map([['web', 4]]), crashExitsAt: 11.5 }, rules);
  assert.equal(step.verdict.kind === 'failed' && step.verdict.reason, 'crash-loop', 'two more exits are a crash loop');
});

test('workers forked before the signal reached the master (a crash loop dying down after a restore) are no crashes when the reload replaces them', () => {
  const kept = [w(4, 'gateway'), w(5, 'gateway')];
  // The snapshot at 10; the signal surely at the master by 10.4 (the runner waited that long for the snapshot and the kill).
  let state = startWatch({ ...takeBaseline(before, plan), signalReachedBy: 10.4 });
  const look = (at: number, workers: WorkerProcess[]) => {
    const step = observe(state, snap(at, [...workers, ...kept]), rules);
    state = step.state;
    return step.verdict;
  };
  // Forked at 10.1 and 10.2, from whatever tree was there then; the reload replaces both.
  assert.equal(look(10.3, [w(21, 'web', 10.1), w(22, 'web', 10.2), w(2, 'web'), w(3, 'task')]).kind, 'replacing');
  const settled = look(11, [w(31, 'web', 10.6), w(32, 'web', 10.7), w(33, 'task', 10.8)]);
  assert.notEqual(settled.kind, 'failed', JSON.stringify(settled));
  // Workers started after it that die are the new code's: two make a crash loop.
  look(11.2, [w(32, 'web', 10.7), w(33, 'task', 10.8), w(41, 'web', 11.1)]);
  const verdict = look(11.4, [w(33, 'task', 10.8), w(42, 'web', 11.3), w(43, 'web', 11.3)]);
  assert.equal(verdict.kind === 'failed' && verdict.reason, 'crash-loop', JSON.stringify(verdict));
});

test('settle 0: the new workers must be seen alive at an age of one poll interval, so code that dies at once is caught', () => {
  const noSettle = { ...rules, settleMs: 0 };
  const kept = [w(4, 'gateway'), w(5, 'gateway')];
  // First seen 20 ms after the youngest started: not yet; the look that proves it is due 30 ms later.
  const done = [w(11, 'web', 10.15), w(12, 'web', 10.18), w(13, 'task', 10.1), ...kept];
  const verdicts = run([snap(10.2, done), snap(10.3, done)], noSettle);
  assert.deepEqual(
    verdicts.map((v) => v.kind),
    ['settling', 'replaced'],
  );
  assert.equal(verdicts[0]!.kind === 'settling' && verdicts[0]!.confirmInMs, 30);
  // Both web workers gone by the second look (replaced by others): a crash loop, never "replaced".
  const dying = run([snap(10.2, done), snap(10.3, [w(21, 'web', 10.25), w(22, 'web', 10.25), w(13, 'task', 10.1), ...kept])], noSettle);
  assert.deepEqual(
    dying.map((v) => v.kind),
    ['settling', 'failed'],
  );
  assert.equal(dying[1]!.kind === 'failed' && dying[1]!.reason, 'crash-loop');
  // Already a poll interval old when first seen: one look proves it.
  assert.deepEqual(
    run([snap(10.2, [w(11, 'web', 10.1), w(12, 'web', 10.12), w(13, 'task', 10.1), ...kept])], noSettle).map((v) => v.kind),
    ['replaced'],
  );
});
