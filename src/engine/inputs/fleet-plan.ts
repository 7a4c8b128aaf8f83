/**
 * How a fleet is cut up: the `max-parallel` and `max-failures` amounts, the
 * `shard` of the host list this job deploys, the batches the rollout runs, and
 * when the failure budget is spent. Pure: no I/O, no clock.
 */
import { InputError } from './input-error.js';

/** A number of hosts, given either as a count (`3`) or as a percentage of the fleet (`25%`). */
export type Amount = { readonly kind: 'count'; readonly value: number } | { readonly kind: 'percent'; readonly value: number };

/** Decimal places a percentage may have; resolveAmount works on the percentage scaled by 10^this, as an integer. */
const PERCENT_DECIMALS = 6;
/** The largest count accepted; a fleet is 2 to 200 hosts, and this is far beyond any. */
const MAX_COUNT = 1_000_000;
/** The most shards a host list can be split into: far more jobs than a GitHub Actions matrix can run (256). */
const MAX_SHARDS = 1000;

/**
 * Parses `max-parallel` or `max-failures`: a whole number of hosts at least
 * `min` (`3`), or a percentage of the fleet above 0 and at most 100, decimals
 * allowed (`25%`, `12.5%`). Anything else is an InputError naming `input`,
 * the value and the expected form.
 */
export function parseAmount(text: string, input: string, options: { min: number }): Amount {
  const value = text.trim();
  const expected = `expected a whole number of hosts, at least ${options.min} (e.g. ${Math.max(options.min, 2)}), or a percentage of the hosts above 0% and at most 100% (e.g. 25%)`;
  const count = /^\d+$/.exec(value);
  if (count) {
    const n = Number(value);
    if (n < options.min) throw new InputError(input, `"${value}" is below ${options.min}; ${expected}`);
    if (n > MAX_COUNT) throw new InputError(input, `"${value}" is more hosts than any fleet has (at most ${MAX_COUNT}); ${expected}`);
    return { kind: 'count', value: n };
  }
  const percent = /^\d+(?:\.(\d+))?%$/.exec(value);
  if (percent) {
    if ((percent[1] ?? '').length > PERCENT_DECIMALS) throw new InputError(input, `"${value}" has more than ${PERCENT_DECIMALS} decimal places; ${expected}`);
    const p = Number(value.slice(0, -1));
    if (!(p > 0) || p > 100) throw new InputError(input, `"${value}" is out of range (above 0% and at most 100%); ${expected}`);
    return { kind: 'percent', value: p };
  }
  const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
  throw new InputError(input, `"${shown}" is neither a count nor a percentage; ${expected}`);
}

/**
 * The number of hosts an amount stands for in a fleet of `total` hosts. A count
 * is itself. A percentage is rounded `up` (max-parallel: 25% of 10 hosts is 3,
 * and never less than 1, so a rollout always moves) or `down` (max-failures:
 * 25% of 10 hosts is 2, so a percentage never allows more failures than it
 * says; 10% of 5 hosts allows none). The arithmetic is on integers: 16.1% of
 * 1000 is 161, where 1000 * 16.1 / 100 in floating point is 161.00000000000003.
 */
export function resolveAmount(amount: Amount, total: number, rounding: 'up' | 'down'): number {
  if (!Number.isSafeInteger(total) || total < 0) throw new RangeError(`resolveAmount: total ${total} is not a number of hosts`);
  if (amount.kind === 'count') return rounding === 'up' ? Math.max(1, amount.value) : amount.value;
  const scale = 10n ** BigInt(PERCENT_DECIMALS);
  const numerator = BigInt(total) * BigInt(Math.round(amount.value * Number(scale)));
  const denominator = 100n * scale;
  if (rounding === 'down') return Number(numerator / denominator);
  return Math.max(1, Number((numerator + denominator - 1n) / denominator));
}

/**
 * Parses `shard`: `i/n` means this job deploys part i (counting from 1) of the
 * host list cut into n parts, 1 <= i <= n <= 1000. The empty string is no
 * sharding (every host), and gives undefined.
 */
export function parseShard(text: string): { index: number; count: number } | undefined {
  const value = text.trim();
  if (value === '') return undefined;
  const expected = `expected i/n, this job's part i of n (1 <= i <= n <= ${MAX_SHARDS}), e.g. \${{ matrix.shard }}/4 with shard: [1, 2, 3, 4]`;
  const match = /^(\d{1,10})\/(\d{1,10})$/.exec(value);
  if (!match) {
    const shown = value.length > 40 ? `${value.slice(0, 40)}...` : value;
    throw new InputError('shard', `"${shown}" is not i/n; ${expected}`);
  }
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (count < 1 || count > MAX_SHARDS) throw new InputError('shard', `"${value}": n must be 1 to ${MAX_SHARDS}; ${expected}`);
  if (index < 1 || index > count) throw new InputError('shard', `"${value}": i must be 1 to ${count} (parts count from 1); ${expected}`);
  return { index, count };
}

/**
 * The hosts of one shard: host k of the list (0-based, in list order) belongs
 * to shard (k mod n) + 1, so shard 1 of 3 gets hosts 0, 3, 6, ... and shard 2
 * gets 1, 4, 7, ... Every host is in exactly one shard, each shard keeps the
 * list's order, and shard sizes differ by at most one. The split depends only
 * on the list and n: every job of a matrix that reads the same hosts input and
 * inventory gets a disjoint part, and together they cover the fleet. Inserting
 * or removing a host moves the hosts after it to other shards (harmless: each
 * run splits the list afresh). With more shards than hosts, some shards are
 * empty. No shard (undefined) is the whole list.
 */
export function shardHosts<T>(hosts: readonly T[], shard: { readonly index: number; readonly count: number } | undefined): T[] {
  if (shard === undefined) return [...hosts];
  const { index, count } = shard;
  if (!Number.isInteger(count) || count < 1 || !Number.isInteger(index) || index < 1 || index > count) {
    throw new RangeError(`shardHosts: ${index}/${count} is not a shard`);
  }
  return hosts.filter((_, k) => k % count === index - 1);
}

/**
 * The rollout's batches, in list order: each batch runs in parallel, and a
 * batch starts when the one before it has ended. With `canary`, the first host
 * is a batch of its own, then the rest go `maxParallel` at a time.
 */
export function planBatches<T>(hosts: readonly T[], maxParallel: number, canary: boolean): T[][] {
  if (!Number.isSafeInteger(maxParallel) || maxParallel < 1)
    throw new RangeError(`planBatches: max-parallel ${maxParallel} is not a whole number of at least 1`);
  const batches: T[][] = [];
  let start = 0;
  if (canary && hosts.length > 0) {
    batches.push([hosts[0]!]);
    start = 1;
  }
  for (let i = start; i < hosts.length; i += maxParallel) batches.push(hosts.slice(i, i + maxParallel));
  return batches;
}

/** The failure budget is spent when the failures EXCEED max-failures: with max-failures 1, one failed host is within it, two are not. */
export function budgetExceeded(failed: number, maxFailures: number): boolean {
  return failed > maxFailures;
}
