import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crashExitsByGroup, parseStatusTable, StatusParseError } from '../../src/workerman/status-table.js';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '../fixtures', name), 'utf8');

test('Workerman 5 table with three groups: every process row, its group and its connections', () => {
  const report = parseStatusTable(fixture('status-v5-three-groups.txt'));
  assert.equal(report.running, true);
  if (!report.running) return;
  assert.equal(report.workermanVersion, '5.2.2');
  assert.deepEqual(
    report.processes.map((row) => [row.pid, row.group, row.listening, row.connections, row.state]),
    [
      [8513, 'web', 'http://127.0.0.1:18080', 0, 'idle'],
      [8514, 'web', 'http://127.0.0.1:18080', 0, 'idle'],
      [8515, 'web', 'http://127.0.0.1:18080', 0, 'idle'],
      [8516, 'gateway', 'websocket://127.0.0.1:18090', 0, 'idle'],
      [8517, 'gateway', 'websocket://127.0.0.1:18090', 0, 'idle'],
      [8518, 'task', 'none', 0, 'idle'],
    ],
  );
  assert.deepEqual(report.exits, [
    { group: 'web', exitStatus: 0, exitCount: 0 },
    { group: 'gateway', exitStatus: 0, exitCount: 0 },
    { group: 'task', exitStatus: 0, exitCount: 0 },
  ]);
});

test('crash-loop table: busy rows read as unknown figures, and crash exits are counted per group', () => {
  const report = parseStatusTable(fixture('status-v5-crash-loop.txt'));
  assert.equal(report.running, true);
  if (!report.running) return;
  const busy = report.processes.filter((row) => row.state === 'busy');
  assert.deepEqual(busy.map((row) => row.pid), [8621, 8622, 8623]);
  assert.ok(busy.every((row) => row.connections === null && row.group === 'web'));
  assert.deepEqual([...crashExitsByGroup(report.exits)], [['web', 3]]);
});

test('Workerman 4 table: worker_name columns and other widths are read by header', () => {
  const v4 = [
    'Workerman[start.php] status',
    '----------------------------------------------GLOBAL STATUS----------------------------------------------------',
    'Workerman version:4.2.1          PHP version:8.2.35',
    'start time:2026-11-21 05:09:57   run 0 days 0 hours',
    'load average: 0.08, 0.12, 0.1    event-loop:\\Workerman\\Events\\Select',
    '2 workers       3 processes',
    'worker_name  exit_status      exit_count',
    'my web       0                4',
    'my web       250              2',
    'my web       9                5',
    'task         0                0',
    '----------------------------------------------PROCESS STATUS---------------------------------------------------',
    'pid\tmemory  listening                worker_name  connections send_fail timers  total_request qps    status',
    '17383\t2M      http://0.0.0.0:2345      my web       3           0         1       12            0      [idle]',
    '17384\tN/A     http://0.0.0.0:2345      my web       N/A         N/A       N/A     N/A           N/A    [busy]',
    '17385\t2M      none                     task         0           0         0       0             0      [idle]',
    '----------------------------------------------PROCESS STATUS---------------------------------------------------',
    'Summary\t4M      -                        -            3           0         1       12            0      [Summary]',
  ].join('\n');
  const report = parseStatusTable(v4);
  assert.equal(report.running, true);
  if (!report.running) return;
  assert.equal(report.workermanVersion, '4.2.1');
  assert.deepEqual(
    report.processes.map((row) => [row.pid, row.group, row.connections, row.totalRequests]),
    [
      [17383, 'my web', 3, 12],
      [17384, 'my web', null, null],
      [17385, 'task', 0, 0],
    ],
  );
  assert.deepEqual([...crashExitsByGroup(report.exits)], [['my web', 2]]);
});

test('"not run" is reported as not running, whatever the exit code said', () => {
  const report = parseStatusTable('Workerman[start.php] not run\n');
  assert.deepEqual(report, { running: false, text: 'Workerman[start.php] not run' });
});

test('garbage and truncated tables are parse errors, never an empty success', () => {
  assert.throws(() => parseStatusTable(''), StatusParseError);
  assert.throws(() => parseStatusTable('PHP Fatal error: something\n'), /no PROCESS STATUS section/);
  const truncated = fixture('status-v5-three-groups.txt').split('\n').slice(0, 11).join('\n');
  assert.throws(() => parseStatusTable(truncated), /no process table/);
  const mangled = fixture('status-v5-three-groups.txt').replace('8514\t1.13M', 'abc\t1.13M');
  assert.throws(() => parseStatusTable(mangled), /not "pid ... name ..."/);
});
