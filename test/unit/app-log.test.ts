import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { phpErrors, reloadEvidence, sawReloadStart } from '../../src/engine/app-log.js';

const crashLog = readFileSync(join(import.meta.dirname, '../fixtures/log-v5-crash-loop.txt'), 'utf8');

test('the master\'s "reloading" line is recognised for that master only', () => {
  assert.equal(sawReloadStart(crashLog, 8511), true);
  assert.equal(sawReloadStart(crashLog, 8615), false, 'the reload command\'s own "reload" line is not the master acting');
  assert.equal(sawReloadStart('2026-11-21 05:10:04 pid:8615 Workerman[start2.php] reload\n', 8511), false);
});

test('PHP errors of a crash loop are quoted once each, with a count', () => {
  const errors = phpErrors(crashLog);
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /^Error: Call to undefined function undefined_function_call\(\) in \/srv\/app\/handler\.php:1 \(\d+ times\)$/);
  assert.deepEqual(phpErrors('2026-11-21 05:10:04 pid:1 Workerman[start.php] reloading\n'), []);
});

test('the log counts as evidence only once it shows our own reload command', () => {
  assert.equal(reloadEvidence(crashLog, 8511), true);
  assert.equal(reloadEvidence('2026-11-21 05:10:04 pid:8615 Workerman[start2.php] reload\n', 8511), false, 'the command ran, the master did not act');
  assert.equal(reloadEvidence('2026-11-21 04:00:00 pid:8511 Workerman[start2.php] stop\n', 8511), undefined, 'a stale log says nothing');
  assert.equal(reloadEvidence('', 8511), undefined);
});
