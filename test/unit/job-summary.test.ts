import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countOutputs, tallyHosts, tallyLine, whyNotOk } from '../../src/engine/report/host-outcome.js';
import { jobSummary, markdownCell } from '../../src/action/job-summary.js';
import type { HostReport, Phase } from '../../src/engine/report/report.js';
import { mermaidText, rolloutGantt } from '../../src/action/rollout-gantt.js';

/**
 * The job summary and the timeline, rendered from reports alone: the table's
 * figures per host, the totals, the gantt chart's sections and failures,
 * and host text that must not break either out of its cell or line.
 */

const T0 = Date.UTC(2026, 0, 15, 9, 30, 0);
const phase = (name: Phase['name'], from: number, to: number, ok = true): Phase => ({ name, start: T0 + from, end: T0 + to, ok });
const SHA = '0123456789abcdef0123456789abcdef01234567';

const okHost: HostReport = {
  host: 'deploy@web1:22',
  ok: true,
  status: 'ok',
  step: 'done',
  action: 'reload',
  reloadMode: 'graceful',
  reloadModeReason: 'a replaced group listens (web)',
  filesChanged: true,
  signalled: true,
  sync: { filesTransferred: 3, filesDeleted: 1 },
  replaced: [
    { group: 'web', oldPid: 11 },
    { group: 'web', oldPid: 12 },
    { group: 'task', oldPid: 13 },
  ],
  replacement: { replaced: 3, of: 3 },
  kept: [{ pid: 10, group: 'gateway', keptBecause: 'reloadable = false' }],
  durationMs: 2100,
  revision: SHA,
  phases: [phase('preflight', 0, 300), phase('snapshot', 300, 350), phase('sync', 350, 900), phase('reload', 900, 1000), phase('verify', 1000, 2100)],
};

const crashed: HostReport = {
  host: 'deploy@web2:22',
  ok: false,
  status: 'rolled-back',
  step: 'verify',
  reason: 'crash-loop',
  error: 'web workers crash-loop: 9 exits in 2 s',
  action: 'reload',
  reloadMode: 'graceful',
  filesChanged: true,
  signalled: true,
  sync: { filesTransferred: 3, filesDeleted: 0 },
  replacement: { replaced: 1, of: 3 },
  stillOld: [
    { pid: 22, group: 'web' },
    { pid: 23, group: 'task' },
  ],
  appErrors: ['PHP Fatal error:  Uncaught Error: boom in /srv/app/src/handler.php:2 (×9)'],
  rollback: { ok: true, snapshot: '/srv/.app.graceful-reload/snapshots/1', action: 'reload' },
  durationMs: 5400,
  revision: SHA,
  phases: [
    phase('preflight', 0, 320),
    phase('sync', 2100, 2600),
    phase('reload', 2600, 2700),
    phase('verify', 2700, 5400, false),
    phase('rollback', 5400, 8000),
  ],
};

const skipped: HostReport = {
  host: 'deploy@web3:22',
  ok: false,
  status: 'skipped',
  step: 'preflight',
  skippedBecause: 'the failure budget (max-failures: 0) was exceeded before this host started',
  error: 'the failure budget (max-failures: 0) was exceeded before this host started',
  filesChanged: false,
  signalled: false,
  durationMs: 0,
  revision: SHA,
  phases: [phase('preflight', 0, 310)],
};

/** The table's rows (header and separator left out), each split into its cells at the unescaped pipes. */
function tableRows(markdown: string): string[][] {
  const rows = markdown.split('\n').filter((line) => line.startsWith('| '));
  assert.ok(rows.length >= 2, `a table:\n${markdown}`);
  return rows.slice(2).map((line) => line.slice(2, -2).split(/(?<!\\) \| /));
}

test('the table: one row per host with its result, workers, files, reload, duration, revision and why, then the totals', () => {
  const markdown = jobSummary([okHost, crashed, skipped], 9000);
  const [one, two, three, total, ...more] = tableRows(markdown);
  assert.deepEqual(more, []);
  assert.deepEqual(one, [
    'deploy@web1:22',
    '✅ ok',
    '3 (web 2, task 1)',
    '1 (gateway: reloadable = false)',
    '3 / 1',
    'graceful reload (a replaced group listens (web))',
    '2.1 s',
    '0123456789ab',
    '',
  ]);
  assert.equal(two![1], '↩️ rolled back');
  assert.equal(two![2], '1 of 3; still old: web 1, task 1');
  assert.equal(two![4], '3 / 0');
  assert.equal(two![6], '5.4 s');
  assert.equal(two![8], 'verify failed (crash-loop): web workers crash-loop: 9 exits in 2 s; rollback to the snapshot: done and verified');
  assert.deepEqual([three![1], three![2], three![4], three![6]], ['⏭️ skipped', '—', 'none', '—']);
  assert.match(three![8]!, /failure budget \(max-failures: 0\) was exceeded/);
  assert.deepEqual(total, ['**Total: 3**', '1 ok, 1 rolled back, 1 skipped', '4', '1', '6 / 1', '', '9.0 s in all', '0123456789ab', '']);
  assert.match(markdown, /^3 host\(s\) in 9\.0 s: 1 succeeded, 0 failed, 1 rolled back, 1 skipped$/m);
});

test('a restart row says all workers were replaced by it, and why it restarted', () => {
  const restarted: HostReport = {
    host: 'web4',
    ok: true,
    status: 'ok',
    step: 'done',
    action: 'restart',
    restartBecause: {
      files: ['start.php'],
      definitions: [],
      stale: ['config.php'],
      evidence: {
        'start.php': 'changed by this deploy; the master loaded it at top level and no worker reads it again at start',
        'config.php': 'config.php is newer than the master, and there is no record of what the master loaded: a guess',
      },
    },
    filesChanged: true,
    signalled: true,
    sync: { filesTransferred: 1, filesDeleted: 0 },
    workers: [
      { pid: 31, group: 'web' },
      { pid: 32, group: 'web' },
    ],
    durationMs: 4000,
  };
  const [row] = tableRows(jobSummary([restarted], 4000));
  assert.equal(row![2], 'all, by a restart: 2 new (web 2)');
  assert.equal(
    row![5],
    'restart (master-level file(s) changed: start.php (changed by this deploy; the master loaded it at top level and no worker reads it again at start); ' +
      'the running master did not load the current config.php (config.php is newer than the master, and there is no record of what the master loaded: a guess): ' +
      'an earlier deploy reloaded where a restart was needed)',
  );
  assert.equal(row![7], '—', 'no revision given');
});

test("a restart row gives what it cost and the drain; a host left drained says so, with the failed command's last lines", () => {
  const base: HostReport = {
    host: 'web1',
    ok: true,
    status: 'ok',
    step: 'done',
    action: 'restart',
    restartBecause: { files: ['start.php'], definitions: [], stale: [] },
    filesChanged: true,
    signalled: true,
    durationMs: 3000,
  };
  const drained: HostReport = {
    ...base,
    restartCost: { unservedMs: 144, stopMs: 40, connectionsClosed: 1, killedAfterStopTimeout: 0 },
    leftDrained: false,
    commands: [
      { name: 'drain', ok: true, exit: 'exit 0', durationMs: 8, lastLines: [] },
      { name: 'undrain', ok: true, exit: 'exit 0', durationMs: 9, lastLines: [] },
    ],
  };
  const left: HostReport = {
    ...base,
    host: 'web2',
    ok: false,
    status: 'failed',
    step: 'drain',
    restartCost: { unservedMs: null, stopMs: 30, connectionsClosed: null, killedAfterStopTimeout: 2 },
    leftDrained: true,
    commands: [
      { name: 'drain', ok: true, exit: 'exit 0', durationMs: 8, lastLines: [] },
      { name: 'undrain', ok: false, exit: 'exit 7', durationMs: 9, lastLines: ['socat: connection refused'] },
    ],
  };
  const summary = jobSummary([drained, left], 6000);
  const [first, second] = tableRows(summary);
  assert.equal(
    first![5],
    'restart (master-level file(s) changed: start.php); ports unserved 144 ms, 1 client connection(s) closed; drain exit 0, undrain exit 0',
  );
  assert.equal(
    second![5],
    'restart (master-level file(s) changed: start.php); 2 worker(s) killed after stop-timeout; LEFT DRAINED (drain exit 0, undrain exit 7)',
  );
  assert.match(summary, /### What the commands said[\s\S]*web2: undrain exit 7, its last lines[\s\S]*socat: connection refused/);
  assert.doesNotMatch(summary, /web1: (un)?drain exit/, 'commands that succeeded are not quoted');
});

test("a dry run's host shows its plan: planned, the groups it would replace and keep, the files, the action and its batch", () => {
  const planned: HostReport = {
    host: 'web5',
    ok: true,
    status: 'planned',
    step: 'done',
    filesChanged: false,
    signalled: false,
    durationMs: 800,
    dryRun: {
      batch: { index: 1, of: 2, canary: true },
      files: { changed: 4, deleted: 1, changedNames: ['src/a.php'], deletedNames: ['old.php'] },
      action: 'reload',
      actionBecause: 'no master-level file would change',
      masterChange: { files: [], definitions: [], stale: [] },
      commands: [],
      reloadMode: 'graceful',
      reloadModeReason: 'web listens',
      replacedGroups: ['web', 'task'],
      keptGroups: [{ group: 'gateway', keptBecause: 'reloadable = false' }],
      unknown: ['whether the new workers start'],
    },
  };
  const [row] = tableRows(jobSummary([planned], 800));
  assert.deepEqual(row, [
    'web5',
    '📝 planned',
    'would replace: web, task',
    'gateway: reloadable = false',
    'would be 4 / 1',
    'would reload (no master-level file would change), in batch 1 of 2 as the canary',
    '800 ms',
    '—',
    '',
  ]);
});

test('host text cannot leave its cell: pipes and Markdown escaped, line breaks sealed, HTML inert', () => {
  const hostile: HostReport = {
    ...crashed,
    host: 'evil|host',
    error: 'line one\nline two | <img src=x onerror=alert(1)> **bold** `code` [link](http://x)\r\n::error::x',
    appErrors: ['Fatal ``` fence ```` breaker', '</details><script>x</script>'],
  };
  const markdown = jobSummary([hostile], 1000);
  const [row] = tableRows(markdown);
  assert.equal(row!.length, 9, `nine cells: ${JSON.stringify(row)}`);
  assert.equal(row![0], 'evil\\|host');
  assert.ok(!/[\r\n]/.test(row![8]!), 'one line');
  assert.match(row![8]!, /line one⏎line two \\\| \\<img src=x onerror=alert\(1\)\\> \\\*\\\*bold\\\*\\\* \\`code\\` \\\[link\\\]\(http:\/\/x\)⏎/);
  // Outside code blocks (where it is shown as text) no tag of the host's survives.
  assert.doesNotMatch(markdown.replace(/\n(`{3,})\w*\n[\s\S]*?\n\1\n/g, '\n'), /(?<!\\)<(img|script)/);
  // The app's lines sit in a code block whose fence no line inside can close.
  const block = /\n(`{5,})text\n([\s\S]*?)\n\1\n/.exec(markdown);
  assert.ok(block, `a fenced block longer than any backtick run inside:\n${markdown}`);
  assert.deepEqual(block[2]!.split('\n'), ['Fatal ``` fence ```` breaker', '</details><script>x</script>']);
  assert.match(markdown, /<summary>evil\|host: 2 PHP error line\(s\)/);
});

test('markdownCell cuts long text and marks the cut', () => {
  const cell = markdownCell('x'.repeat(700), 600);
  assert.equal(cell, `${'x'.repeat(600)}…`);
});

test('the timeline: a section per host with a bar per phase, failures crit, the rollback active, times on the UTC clock', () => {
  const chart = rolloutGantt([okHost, crashed, skipped, { ...skipped, host: 'never-reached', phases: [] }]);
  assert.ok(chart);
  const lines = chart.split('\n');
  assert.deepEqual(lines.slice(0, 5), [
    'gantt',
    '    title Rollout timeline (UTC)',
    '    dateFormat YYYY-MM-DD HH:mm:ss.SSS',
    '    axisFormat %H:%M:%S',
    '    todayMarker off',
  ]);
  const sections = lines.filter((line) => line.trimStart().startsWith('section '));
  assert.deepEqual(
    sections,
    ['    section deploy@web1∶22', '    section deploy@web2∶22', '    section deploy@web3∶22'],
    'a host without phases gets no section',
  );
  const barsOf = (host: number) => {
    const start = lines.indexOf(sections[host]!);
    const end = host + 1 < sections.length ? lines.indexOf(sections[host + 1]!) : lines.length;
    return lines.slice(start + 1, end).map((line) => line.trim());
  };
  assert.deepEqual(barsOf(0)[0], 'preflight :2026-01-15 09:30:00.000, 2026-01-15 09:30:00.300');
  assert.deepEqual(
    barsOf(0).map((bar) => bar.split(' :')[0]),
    ['preflight', 'snapshot', 'sync', 'reload', 'verify'],
  );
  assert.ok(
    barsOf(0).every((bar) => !bar.includes('crit')),
    'no failure on the ok host',
  );
  assert.deepEqual(barsOf(1).slice(3), [
    'verify (failed) :crit, 2026-01-15 09:30:02.700, 2026-01-15 09:30:05.400',
    'rollback :active, 2026-01-15 09:30:05.400, 2026-01-15 09:30:08.000',
  ]);
  assert.deepEqual(barsOf(2), ['preflight :2026-01-15 09:30:00.000, 2026-01-15 09:30:00.310']);
  assert.equal(rolloutGantt([{ ...skipped, phases: [] }]), undefined, 'no chart without a phase');
});

test('the summary draws the timeline in a mermaid block', () => {
  const markdown = jobSummary([okHost, crashed], 9000);
  assert.match(markdown, /### Timeline\n\n```mermaid\ngantt\n[\s\S]*section deploy@web2∶22\n[\s\S]*verify \(failed\) :crit[\s\S]*\n```\n/);
});

test('mermaidText: what Mermaid reads as syntax becomes a look-alike, on one line', () => {
  assert.equal(mermaidText('a:b;c#d%e<f>\ng'), 'a∶b⁏c♯d％e‹f›⏎g');
  assert.equal(mermaidText('   '), '?');
});

test('the counts: rolled back counts as failed, cancelled as skipped, planned as succeeded; they add up to the hosts', () => {
  const cancelled: HostReport = { ...skipped, status: 'cancelled' };
  const failed: HostReport = { ...crashed, status: 'failed', rollback: undefined };
  const planned: HostReport = { ...okHost, status: 'planned' };
  const tally = tallyHosts([okHost, crashed, skipped, cancelled, failed, planned]);
  assert.deepEqual(countOutputs(tally), { succeeded: 2, failed: 2, skipped: 2 });
  assert.equal(tallyLine(tally, 61_000), '6 host(s) in 1 min 1 s: 1 succeeded, 1 failed, 1 rolled back, 1 skipped, 1 cancelled, 1 planned');
});

test('why a host is not ok, in one line: the step, the reason, what was left, the rollback; and the rollback: all case', () => {
  assert.equal(whyNotOk(okHost), '');
  assert.equal(
    whyNotOk({ ...crashed, status: 'failed', rollback: undefined, filesChanged: false, step: 'preflight', reason: undefined, error: 'boom' }),
    'preflight failed: boom (no file on this host was changed)',
  );
  assert.equal(
    whyNotOk({ ...okHost, status: 'rolled-back', rollback: { ok: true, snapshot: 's' } }),
    'succeeded, then was rolled back because another host failed (rollback: all); rollback to the snapshot: done and verified',
  );
});
