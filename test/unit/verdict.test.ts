import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BaselineError, observe, startWatch, takeBaseline, type Verdict, type VerdictRules } from '../../src/engine/verdict.js';
import type { HostSnapshot, WorkerProcess } from '../../src/engine/worker-snapshot.js';

const w = (pid: number, group: string, startedAt = 1): WorkerProcess => ({ pid, group, startedAt });
const snap = (at: number, workers: WorkerProcess[], masters = [{ pid: 100, startedAt: 0 }]): HostSnapshot => ({ at, masters, workers });
const rules: VerdictRules = {
  ignoreGroups: ['gateway'],
  settleMs: 1000,
  reloadMode: 'graceful',
  gracefulTimeoutMs: 60_000,
  noProgressMs: 10_000,
  forceStepMs: 3000,
  crashLimit: 2,
};

const before = snap(10, [w(1, 'web'), w(2, 'web'), w(3, 'task'), w(4, 'gateway'), w(5, 'gateway')]);

/** Feeds snapshots in order and returns every verdict. */
function run(snapshots: HostSnapshot[], r: VerdictRules = rules): Verdict[] {
  let state = startWatch(takeBaseline(before, r));
  return snapshots.map((snapshot) => {
    const step = observe(state, snapshot, r);
    state = step.state;
    return step.verdict;
  });
}

test('baseline tracks reloadable workers and keeps ignored groups', () => {
  const baseline = takeBaseline(before, rules);
  assert.equal(baseline.masterPid, 100);
  assert.equal(baseline.signalAt, 10);
  assert.deepEqual(baseline.tracked.map((x) => x.pid), [1, 2, 3]);
  assert.deepEqual(baseline.kept.map((x) => x.pid), [4, 5]);
});

test('no master, or nothing reloadable, refuses to take a baseline', () => {
  assert.throws(() => takeBaseline(snap(1, [], []), rules), /no Workerman master/);
  assert.throws(() => takeBaseline(snap(1, [w(4, 'gateway')]), rules), BaselineError);
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
});

test('PIDs that change during settle restart the settle clock', () => {
  const verdicts = run([
    snap(11, [w(11, 'web', 10.5), w(12, 'web', 10.5), w(13, 'task', 10.5)]),
    snap(11.8, [w(11, 'web', 10.5), w(14, 'web', 11.7), w(13, 'task', 10.5)]),
    snap(12.3, [w(11, 'web', 10.5), w(14, 'web', 11.7), w(13, 'task', 10.5)]),
    snap(12.9, [w(11, 'web', 10.5), w(14, 'web', 11.7), w(13, 'task', 10.5)]),
  ]);
  assert.deepEqual(verdicts.map((v) => v.kind), ['settling', 'settling', 'settling', 'replaced']);
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
  assert.deepEqual(verdicts.map((v) => v.kind), ['settling', 'replaced']);
});
