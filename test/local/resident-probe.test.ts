import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RemoteCommandTimeout, RemoteOutputTooLarge } from '../../src/engine/ports.js';
import { ResidentProbe } from '../../src/status/resident-probe.js';
import { StatusSourceError } from '../../src/status/status-source.js';
import { localShell } from '../unit/local-host.js';

test('each question gets its own answer line, from one process', async () => {
  const commands: string[] = [];
  const echo = new ResidentProbe(localShell(commands), 'while read line; do echo "got $line $$"; done');
  try {
    const first = await echo.ask('a\n', 5000);
    const second = await echo.ask('b\n', 5000);
    assert.match(first, /^got a \d+$/);
    assert.equal(second, first.replace('got a', 'got b'), 'the same process ($$) answered both');
    assert.equal(commands.length, 1);
  } finally {
    echo.close();
  }
});

test('a probe that dies fails the question with its exit and stderr; the next question starts a new one', async () => {
  const commands: string[] = [];
  const dying = new ResidentProbe(localShell(commands), 'read line; echo "PHP Fatal error: boom" >&2; exit 3');
  const error = await dying.ask('x\n', 5000).then(
    () => assert.fail('no answer can come'),
    (rejected: unknown) => rejected,
  );
  assert.ok(error instanceof StatusSourceError);
  assert.equal(error.message, 'the host probe ended (exit 3): PHP Fatal error: boom');
  await assert.rejects(dying.ask('y\n', 5000), StatusSourceError);
  assert.equal(commands.length, 2, 'a fresh probe for the second question');
});

test('a probe that hangs times out, and one that floods is stopped at the cap', async () => {
  const hanging = new ResidentProbe(localShell(), 'read line; sleep 30');
  await assert.rejects(hanging.ask('x\n', 200), RemoteCommandTimeout);
  const flooding = new ResidentProbe(localShell(), 'read line; yes | tr -d "\\n"', 64 * 1024);
  await assert.rejects(flooding.ask('x\n', 10_000), RemoteOutputTooLarge);
});
