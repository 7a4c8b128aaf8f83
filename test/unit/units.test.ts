import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatBytes, formatDuration, parseDuration } from '../../src/engine/units.js';

test('durations in the forms the README shows', () => {
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('5m'), 300_000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration(' 2h '), 7_200_000);
});

test('bare numbers, negative values and unknown units are refused with the expected form', () => {
  for (const bad of ['5', '-5s', '5 minutes', 's', '', '5d', '1m 30s', '$(reboot)s']) {
    assert.throws(() => parseDuration(bad), /write it like 250ms, 90s, 5m/, bad);
  }
});

test('formatDuration picks a readable unit', () => {
  assert.equal(formatDuration(120), '120 ms');
  assert.equal(formatDuration(2100), '2.1 s');
  assert.equal(formatDuration(95_000), '1 min 35 s');
});

test('a time known to the whole second (a lock age) reads in whole units, up to days', () => {
  const age = (seconds: number) => formatDuration(seconds * 1000, { wholeSeconds: true });
  assert.deepEqual([0, 59, 60, 3599, 3600, 86_399, 90_000].map(age), ['0 s', '59 s', '1 min 0 s', '59 min 59 s', '1 h 0 min', '23 h 59 min', '1 d 1 h']);
});

test('formatBytes picks a readable unit', () => {
  assert.deepEqual([300, 512 * 1024, 4 * 1024 * 1024, 1536 * 1024].map(formatBytes), ['300 bytes', '512 KB', '4 MB', '1.5 MB']);
});
