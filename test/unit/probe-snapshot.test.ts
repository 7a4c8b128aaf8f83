import { test } from 'node:test';
import assert from 'node:assert/strict';
import { snapshotFromHttp, snapshotFromProcesses } from '../../src/status/probe-snapshot.js';
import { parseHttpStatus } from '../../src/status/http-contract.js';
import type { ProbeResult } from '../../src/workerman/host-probe.js';

// Host booted at Unix time 1795238000 (time - uptime).
const probe = (extra: Partial<ProbeResult> = {}): ProbeResult => ({
  uptime: 300,
  time: 1795238300,
  masters: [{ pid: 8511, ppid: 1, state: 'S', start: 1000, title: 'WorkerMan: master process  start_file=/srv/app/start.php' }],
  workers: [
    { pid: 8621, ppid: 8511, state: 'S', start: 29000, title: 'WorkerMan: worker process  web http://127.0.0.1:18080' },
    { pid: 8516, ppid: 8511, state: 'R', start: 2000, title: 'WorkerMan: worker process  gateway websocket://127.0.0.1:18090' },
    { pid: 8700, ppid: 8511, state: 'Z', start: 29500, title: '' },
  ],
  ...extra,
});

test('process facts: start times become host Unix time, /proc states say what a worker is doing, zombies are dropped, no crash figures are invented', () => {
  const snapshot = snapshotFromProcesses(probe(), true);
  assert.equal(snapshot.at, 1795238300);
  assert.deepEqual(snapshot.masters, [{ pid: 8511, startedAt: 1795238010 }]);
  assert.deepEqual(snapshot.workers, [
    { pid: 8621, group: 'web', listen: 'http://127.0.0.1:18080', startedAt: 1795238290, activity: 'sleeping' },
    { pid: 8516, group: 'gateway', listen: 'websocket://127.0.0.1:18090', startedAt: 1795238020, activity: 'running' },
  ]);
  assert.equal(snapshot.crashExits, undefined);
  assert.equal(snapshot.reloadStarted, true);
  assert.equal('reloadStarted' in snapshotFromProcesses(probe(), undefined), false);
});

test('http facts: JSON first, /proc fills the gaps, whole-second start times cover their second', () => {
  const status = parseHttpStatus(
    JSON.stringify({
      master_pid: 8511,
      workers: [
        { pid: 8621, name: 'web', started_at: 1795238290, revision: 'abc' },
        { pid: 8516, reloadable: false, started_at: 1795238020.25 },
        { pid: 9999 },
      ],
    }),
  );
  const snapshot = snapshotFromHttp(probe({ http: { status: 200, body: '', master_alive: true } }), status, undefined);
  assert.deepEqual(snapshot.masters, [{ pid: 8511, startedAt: 1795238010 }]);
  assert.deepEqual(
    snapshot.workers.map((w) => [w.pid, w.group, w.startedAt, w.reloadable, w.revision]),
    [
      [8621, 'web', 1795238290.999, true, 'abc'],
      [8516, 'gateway', 1795238020.25, false, undefined],
      [9999, 'workers', 1795238300, true, undefined],
    ],
  );
});

test('http facts: a master_pid the probe found dead is no master', () => {
  const status = parseHttpStatus('{"master_pid": 8511, "workers": [{"pid": 8621}]}');
  assert.deepEqual(snapshotFromHttp(probe({ http: { status: 200, body: '', master_alive: false } }), status, undefined).masters, []);
});

test('a group name holding a newline is read whole from its title, not left as an unparsed title', () => {
  const snapshot = snapshotFromProcesses(
    probe({ workers: [{ pid: 8516, ppid: 8511, state: 'S', start: 2000, title: 'WorkerMan: worker process  g\nw websocket://127.0.0.1:18090' }] }),
    undefined,
  );
  assert.equal(snapshot.workers[0]!.group, 'g\nw');
  assert.equal(snapshot.workers[0]!.listen, 'websocket://127.0.0.1:18090');
});
