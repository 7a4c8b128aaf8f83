import { test } from 'node:test';
import assert from 'node:assert/strict';
import { budgetExceeded, parseAmount, parseShard, planBatches, resolveAmount, shardHosts, type Amount } from '../../src/engine/inputs/fleet-plan.js';
import { InputError } from '../../src/engine/inputs/inputs.js';

/** Asserts that `run` throws an InputError with exactly this message. */
function refuses(run: () => unknown, message: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof InputError, `expected an InputError, got ${String(error)}`);
    assert.equal(error.message, message);
    return true;
  });
}

const expectedParallel = 'expected a whole number of hosts, at least 1 (e.g. 2), or a percentage of the hosts above 0% and at most 100% (e.g. 25%)';
const expectedFailures = 'expected a whole number of hosts, at least 0 (e.g. 2), or a percentage of the hosts above 0% and at most 100% (e.g. 25%)';

test('parseAmount: counts and percentages', () => {
  assert.deepEqual(parseAmount('3', 'max-parallel', { min: 1 }), { kind: 'count', value: 3 });
  assert.deepEqual(parseAmount(' 12 ', 'max-parallel', { min: 1 }), { kind: 'count', value: 12 });
  assert.deepEqual(parseAmount('0', 'max-failures', { min: 0 }), { kind: 'count', value: 0 });
  assert.deepEqual(parseAmount('25%', 'max-parallel', { min: 1 }), { kind: 'percent', value: 25 });
  assert.deepEqual(parseAmount('12.5%', 'max-failures', { min: 0 }), { kind: 'percent', value: 12.5 });
  assert.deepEqual(parseAmount('100%', 'max-parallel', { min: 1 }), { kind: 'percent', value: 100 });
  assert.deepEqual(parseAmount('0.5%', 'max-parallel', { min: 1 }), { kind: 'percent', value: 0.5 });
});

test('parseAmount: bad values are refused naming the input, the value and the expected form', () => {
  refuses(() => parseAmount('0', 'max-parallel', { min: 1 }), `input max-parallel: "0" is below 1; ${expectedParallel}`);
  refuses(() => parseAmount('0%', 'max-parallel', { min: 1 }), `input max-parallel: "0%" is out of range (above 0% and at most 100%); ${expectedParallel}`);
  refuses(() => parseAmount('0.0%', 'max-failures', { min: 0 }), `input max-failures: "0.0%" is out of range (above 0% and at most 100%); ${expectedFailures}`);
  refuses(
    () => parseAmount('100.5%', 'max-parallel', { min: 1 }),
    `input max-parallel: "100.5%" is out of range (above 0% and at most 100%); ${expectedParallel}`,
  );
  refuses(() => parseAmount('150%', 'max-failures', { min: 0 }), `input max-failures: "150%" is out of range (above 0% and at most 100%); ${expectedFailures}`);
  refuses(() => parseAmount('-1', 'max-failures', { min: 0 }), `input max-failures: "-1" is neither a count nor a percentage; ${expectedFailures}`);
  refuses(() => parseAmount('2.5', 'max-parallel', { min: 1 }), `input max-parallel: "2.5" is neither a count nor a percentage; ${expectedParallel}`);
  refuses(() => parseAmount('', 'max-parallel', { min: 1 }), `input max-parallel: "" is neither a count nor a percentage; ${expectedParallel}`);
  refuses(() => parseAmount('25 %', 'max-parallel', { min: 1 }), `input max-parallel: "25 %" is neither a count nor a percentage; ${expectedParallel}`);
  refuses(() => parseAmount('%', 'max-parallel', { min: 1 }), `input max-parallel: "%" is neither a count nor a percentage; ${expectedParallel}`);
  refuses(() => parseAmount('.5%', 'max-parallel', { min: 1 }), `input max-parallel: ".5%" is neither a count nor a percentage; ${expectedParallel}`);
  refuses(() => parseAmount('1e3', 'max-parallel', { min: 1 }), `input max-parallel: "1e3" is neither a count nor a percentage; ${expectedParallel}`);
  refuses(() => parseAmount('all', 'max-parallel', { min: 1 }), `input max-parallel: "all" is neither a count nor a percentage; ${expectedParallel}`);
  refuses(
    () => parseAmount('12.3456789%', 'max-parallel', { min: 1 }),
    `input max-parallel: "12.3456789%" has more than 6 decimal places; ${expectedParallel}`,
  );
  refuses(
    () => parseAmount('1000001', 'max-parallel', { min: 1 }),
    `input max-parallel: "1000001" is more hosts than any fleet has (at most 1000000); ${expectedParallel}`,
  );
  refuses(
    () => parseAmount(`${'x'.repeat(50)}`, 'max-parallel', { min: 1 }),
    `input max-parallel: "${'x'.repeat(40)}..." is neither a count nor a percentage; ${expectedParallel}`,
  );
});

test('resolveAmount: a count is itself; a percentage rounds up (at least 1) or down', () => {
  const count = (value: number): Amount => ({ kind: 'count', value });
  const percent = (value: number): Amount => ({ kind: 'percent', value });
  assert.equal(resolveAmount(count(3), 10, 'up'), 3);
  assert.equal(resolveAmount(count(30), 10, 'up'), 30, 'a count larger than the fleet is kept; batching copes');
  assert.equal(resolveAmount(count(0), 10, 'down'), 0);
  assert.equal(resolveAmount(count(2), 10, 'down'), 2);

  assert.equal(resolveAmount(percent(25), 10, 'up'), 3, '2.5 rounds up');
  assert.equal(resolveAmount(percent(25), 10, 'down'), 2, '2.5 rounds down');
  assert.equal(resolveAmount(percent(30), 10, 'up'), 3, 'an exact result is not rounded up');
  assert.equal(resolveAmount(percent(30), 10, 'down'), 3);
  assert.equal(resolveAmount(percent(1), 5, 'up'), 1, 'max-parallel is at least 1');
  assert.equal(resolveAmount(percent(10), 5, 'down'), 0, '10% of 5 allows no failure');
  assert.equal(resolveAmount(percent(100), 7, 'up'), 7);
  assert.equal(resolveAmount(percent(100), 7, 'down'), 7);
  assert.equal(resolveAmount(percent(50), 0, 'up'), 1, 'no hosts still gives a max-parallel of 1');
  assert.equal(resolveAmount(percent(50), 0, 'down'), 0);
  // In floating point, 1000 * 16.1 / 100 is 161.00000000000003 (rounded up: 162)
  // and 1000 * 32.3 / 100 is 322.99999999999994 (rounded down: 322).
  assert.equal(resolveAmount(percent(16.1), 1000, 'up'), 161);
  assert.equal(resolveAmount(percent(16.1), 1000, 'down'), 161);
  assert.equal(resolveAmount(percent(32.3), 1000, 'up'), 323);
  assert.equal(resolveAmount(percent(32.3), 1000, 'down'), 323);
  assert.equal(resolveAmount(percent(33.333333), 3, 'down'), 0, '33.333333% of 3 is just under 1');
  assert.equal(resolveAmount(percent(33.333333), 3, 'up'), 1);
  assert.equal(resolveAmount(percent(12.5), 200, 'down'), 25);
  assert.throws(() => resolveAmount(percent(10), -1, 'up'), /total -1 is not a number of hosts/);
  assert.throws(() => resolveAmount(percent(10), 2.5, 'up'), /total 2.5 is not a number of hosts/);
});

test('resolveAmount on parsed amounts, as the inputs will use it', () => {
  assert.equal(resolveAmount(parseAmount('33%', 'max-parallel', { min: 1 }), 200, 'up'), 66);
  assert.equal(resolveAmount(parseAmount('33.5%', 'max-parallel', { min: 1 }), 200, 'up'), 67);
  assert.equal(resolveAmount(parseAmount('33.5%', 'max-failures', { min: 0 }), 3, 'down'), 1);
});

test('parseShard: i/n, 1-based, up to 1000 parts; empty is no sharding', () => {
  assert.equal(parseShard(''), undefined);
  assert.equal(parseShard('  '), undefined);
  assert.deepEqual(parseShard('1/1'), { index: 1, count: 1 });
  assert.deepEqual(parseShard('2/4'), { index: 2, count: 4 });
  assert.deepEqual(parseShard('4/4'), { index: 4, count: 4 });
  assert.deepEqual(parseShard('1000/1000'), { index: 1000, count: 1000 });
  const expected = "expected i/n, this job's part i of n (1 <= i <= n <= 1000), e.g. ${{ matrix.shard }}/4 with shard: [1, 2, 3, 4]";
  refuses(() => parseShard('0/4'), `input shard: "0/4": i must be 1 to 4 (parts count from 1); ${expected}`);
  refuses(() => parseShard('5/4'), `input shard: "5/4": i must be 1 to 4 (parts count from 1); ${expected}`);
  refuses(() => parseShard('1/0'), `input shard: "1/0": n must be 1 to 1000; ${expected}`);
  refuses(() => parseShard('1/1001'), `input shard: "1/1001": n must be 1 to 1000; ${expected}`);
  refuses(() => parseShard('2'), `input shard: "2" is not i/n; ${expected}`);
  refuses(() => parseShard('1 / 4'), `input shard: "1 / 4" is not i/n; ${expected}`);
  refuses(() => parseShard('-1/4'), `input shard: "-1/4" is not i/n; ${expected}`);
  refuses(() => parseShard('1.5/4'), `input shard: "1.5/4" is not i/n; ${expected}`);
  refuses(() => parseShard('a/b'), `input shard: "a/b" is not i/n; ${expected}`);
  refuses(() => parseShard('1/4/2'), `input shard: "1/4/2" is not i/n; ${expected}`);
});

test('shardHosts: host k goes to shard (k mod n) + 1, in list order', () => {
  const hosts = ['h0', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6'];
  assert.deepEqual(shardHosts(hosts, { index: 1, count: 3 }), ['h0', 'h3', 'h6']);
  assert.deepEqual(shardHosts(hosts, { index: 2, count: 3 }), ['h1', 'h4']);
  assert.deepEqual(shardHosts(hosts, { index: 3, count: 3 }), ['h2', 'h5']);
  assert.deepEqual(shardHosts(hosts, { index: 1, count: 1 }), hosts);
  assert.deepEqual(shardHosts(hosts, undefined), hosts);
  assert.notEqual(shardHosts(hosts, undefined), hosts, 'a copy, not the caller array');
  assert.deepEqual(shardHosts(['a', 'b'], { index: 3, count: 4 }), [], 'more shards than hosts: some are empty');
  assert.deepEqual(shardHosts([], { index: 1, count: 2 }), []);
  assert.throws(() => shardHosts(hosts, { index: 0, count: 3 }), /0\/3 is not a shard/);
  assert.throws(() => shardHosts(hosts, { index: 4, count: 3 }), /4\/3 is not a shard/);
});

test('shardHosts: every host in exactly one shard, sizes within one, the same every time', () => {
  for (const total of [0, 1, 2, 5, 17, 200]) {
    const hosts = Array.from({ length: total }, (_, k) => `web${k}`);
    for (const count of [1, 2, 3, 7, 16, 256]) {
      const shards = Array.from({ length: count }, (_, i) => shardHosts(hosts, { index: i + 1, count }));
      const all = shards.flat();
      assert.equal(all.length, total, `${total} hosts in ${count} shards: none lost or doubled`);
      assert.deepEqual([...all].sort(), [...hosts].sort());
      const sizes = shards.map((shard) => shard.length);
      assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1, `${total} hosts in ${count} shards: sizes ${sizes.join(',')}`);
      for (const shard of shards)
        assert.deepEqual(
          shard,
          hosts.filter((host) => shard.includes(host)),
          'each shard keeps list order',
        );
      assert.deepEqual(shardHosts(hosts, { index: 1, count }), shards[0], 'deterministic');
    }
  }
});

test('planBatches: consecutive batches of max-parallel, the canary alone first', () => {
  const hosts = ['a', 'b', 'c', 'd', 'e'];
  assert.deepEqual(planBatches(hosts, 1, false), [['a'], ['b'], ['c'], ['d'], ['e']]);
  assert.deepEqual(planBatches(hosts, 2, false), [['a', 'b'], ['c', 'd'], ['e']]);
  assert.deepEqual(planBatches(hosts, 5, false), [hosts]);
  assert.deepEqual(planBatches(hosts, 9, false), [hosts]);
  assert.deepEqual(planBatches(hosts, 2, true), [['a'], ['b', 'c'], ['d', 'e']]);
  assert.deepEqual(planBatches(hosts, 3, true), [['a'], ['b', 'c', 'd'], ['e']]);
  assert.deepEqual(planBatches(hosts, 1, true), [['a'], ['b'], ['c'], ['d'], ['e']]);
  assert.deepEqual(planBatches(['a'], 4, true), [['a']]);
  assert.deepEqual(planBatches([], 4, true), []);
  assert.deepEqual(planBatches([], 4, false), []);
  assert.throws(() => planBatches(hosts, 0, false), /max-parallel 0 is not a whole number of at least 1/);
  assert.throws(() => planBatches(hosts, 1.5, false), /max-parallel 1.5 is not a whole number of at least 1/);
});

test('budgetExceeded: failing means exceeding max-failures, not reaching it', () => {
  assert.equal(budgetExceeded(0, 0), false);
  assert.equal(budgetExceeded(1, 0), true);
  assert.equal(budgetExceeded(1, 1), false);
  assert.equal(budgetExceeded(2, 1), true);
  assert.equal(budgetExceeded(2, 3), false);
  const budget = resolveAmount(parseAmount('25%', 'max-failures', { min: 0 }), 10, 'down');
  assert.equal(budgetExceeded(2, budget), false, '25% of 10 hosts allows 2 failures');
  assert.equal(budgetExceeded(3, budget), true);
});
