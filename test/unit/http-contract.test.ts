import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHttpStatus } from '../../src/status/http-contract.js';

test('the full contract is read, with reloadable defaulting to true', () => {
  const status = parseHttpStatus(
    JSON.stringify({
      master_pid: 123,
      workers: [
        { pid: 456, name: 'web', reloadable: true, started_at: 1795238292.25, revision: 'abc123' },
        { pid: 457, name: 'gateway', reloadable: false, started_at: 1795238000 },
        { pid: 458 },
      ],
    }),
  );
  assert.equal(status.masterPid, 123);
  assert.deepEqual(status.workers, [
    { pid: 456, group: 'web', reloadable: true, startedAt: 1795238292.25, revision: 'abc123' },
    { pid: 457, group: 'gateway', reloadable: false, startedAt: 1795238000 },
    { pid: 458, reloadable: true },
  ]);
});

test('anything off the contract is a parse error that quotes the answer', () => {
  const cases: [string, RegExp][] = [
    ['<html>502 Bad Gateway</html>', /not JSON. It began: <html>502/],
    ['{"master_pid": 1}', /no "workers" array/],
    ['{"workers": [{"pid": "456"}]}', /workers\[0\]\.pid is not a positive integer/],
    ['{"workers": [{"pid": 1, "started_at": "yesterday"}]}', /started_at is not Unix seconds/],
    ['{"workers": [{"pid": 1, "reloadable": "no"}]}', /reloadable is not true or false/],
    ['{"master_pid": -1, "workers": []}', /master_pid/],
  ];
  for (const [body, expected] of cases) assert.throws(() => parseHttpStatus(body), expected, body);
});
