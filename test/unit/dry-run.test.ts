import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  batchPositions,
  describePlan,
  DRY_RUN_NAMES_SHOWN,
  dryRunUnknowns,
  FileTally,
  plannedAction,
  plannedCommands,
  plannedGroups,
} from '../../src/engine/plan/dry-run.js';
import { NO_MASTER_CHANGE } from '../../src/engine/plan/master-change.js';
import { planReload } from '../../src/engine/plan/reload-plan.js';
import type { DryRunPlan } from '../../src/engine/report/report.js';
import type { WorkerDefinition } from '../../src/engine/workers/worker-definitions.js';

test('files: what the source has would be written, what it lacks would be deleted; counts go past the names shown', () => {
  const source = new Set(['start.php', 'src/Handler.php', 'public/logo.svg']);
  const tally = new FileTally((path) => source.has(path) || path.startsWith('big/'));
  for (const path of ['src/Handler.php', 'old.php', 'public/logo.svg', 'gone/', 'gone/a.php']) tally.add(path);
  assert.deepEqual(tally.files, {
    changed: 2,
    deleted: 3,
    changedNames: ['src/Handler.php', 'public/logo.svg'],
    deletedNames: ['old.php', 'gone/', 'gone/a.php'],
  });

  for (let i = 0; i < DRY_RUN_NAMES_SHOWN + 7; i++) tally.add(`big/file${i}.php`);
  const { changed, changedNames, deleted } = tally.files;
  assert.equal(changed, 2 + DRY_RUN_NAMES_SHOWN + 7, 'every change counted');
  assert.equal(changedNames.length, DRY_RUN_NAMES_SHOWN, 'names stop at the limit');
  assert.deepEqual(changedNames.slice(0, 3), ['src/Handler.php', 'public/logo.svg', 'big/file0.php'], 'in the order rsync named them');
  assert.equal(deleted, 3);
});

test('batch order: the canary first and alone, then max-parallel at a time, as the fleet runs them', () => {
  const hosts = ['web1', 'web2', 'web3', 'web4', 'web5'];
  const withCanary = batchPositions(hosts, 2, true);
  assert.deepEqual(
    hosts.map((host) => withCanary.get(host)),
    [
      { index: 1, of: 3, canary: true },
      { index: 2, of: 3, canary: false },
      { index: 2, of: 3, canary: false },
      { index: 3, of: 3, canary: false },
      { index: 3, of: 3, canary: false },
    ],
  );
  const plain = batchPositions(hosts, 3, false);
  assert.deepEqual(
    hosts.map((host) => plain.get(host)!.index),
    [1, 1, 1, 2, 2],
  );
  // One host is never a canary: there is nobody to protect.
  assert.deepEqual(batchPositions(['solo'], 1, true).get('solo'), { index: 1, of: 1, canary: false });
});

test('reload, restart or refuse, as on-master-change decides from what a dry run can see', () => {
  assert.equal(plannedAction(NO_MASTER_CHANGE, 'restart').action, 'reload');
  assert.match(plannedAction(NO_MASTER_CHANGE, 'fail').actionBecause, /no master-level file would change/);

  const files = { files: ['start.php'], definitions: [], stale: [] };
  const restart = plannedAction(files, 'restart');
  assert.equal(restart.action, 'restart');
  assert.match(restart.actionBecause, /master-level file\(s\) changed: start\.php \(on-master-change: restart\)/);
  const reload = plannedAction(files, 'reload');
  assert.equal(reload.action, 'reload');
  assert.match(reload.actionBecause, /on-master-change: reload reloads anyway/);
  const refuse = plannedAction(files, 'fail');
  assert.equal(refuse.action, 'refuse');
  assert.match(refuse.actionBecause, /on-master-change: fail would stop the deploy before changing anything/);

  // A stale master needs a restart even when the sync changes nothing master-level.
  const stale = plannedAction(
    { files: [], definitions: [], stale: ['config/boot.php'], evidence: { 'config/boot.php': 'its content differs from what the running master loaded' } },
    'restart',
  );
  assert.equal(stale.action, 'restart');
  assert.match(stale.actionBecause, /did not load the current config\/boot\.php \(its content differs from what the running master loaded\)/);
});

test("what a dry run cannot know: the new definitions after a sync, the snapshot's files on a rollback, and always the reload itself", () => {
  const sync = dryRunUnknowns('sync');
  assert.match(sync.join('\n'), /worker definitions .* read from the synced tree/);
  assert.match(sync.join('\n'), /nothing is verified/);
  assert.doesNotMatch(dryRunUnknowns('none').join('\n'), /synced tree|snapshot/);
  assert.match(dryRunUnknowns('rollback').join('\n'), /which files the snapshot would put back/);
});

test('groups: replaced ones by name, kept ones with why', () => {
  const group = (name: string, listen: string, reloadable = true): WorkerDefinition => ({
    class: 'Workerman\\Worker',
    name,
    count: 1,
    listen,
    reloadable,
    user: '',
  });
  const plan = planReload(
    { groups: [group('web', 'http://0.0.0.0:8080'), group('gateway', 'websocket://0.0.0.0:8090', false), group('cron', 'none')] },
    { reloadMode: 'auto', ignoreWorkers: ['cron'] },
  );
  assert.deepEqual(plannedGroups(plan), {
    replacedGroups: ['web'],
    keptGroups: [
      { group: 'gateway', keptBecause: 'reloadable = false' },
      { group: 'cron', keptBecause: 'ignore-workers' },
    ],
  });
});

test("the plan's log line: batch, files with the rest counted, and the action with its reason", () => {
  const plan: DryRunPlan = {
    batch: { index: 1, of: 2, canary: true },
    files: { changed: 3, deleted: 1, changedNames: ['a.php', 'b.php'], deletedNames: ['old.php'] },
    action: 'reload',
    actionBecause: 'no master-level file would change',
    masterChange: NO_MASTER_CHANGE,
    reloadMode: 'graceful',
    reloadModeReason: 'auto: web listens',
    replacedGroups: ['web'],
    keptGroups: [],
    commands: [],
    unknown: [],
  };
  assert.equal(
    describePlan('web1', plan),
    'web1: dry run: batch 1 of 2 (the canary); would write 3 file(s) (a.php, b.php and 1 more) and delete 1 (old.php); then reload (graceful: auto: web listens), because no master-level file would change',
  );
  const restart = describePlan('web2', {
    ...plan,
    batch: { index: 2, of: 2, canary: false },
    files: { changed: 0, deleted: 0, changedNames: [], deletedNames: [] },
    action: 'restart',
    actionBecause: 'start.php changed',
  });
  assert.equal(restart, 'web2: dry run: batch 2 of 2; would write 0 file(s) and delete 0; then restart, because start.php changed');
  const withCommands = describePlan('web3', { ...plan, commands: ['before-reload on the host: php migrate.php'] });
  assert.match(withCommands, /; would run: before-reload on the host: php migrate\.php$/);
});

test('the commands a deploy would run, in their order; a drain only around a restart unless drain: always; before-reload only where it runs', () => {
  const settings = {
    drain: { command: 'lb out', undrainCommand: 'lb in', waitMs: 0, when: 'restart' as const },
    hooks: { beforeReload: 'php migrate.php\nphp seed.php', beforeReloadOn: 'first' as const, afterReload: 'curl -s localhost/warm', timeoutMs: 1000 },
  };
  assert.deepEqual(plannedCommands(settings, 'restart', true), [
    'before-reload on the host: php migrate.php; php seed.php',
    'drain-command on the runner: lb out',
    'after-reload on the host: curl -s localhost/warm',
    'undrain-command on the runner: lb in',
  ]);
  assert.deepEqual(plannedCommands(settings, 'reload', false), ['after-reload on the host: curl -s localhost/warm']);
  assert.deepEqual(plannedCommands({ ...settings, drain: { ...settings.drain, when: 'always' } }, 'reload', true).slice(0, 2), [
    'drain-command on the runner: lb out',
    'before-reload on the host: php migrate.php; php seed.php',
  ]);
  assert.deepEqual(plannedCommands(settings, 'refuse', true), [
    'before-reload on the host: php migrate.php; php seed.php',
    'after-reload on the host: curl -s localhost/warm',
  ]);
  assert.equal(
    plannedCommands({ ...settings, hooks: { ...settings.hooks, beforeReload: 'x'.repeat(300) } }, 'reload', true)[0]!.length,
    'before-reload on the host: '.length + 120,
  );
});
