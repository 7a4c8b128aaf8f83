import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { liveWorkersCommand, stopWorkerCommand } from '../../src/workerman/commands.js';
import { localShell } from '../unit/local-host.js';

/**
 * src/remote/live-workers.sh and stop-worker.sh run here for real through a
 * local sh, on processes this test starts: a worker is a process whose title
 * says `worker process`, and this test process is the master of its children.
 */

function sleeper(title: string): ChildProcess {
  return spawn('sleep', ['300'], { argv0: title, stdio: 'ignore' });
}

async function ended(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await once(child, 'exit');
  }
}

test('live-workers names the PIDs that run with a worker title, and skips the rest and the gone', async () => {
  const worker = sleeper('WorkerMan: worker process  App none');
  const other = sleeper('sleep');
  try {
    const gone = 2 ** 22 + 1; // above the kernel's largest pid, so no process has it
    const result = await localShell().run(liveWorkersCommand([worker.pid!, other.pid!, gone]));
    assert.equal(result.code, 0);
    assert.deepEqual(result.stdout.split('\n').filter(Boolean), [String(worker.pid)]);
  } finally {
    await ended(worker);
    await ended(other);
  }
});

test('stop-worker signals a PID only while its parent is the given master', async () => {
  const worker = sleeper('WorkerMan: worker process  App none');
  try {
    const notItsMaster = await localShell().run(stopWorkerCommand(worker.pid!, 1, 'KILL'));
    assert.equal(notItsMaster.code, 3);
    assert.equal(worker.exitCode, null);
    assert.equal(worker.signalCode, null);
    const exited = once(worker, 'exit');
    const itsMaster = await localShell().run(stopWorkerCommand(worker.pid!, process.pid, 'KILL'));
    assert.equal(itsMaster.code, 0);
    const [, signal] = await exited;
    assert.equal(signal, 'SIGKILL');
  } finally {
    await ended(worker);
  }
});
