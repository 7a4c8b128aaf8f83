import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFile } from '../rig/process.js';
import { REPO } from '../rig/rig.js';

/**
 * The test master is only worth its tests if it behaves like Workerman: its
 * own checks (status table shape against the real samples, one-at-a-time
 * replacement, graceful pinning, signals, crash loops, 4.x and 5.x) and the
 * example status worker's run here too.
 */
for (const script of ['test/workerman-stub/smoke.sh', 'examples/status/smoke.sh']) {
  test(`${script} passes every check`, async () => {
    const result = await execFile('bash', [join(REPO, script)], { timeoutMs: 180_000 });
    const summary = /# (\d+) passed, (\d+) failed/.exec(result.stdout);
    assert.ok(summary, `no summary line:\n${result.stdout.slice(-2000)}\n${result.stderr.slice(-2000)}`);
    assert.equal(summary[2], '0', result.stdout.split('\n').filter((line) => line.startsWith('not ok')).join('\n'));
    assert.ok(Number(summary[1]) > 20);
    assert.equal(result.code, 0);
  });
}
