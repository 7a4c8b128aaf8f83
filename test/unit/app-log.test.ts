import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { phpErrors, sawReloadStart } from '../../src/engine/verdict/app-log.js';
import { sealHostText } from '../../src/engine/report/host-text.js';
import { AppLogTail } from '../../src/status/app-log-tail.js';

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

test("the log tail samples the log's end once before the signal, then keeps only what follows it, and remembers the reload start once seen", () => {
  const tail = new AppLogTail(true);
  tail.feed({ end: 100_000, text: '' });
  assert.equal(tail.offset, 100_000 - 65_536, 'the next read samples the last 64 KiB');
  tail.feed({ end: 100_000, text: '2026-12-02 10:00:00 pid:8511 Workerman[start.php] start in DAEMON mode\n' });
  assert.equal(tail.offset, 100_000);
  assert.equal(tail.evidence(8511), undefined, 'nothing is evidence before the signal');
  tail.markSignal();
  assert.equal(tail.offset, 100_000, 'reading resumes where the log ended at the baseline');
  tail.feed({ end: 100_060, text: 'pid:8615 Workerman[start.php] reload\n' });
  assert.equal(tail.evidence(8511), false, "the master writes here and said nothing: it did not act (another process's line is not it)");
  tail.feed({ end: 100_100, text: 'pid:8511 Workerman[start.php] reloading\n' });
  assert.equal(tail.evidence(8511), true);
  assert.match(tail.sinceSignal, /^pid:8615 .* reload\npid:8511 .* reloading\n$/);
  assert.equal(new AppLogTail(false).evidence(8511), undefined, 'no log, no evidence');
});

test('a log the master is not seen writing to says nothing, rather than "the master ignored the signal"', () => {
  const tail = new AppLogTail(true);
  tail.feed({ end: 500, text: '' });
  assert.equal(tail.offset, 0, 'a small log is sampled whole');
  tail.feed({ end: 500, text: 'pid:77 an old master of another app\n' });
  tail.markSignal();
  assert.equal(tail.offset, 500);
  tail.feed({ end: 500, text: '' });
  assert.equal(tail.evidence(8511), undefined);
  // A log that was not there before the signal is read from its first byte.
  const fresh = new AppLogTail(true);
  fresh.markSignal();
  assert.equal(fresh.offset, 0);
});

test('an error line holding U+2028 or U+0085 is kept whole, and shown sealed', () => {
  const log =
    '2026-12-07 10:00:00 pid:8617 Error: boom\u2028::error::injected in /srv/app/src/handler.php:3\n2026-12-07 10:00:01 pid:8618 Exception: next\u0085line\n';
  const errors = phpErrors(log);
  assert.deepEqual(errors, ['Error: boom\u2028::error::injected in /srv/app/src/handler.php:3', 'Exception: next\u0085line']);
  assert.deepEqual(errors.map(sealHostText), ['Error: boom⏎::error::injected in /srv/app/src/handler.php:3', 'Exception: next⏎line']);
});
