import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHostSpec } from '../../src/engine/inputs/host-spec.js';
import { type CommandResult, type RemoteShell, type SyncSummary } from '../../src/engine/ports.js';
import { StepError } from '../../src/engine/step-error.js';
import type { HostReport } from '../../src/engine/report/report.js';
import type { HostSnapshot, WorkerProcess } from '../../src/engine/workers/worker-snapshot.js';
import { rolloutHost } from '../../src/rollout/host-rollout.js';
import type { HostRolloutIO, StatusSourceSetup } from '../../src/rollout/context.js';
import type { StatusSource } from '../../src/status/status-source.js';
import { recordingLog, testSettings } from './local-host.js';

/**
 * One host's rollout against a fake shell and scripted snapshots: the order of
 * the steps, what each sends, and what the report says. The real shell, sync
 * and status source are tested end to end on the rig.
 */

const host = parseHostSpec('deploy@web1:22', { username: 'root', port: 22 });
// The default source: /proc and the app log, which this app keeps under runtime/.
const settings = testSettings({ commandTimeoutMs: 5000, status: 'workerman' });

const definitions = (extra: Record<string, unknown> = {}) =>
  '@@graceful-reload-definitions@@' +
  JSON.stringify({
    php: '8.2.0',
    workerman: '5.2.2',
    appDir: '/srv/app',
    startFile: '/srv/app/start.php',
    pidFile: '/srv/app/runtime/app.pid',
    logFile: '/srv/app/runtime/logs/workerman.log',
    statusFile: '/srv/app/runtime/app.status',
    stdoutFile: '/dev/null',
    stopTimeout: 2,
    groups: [
      { class: 'GatewayWorker\\Register', name: 'Register', count: 1, reloadable: false, listen: 'text://127.0.0.1:1238', user: '' },
      { class: 'GatewayWorker\\BusinessWorker', name: 'BusinessWorker', count: 2, reloadable: true, listen: 'none', user: '' },
    ],
    includedFiles: ['/srv/app/start.php'],
    fileTimes: { '/srv/app/start.php': 1 },
    opcache: { enableCli: false, validateTimestamps: true, loaded: true },
    ...extra,
  });

interface Fake {
  readonly commands: string[];
  readonly syncs: (readonly string[])[];
  readonly setups: StatusSourceSetup[];
  readonly lines: string[];
  readonly io: HostRolloutIO;
}

/** `answer` maps a command to its result; snapshots are handed out in order, the last one repeating; the sync "changes" `changed`, and says `summary`. */
function fake(
  answer: (command: string) => Partial<CommandResult>,
  snapshots: HostSnapshot[],
  changed: readonly string[] = ['src/handler.php'],
  summary: Partial<SyncSummary> = {},
): Fake {
  const commands: string[] = [];
  const syncs: (readonly string[])[] = [];
  const setups: StatusSourceSetup[] = [];
  const lines: string[] = [];
  let clock = 0;
  let polled = 0;
  const shell: RemoteShell = {
    run: async (command) => {
      commands.push(command);
      return { stdout: '', stderr: '', code: 0, ...answer(command) };
    },
    close: async () => undefined,
  };
  const source: StatusSource = {
    snapshot: async () => snapshots[Math.min(polled++, snapshots.length - 1)]!,
    markSignal: () => commands.push('(mark signal)'),
    logSinceSignal: () => '',
    stop: () => undefined,
  };
  const log = recordingLog(lines);
  const sync: SyncSummary = { filesTransferred: 3, filesDeleted: 0, ...summary };
  return {
    commands,
    syncs,
    setups,
    lines,
    io: {
      openShell: async () => shell,
      fileSync: (_shell, _settings, protect) => ({
        sync: async (options = {}) => {
          syncs.push(protect);
          commands.push(options.dryRun ? '(dry run)' : '(sync)');
          return { ...sync, watchedChanges: changed.filter((path) => options.watch?.(path) ?? false) };
        },
      }),
      statusSource: (_shell, setup) => {
        setups.push(setup);
        return source;
      },
      log,
      now: () => (clock += 100),
      sleep: async () => undefined,
    },
  };
}

const worker = (pid: number, group: string, listen: string, startedAt: number): WorkerProcess => ({ pid, group, listen, startedAt });
const register = worker(10, 'Register', 'text://127.0.0.1:1238', 1);
const oldWorkers = [register, worker(11, 'BusinessWorker', 'none', 1), worker(12, 'BusinessWorker', 'none', 2)];
const newWorkers = [register, worker(21, 'BusinessWorker', 'none', 51), worker(22, 'BusinessWorker', 'none', 52)];
const at = (time: number, workers: WorkerProcess[], masters: { pid: number; startedAt?: number }[] = [{ pid: 9 }]): HostSnapshot => ({
  at: time,
  masters,
  workers,
});
/** The report's timeline as `name:ok`, after checking the phases follow one another on the clock. */
function phasesOf(report: HostReport): string[] {
  const phases = report.phases ?? [];
  for (const [index, phase] of phases.entries()) {
    assert.ok(phase.start <= phase.end, `${phase.name} ends after it starts: ${JSON.stringify(phase)}`);
    if (index > 0) assert.ok(phase.start >= phases[index - 1]!.end, `${phase.name} starts after ${phases[index - 1]!.name} ends: ${JSON.stringify(phases)}`);
  }
  return phases.map((phase) => `${phase.name}:${phase.ok}`);
}

const answerAll = (command: string): Partial<CommandResult> =>
  command.includes('graceful-reload-definitions') ? { stdout: `Usage: ...\n${definitions()}\n` } : {};

/** The reload itself: a USR1 or USR2 sent straight to the master. */
const isReloadSignal = (command: string) => /^kill -s USR[12] \d+$/.test(command);

const command = (c: string) =>
  c.startsWith('(') ? c
  : isReloadSignal(c) ? 'reload'
  : c.includes('graceful-reload-definitions') ?
    c.includes('missing-target') ?
      'preflight'
    : 'definitions'
  : c.includes('save-environ') ? 'save-environ'
  : c.includes("' restart ") ? 'restart'
  : c.split(' ')[0];

test('GatewayWorker-like app: definitions read before and after the sync, runtime dir protected, quick reload, non-reloadable group kept', async () => {
  const f = fake(answerAll, [at(49, oldWorkers), at(50, oldWorkers), at(53, newWorkers), at(54, newWorkers)]);
  const report = await rolloutHost(host, settings, f.io);
  assert.equal(report.ok, true, report.error);
  assert.equal(report.reloadMode, 'quick');
  assert.deepEqual(report.kept, [{ pid: 10, group: 'Register', keptBecause: 'reloadable = false' }]);
  assert.deepEqual(report.replaced, [
    { group: 'BusinessWorker', oldPid: 11 },
    { group: 'BusinessWorker', oldPid: 12 },
  ]);
  assert.deepEqual(f.syncs, [['/runtime/***']]);
  assert.deepEqual(
    f.setups.map((s) => [s.pidFile, s.logFile]),
    [['/srv/app/runtime/app.pid', '/srv/app/runtime/logs/workerman.log']],
  );
  assert.deepEqual(f.commands.map(command), ['preflight', 'kill', '(sync)', 'definitions', '(mark signal)', 'reload']);
  assert.deepEqual(phasesOf(report), ['preflight:true', 'sync:true', 'reload:true', 'verify:true']);
  assert.deepEqual(report.replacement, { replaced: 2, of: 2 });
});

test('a sync that only gave new content to .php files the start script did not include keeps the definitions read before it', async () => {
  const definitionReads = (f: Fake) => f.commands.filter((c) => c.includes('graceful-reload-definitions')).length;
  const steady = () => [at(49, oldWorkers), at(50, oldWorkers), at(53, newWorkers), at(54, newWorkers)];
  const edits = fake(answerAll, steady(), ['src/handler.php'], { phpEditsOnly: true });
  const report = await rolloutHost(host, settings, edits.io);
  assert.equal(report.ok, true, report.error);
  assert.equal(definitionReads(edits), 1, 'read once, before the sync');
  assert.deepEqual(report.replacement, { replaced: 2, of: 2 });
  // Anything else may change what the start script defines: read again.
  const other = fake(answerAll, steady(), ['src/handler.php'], { phpEditsOnly: false });
  assert.equal((await rolloutHost(host, settings, other.io)).ok, true);
  assert.equal(definitionReads(other), 2);
  const master = fake(answerAll, steady(), ['start.php'], { phpEditsOnly: true });
  await rolloutHost(host, settings, master.io);
  assert.equal(definitionReads(master), 2, 'an included file changed');
});

test('a start script that cannot be loaded fails preflight quoting PHP, and nothing is synced', async () => {
  const broken = (command: string) =>
    command.includes('graceful-reload-definitions') ?
      { stdout: '', stderr: "PHP Parse error:  syntax error, unexpected '}' in /srv/app/start.php on line 9", code: 255 }
    : {};
  const f = fake(broken, [at(49, oldWorkers)]);
  const report = await rolloutHost(host, settings, f.io);
  assert.equal(report.ok, false);
  assert.equal(report.step, 'preflight');
  assert.match(
    report.error!,
    /start script could not be run.*PHP Parse error:  syntax error, unexpected '\}' in \/srv\/app\/start\.php on line 9; nothing was changed/,
  );
  assert.equal(report.filesChanged, false);
  assert.deepEqual(f.syncs, []);
  assert.deepEqual(phasesOf(report), ['preflight:false']);
});

test('a missing target is named by the layout check in the same round trip', async () => {
  const f = fake((command) => (command.includes('graceful-reload-definitions') ? { stdout: 'missing-target\n', code: 3 } : {}), [at(49, oldWorkers)]);
  const report = await rolloutHost(host, settings, f.io);
  assert.equal(report.step, 'preflight');
  assert.equal(report.error, 'the target directory /srv/app does not exist; nothing was changed');
});

test('new code whose start script breaks: caught after the sync, before any signal, and the report says files changed', async () => {
  let reads = 0;
  const answer = (command: string) => {
    if (!command.includes('graceful-reload-definitions')) return {};
    reads += 1;
    return reads === 1 ?
        { stdout: definitions() }
      : {
          stdout: `\n@@graceful-reload-definitions@@${JSON.stringify({ php: '8.2', error: 'Class "App\\Boot" not found in /srv/app/start.php on line 4' })}\n`,
        };
  };
  const f = fake(answer, [at(49, oldWorkers)]);
  const report = await rolloutHost(host, settings, f.io);
  assert.equal(reads, 2);
  assert.equal(report.step, 'sync');
  assert.equal(report.signalled, false);
  assert.equal(report.filesChanged, true);
  assert.match(report.error!, /Class "App\\Boot" not found.*no reload was sent.*files synced \(3 sent, 0 deleted\); no reload was signalled/);
  assert.ok(!f.commands.some(isReloadSignal), 'no reload signal');
  assert.deepEqual(phasesOf(report), ['preflight:true', 'sync:false']);
});

test('the master dies during the reload and its old workers live on: the report says they still serve and block a start', async () => {
  const answer = (command: string) => (command.includes('live-workers') ? { stdout: '10\n12\n' } : answerAll(command));
  const f = fake(answer, [at(49, oldWorkers), at(50, oldWorkers), at(51, [], [])]);
  const report = await rolloutHost(host, settings, f.io);
  assert.equal(report.reason, 'master-gone');
  assert.match(
    report.error!,
    /master process \(pid 9\) died during the reload; 2 of its workers still run without it \(BusinessWorker:12, Register:10\).*stop them before starting/,
  );
  assert.match(report.error!, /the reload was signalled; 0\/2 old workers replaced/);
  assert.deepEqual(phasesOf(report), ['preflight:true', 'sync:true', 'reload:true', 'verify:false']);
  assert.deepEqual(report.replacement, { replaced: 0, of: 2 });
});

/** What src/remote/restart.sh prints for a restart that went well: 180 ms unserved, one idle client closed. */
const RESTARTED =
  'connections=1\nsignalled=100000\nstopped=100060\nkilled=0\nstart-exit=0\nlistening=100180\nstart-output:\nWorkerman[start.php] start in DAEMON mode\n';

/** A host whose sync changes start.php and the web group's count (2 -> 1): a restart; `restart` answers the restart command. */
function restartingHost(restart: Partial<CommandResult> = { stdout: RESTARTED }) {
  let reads = 0;
  const answer = (c: string): Partial<CommandResult> => {
    if (c.includes('graceful-reload-definitions')) {
      reads += 1;
      const groups = [{ class: 'Workerman\\Worker', name: 'web', count: reads === 1 ? 2 : 1, reloadable: true, listen: 'http://0.0.0.0:8080', user: '' }];
      return { stdout: definitions({ groups }) };
    }
    return c.includes("' restart ") ? restart : {};
  };
  const web = (pid: number, startedAt: number) => worker(pid, 'web', 'http://0.0.0.0:8080', startedAt);
  return fake(
    answer,
    [
      at(49, [web(11, 1), web(12, 1)]),
      at(50, [web(11, 1), web(12, 1)]),
      at(51, [], []),
      at(52, [web(31, 51.5)], [{ pid: 30 }]),
      at(53, [web(31, 51.5)], [{ pid: 30 }]),
    ],
    ['start.php'],
  );
}

test('a changed worker count restarts the app in one command: stop, start -d, the new ports awaited; its cost in the report', async () => {
  const f = restartingHost();
  const report = await rolloutHost(host, { ...settings, settleMs: 500, stopTimeoutMs: 3000 }, f.io);
  assert.equal(report.ok, true, report.error);
  assert.equal(report.action, 'restart');
  assert.equal(report.previousMasterPid, 9);
  assert.equal(report.masterPid, 30);
  assert.deepEqual(report.restartCost, { unservedMs: 180, stopMs: 60, connectionsClosed: 1, killedAfterStopTimeout: 0 });
  assert.deepEqual(report.restartBecause?.files, ['start.php']);
  assert.deepEqual(report.restartBecause?.definitions, ['web http://0.0.0.0:8080: Workerman\\Worker count 2 -> Workerman\\Worker count 1']);
  assert.deepEqual(f.commands.map(command), ['preflight', 'kill', '(sync)', 'definitions', '(mark signal)', 'restart']);
  // The old master's pid, stop-timeout in ms, and the one TCP port of the new definitions.
  assert.match(
    f.commands.find((c) => c.includes("' restart "))!,
    /' restart 9 3000 \/srv\/app php start\.php 8080$/,
  );
  assert.deepEqual(phasesOf(report), ['preflight:true', 'sync:true', 'restart:true', 'verify:true']);
  assert.ok(
    f.lines.some((line) =>
      /warning: .*restarting the app \(master-level file\(s\) changed: start\.php \(changed by this deploy; the master loaded it at top level.*\); worker definitions changed.*Open connections are closed/.test(
        line,
      ),
    ),
    f.lines.join('\n'),
  );
  assert.ok(
    f.lines.some((line) => /started again \(ports unserved 180 ms, 1 client connection\(s\) closed\)/.test(line)),
    f.lines.join('\n'),
  );
});

test('a start -d that fails leaves the app stopped, and says so with what Workerman printed', async () => {
  const f = restartingHost({
    code: 255,
    stdout: 'connections=0\nsignalled=100000\nstopped=100050\nkilled=0\nstart-exit=255\nstart-output:\nPHP Parse error: syntax error in start.php on line 3\n',
  });
  const report = await rolloutHost(host, settings, f.io);
  assert.equal(report.ok, false);
  assert.equal(report.step, 'restart');
  assert.match(report.error!, /start -d" failed \(exit 255\): PHP Parse error: syntax error in start\.php on line 3\. The app is stopped/);
});

test('a master that cannot be signalled is reported as not stopped', async () => {
  const f = restartingHost({ code: 3, stdout: 'connections=0\nsignalled=100000\nsignal-failed\n' });
  const report = await rolloutHost(host, settings, f.io);
  assert.equal(report.step, 'restart');
  assert.match(report.error!, /could not be signalled to stop \(exit 3\); nothing was stopped/);
  assert.doesNotMatch(report.error!, /stopped for a restart/);
});

test('a drain that fails stops the host before anything is stopped; drain runs right before the stop', async () => {
  const f = restartingHost();
  const order: string[] = [];
  const drain = {
    before: async () => {
      order.push(`drain after ${f.commands.map(command).join(',')}`);
      throw new StepError('drain', 'drain-command exit 1; the host was not stopped');
    },
  };
  const report = await rolloutHost(host, settings, f.io, drain);
  assert.equal(report.ok, false);
  assert.equal(report.step, 'drain');
  assert.deepEqual(order, ['drain after preflight,kill,(sync),definitions']);
  assert.ok(!f.commands.some((c) => c.includes("' restart ")), 'never stopped');
});

test('on-master-change: fail stops before any file changes, from a dry run', async () => {
  const f = fake(answerAll, [at(49, oldWorkers)], ['start.php', 'src/handler.php']);
  const report = await rolloutHost(host, { ...settings, onMasterChange: 'fail' }, f.io);
  assert.equal(report.ok, false);
  assert.equal(report.step, 'preflight');
  assert.equal(report.filesChanged, false);
  assert.match(
    report.error!,
    /a reload cannot apply this deploy: master-level file\(s\) changed: start\.php \(changed by this deploy; the master loaded it at top level.*\)\. Nothing was changed \(on-master-change: fail\)/,
  );
  assert.deepEqual(f.commands.map(command), ['preflight', 'kill', '(dry run)']);
  // The refusal is a second look before any file changes, marked as a failed preflight.
  assert.deepEqual(phasesOf(report), ['preflight:true', 'preflight:false']);
});

test('on-master-change: reload goes on with a warning naming what stays old', async () => {
  const f = fake(answerAll, [at(49, oldWorkers), at(50, oldWorkers), at(53, newWorkers), at(54, newWorkers)], ['start.php']);
  const report = await rolloutHost(host, { ...settings, onMasterChange: 'reload' }, f.io);
  assert.equal(report.ok, true, report.error);
  assert.equal(report.action, 'reload');
  assert.ok(
    f.lines.some((line) =>
      /warning: .*reloading although master-level file\(s\) changed: start\.php \(changed by this deploy; .*\): the master keeps the old code/.test(line),
    ),
    f.lines.join('\n'),
  );
});

const HASH_V1 = '1'.repeat(64);
const HASH_V2 = '2'.repeat(64);
const hashed = (hash: string) =>
  definitions({ fileHashes: { '/srv/app/start.php': hash }, workerStart: { groups: [{ group: 1, reread: [] }], declaring: [] } });
/** The record command's JSON of files, as sent. */
const recordedFiles = (commands: string[]) => commands.filter((c) => c.includes(' graceful-reload-record ')).map((c) => /'(\{"\/[^']*\})'/.exec(c)?.[1]);

test('a proven reload of a master with no record, whose files are older than it: what it loaded is recorded, from before the sync', async () => {
  const answer = (c: string): Partial<CommandResult> =>
    c.includes('graceful-reload-definitions') ? { stdout: `${c.includes('missing-target') ? hashed(HASH_V1) : hashed(HASH_V2)}\n` } : {};
  const master = [{ pid: 9, startedAt: 40 }];
  const f = fake(answer, [at(49, oldWorkers, master), at(50, oldWorkers, master), at(53, newWorkers, master), at(54, newWorkers, master)]);
  const report = await rolloutHost(host, settings, f.io);
  assert.equal(report.ok, true, report.error);
  assert.equal(report.action, 'reload');
  assert.deepEqual(f.commands.map(command).slice(-2), ['reload', 'sh']);
  assert.deepEqual(recordedFiles(f.commands), [JSON.stringify({ '/srv/app/start.php': HASH_V1 })]);
  assert.match(f.commands.at(-1)!, / 9 /, 'the record names the master that was reloaded');
});

test('no record and a master-level file newer than the master: a restart that says it is a guess, then the new master is recorded', async () => {
  const answer = (c: string): Partial<CommandResult> =>
    c.includes('graceful-reload-definitions') ? { stdout: `${hashed(HASH_V1)}\n` }
    : c.includes("' restart ") ? { stdout: RESTARTED }
    : {};
  // start.php's time (1) is after the master's start (0.5): the only evidence there is.
  const restarted = [
    worker(40, 'Register', 'text://127.0.0.1:1238', 51.5),
    worker(41, 'BusinessWorker', 'none', 51.5),
    worker(42, 'BusinessWorker', 'none', 51.5),
  ];
  const f = fake(
    answer,
    [
      at(49, oldWorkers, [{ pid: 9, startedAt: 0.5 }]),
      at(50, oldWorkers, [{ pid: 9 }]),
      at(51, [], []),
      at(52, restarted, [{ pid: 30 }]),
      at(53, restarted, [{ pid: 30 }]),
    ],
    ['src/handler.php'],
  );
  const report = await rolloutHost(host, { ...settings, settleMs: 500 }, f.io);
  assert.equal(report.ok, true, report.error);
  assert.equal(report.action, 'restart');
  assert.deepEqual(report.restartBecause?.stale, ['start.php']);
  assert.match(
    report.restartBecause?.evidence?.['start.php'] ?? '',
    /^start\.php is newer than the master, and there is no record of what the master loaded: a guess/,
  );
  assert.deepEqual(f.commands.map(command).slice(-2), ['restart', 'sh']);
  assert.match(f.commands.at(-1)!, / 30 /);
});

test('a record of the running master: a file touched but unchanged is no change, a changed one is stale with its evidence', async () => {
  const record = (hash: string) =>
    `@@graceful-reload-record@@\n{"pid":9,"startTicks":"77","bootId":"b","files":{"/srv/app/start.php":"${hash}"}}\n@@graceful-reload-record-now@@ 77 b\n`;
  const run = async (recorded: string) => {
    const answer = (c: string): Partial<CommandResult> =>
      c.includes('graceful-reload-definitions') ? { stdout: `${hashed(HASH_V1)}\n${c.includes('missing-target') ? record(recorded) : ''}` } : {};
    // start.php's time (1) is after the master's start: the record, not the time, decides.
    const master = [{ pid: 9, startedAt: 0.5 }];
    const f = fake(
      answer,
      [at(49, oldWorkers, master), at(50, oldWorkers, master), at(53, newWorkers, master), at(54, newWorkers, master)],
      ['src/handler.php'],
      { phpEditsOnly: true },
    );
    return { f, report: await rolloutHost(host, { ...settings, onMasterChange: 'fail' }, f.io) };
  };
  const touched = await run(HASH_V1);
  assert.equal(touched.report.ok, true, touched.report.error);
  assert.equal(touched.report.action, 'reload');
  assert.deepEqual(recordedFiles(touched.f.commands), [], "the record stands: it is still the running master's");

  const changed = await run(HASH_V2);
  assert.equal(changed.report.ok, false);
  assert.match(
    changed.report.error ?? '',
    /the running master did not load the current start\.php \(its content differs from what the running master loaded; the master loaded it at top level and no worker reads it again at start/,
  );
});

test('a master running from another release (a switched symlink) is refused, naming both paths', async () => {
  const snapshot: HostSnapshot = { at: 49, masters: [], workers: [], elsewhere: [{ pid: 7, startFile: '/srv/releases/1/start.php' }] };
  const f = fake((c) => (c.includes('graceful-reload-definitions') ? { stdout: definitions({ startFile: '/srv/releases/2/start.php' }) } : {}), [snapshot]);
  const report = await rolloutHost(host, settings, f.io);
  assert.equal(report.step, 'preflight');
  assert.match(
    report.error!,
    /the master \(pid 7\) runs \/srv\/releases\/1\/start\.php, but \/srv\/app\/start\.php is \/srv\/releases\/2\/start\.php now.*a reload would keep loading the old release.*Nothing was changed/,
  );
  assert.deepEqual(f.syncs, []);
});
