import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseDuration } from '../../src/engine/duration.js';

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
