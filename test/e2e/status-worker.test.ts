import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFile } from '../rig/process.js';
import { REPO } from '../rig/rig.js';
import { WORKERMAN_RELEASES, workermanVendor } from '../rig/workerman-vendor.js';

/**
 * The example status worker (examples/app/status/) on real Workerman, both
 * versions: its own smoke script starts the demo app with it, reloads,
 * kills, pins, crash-loops and stops it, checking the JSON all along.
 */
for (const major of [5, 4] as const) {
  test(`examples/status/smoke.sh passes every check on Workerman ${WORKERMAN_RELEASES[major]}`, async () => {
    const result = await execFile('bash', [join(REPO, 'examples/status/smoke.sh'), workermanVendor(major)], { timeoutMs: 240_000 });
    const summary = /# (\d+) passed, (\d+) failed/.exec(result.stdout);
    assert.ok(summary, `no summary line:\n${result.stdout.slice(-2000)}\n${result.stderr.slice(-2000)}`);
    assert.match(result.stdout, new RegExp(`# Workerman ${WORKERMAN_RELEASES[major].replaceAll('.', '\\.')};`));
    assert.equal(
      summary[2],
      '0',
      result.stdout
        .split('\n')
        .filter((line) => line.startsWith('FAIL'))
        .join('\n'),
    );
    assert.ok(Number(summary[1]) > 40);
    assert.equal(result.code, 0);
  });
}
