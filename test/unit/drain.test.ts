import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunnerCommand } from '../../src/engine/ports.js';
import type { CommandRecord, HostReport } from '../../src/engine/report/report.js';
import type { HostRolloutIO, HostRun } from '../../src/rollout/context.js';
import { HostDrain } from '../../src/rollout/drain.js';
import { recordingLog } from './local-host.js';

/** A runner whose commands end as `exits` says, in order; every call is recorded with its environment. */
function runner(exits: readonly (number | 'timeout')[]) {
  const calls: { command: string; env: Readonly<Record<string, string>> }[] = [];
  const run: RunnerCommand = async (command, { env, onLine }) => {
    const exit = exits[calls.length] ?? 0;
    calls.push({ command, env });
    onLine(`said ${command}`);
    return { code: exit === 'timeout' ? null : exit, ...(exit === 'timeout' ? { signal: 'SIGTERM' } : {}), timedOut: exit === 'timeout', durationMs: 5 };
  };
  return { calls, run };
}

function setUp(exits: readonly (number | 'timeout')[], waitMs = 0) {
  const lines: string[] = [];
  const { calls, run: runnerCommand } = runner(exits);
  const slept: number[] = [];
  const io = { log: recordingLog(lines), runnerCommand, sleep: async (ms: number) => void slept.push(ms) } as unknown as HostRolloutIO;
  const hostDrain = new HostDrain({ command: 'lb out', undrainCommand: 'lb in', waitMs, when: 'restart' }, { label: 'web2', position: 2 }, io, 1000);
  const commands: CommandRecord[] = [];
  const run = { io, label: 'web2', commands, facts: { step: 'sync' } } as unknown as HostRun;
  return { lines, calls, slept, hostDrain, run, commands };
}

const report = (extra: Partial<HostReport>): HostReport => ({
  host: 'web2',
  ok: true,
  status: 'ok',
  step: 'done',
  filesChanged: true,
  signalled: true,
  durationMs: 1,
  ...extra,
});
const said = (commands: readonly CommandRecord[]) => commands.map((c) => `${c.name} ${c.exit}`);

test('drain once, then undrain when the host serves: the host and its place in the list in the environment', async () => {
  const { calls, hostDrain, run, lines, commands } = setUp([0, 0]);
  await hostDrain.before(run);
  await hostDrain.before(run);
  const settled = await hostDrain.settle(run, report({}));
  assert.deepEqual(
    calls.map((call) => call.command),
    ['lb out', 'lb in'],
  );
  assert.deepEqual(calls[0]!.env, { GRACEFUL_RELOAD_HOST: 'web2', GRACEFUL_RELOAD_HOST_INDEX: '2' });
  assert.equal(settled.ok, true);
  assert.equal(settled.leftDrained, false);
  assert.deepEqual(said(commands), ['drain exit 0', 'undrain exit 0']);
  assert.ok(lines.includes('web2: drain: said lb out'), lines.join('\n'));
});

test('a drain that fails throws before the stop, and its host is never undrained', async () => {
  const { calls, hostDrain, run, commands } = setUp([1]);
  await assert.rejects(hostDrain.before(run), /drain-command exit 1: said lb out; the host was not stopped/);
  const settled = await hostDrain.settle(run, report({ ok: false, status: 'failed', step: 'drain' }));
  assert.deepEqual(
    calls.map((call) => call.command),
    ['lb out'],
  );
  assert.equal(settled.leftDrained, undefined, 'never drained');
  assert.equal(commands[0]?.ok, false);
  assert.deepEqual(commands[0]?.lastLines, ['said lb out']);
});

test('a drain past its time counts as failed', async () => {
  const { hostDrain, run } = setUp(['timeout']);
  await assert.rejects(hostDrain.before(run), /drain-command timed out after 1\.0 s/);
});

test('drain-wait is waited after the drain, before the stop', async () => {
  const { hostDrain, run, slept } = setUp([0], 3000);
  await hostDrain.before(run);
  assert.deepEqual(slept, [3000]);
});

test('a host that does not serve stays drained; one rolled back and proven is undrained', async () => {
  const down = setUp([0, 0]);
  await down.hostDrain.before(down.run);
  const left = await down.hostDrain.settle(down.run, report({ ok: false, status: 'failed', step: 'restart' }));
  assert.equal(left.leftDrained, true);
  assert.deepEqual(
    down.calls.map((call) => call.command),
    ['lb out'],
  );
  assert.ok(down.lines.some((line) => /left drained/.test(line)));

  const back = setUp([0, 0]);
  await back.hostDrain.before(back.run);
  const restored = await back.hostDrain.settle(back.run, report({ ok: false, status: 'rolled-back', step: 'verify', rollback: { ok: true, snapshot: 's1' } }));
  assert.equal(restored.leftDrained, false);
  assert.deepEqual(
    back.calls.map((call) => call.command),
    ['lb out', 'lb in'],
  );
});

test('an undrain that fails fails the host, which serves but stays out of the load balancer', async () => {
  const { hostDrain, run } = setUp([0, 2]);
  await hostDrain.before(run);
  const settled = await hostDrain.settle(run, report({}));
  assert.equal(settled.ok, false);
  assert.equal(settled.status, 'failed');
  assert.equal(settled.step, 'drain');
  assert.match(settled.error!, /undrain-command exit 2: the host serves the new code but is still out of the load balancer/);
  assert.equal(settled.leftDrained, true);
});

test('a host never drained (no restart) keeps its report as it was', async () => {
  const { hostDrain, calls, run } = setUp([0]);
  const settled = await hostDrain.settle(run, report({}));
  assert.equal(settled.leftDrained, undefined);
  assert.deepEqual(calls, []);
});
