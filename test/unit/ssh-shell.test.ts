import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { SshShell, type CommandChannel, type CommandConnection } from '../../src/adapters/ssh-shell.js';
import { DEFAULT_MAX_OUTPUT_BYTES, describeExit, RemoteCommandTimeout, RemoteConnectionLost, RemoteOutputTooLarge } from '../../src/engine/ports.js';

/** An ssh2 session channel, scripted by the test. */
class FakeChannel extends EventEmitter implements CommandChannel {
  readonly stderr = new EventEmitter();
  readonly signals: string[] = [];
  closed = false;
  ended = false;
  signal(name: string): boolean {
    this.signals.push(name);
    return true;
  }
  close(): void {
    this.closed = true;
  }
  end(): void {
    this.ended = true;
  }
}

/** An ssh2 client: each exec hands the next scripted channel (or error) to the callback. */
class FakeConnection extends EventEmitter implements CommandConnection {
  readonly channels: FakeChannel[] = [];
  execError: Error | undefined;
  throwOnExec: Error | undefined;
  exec(_command: string, callback: (error: Error | undefined, channel: CommandChannel) => void): this {
    if (this.throwOnExec) throw this.throwOnExec;
    const channel = new FakeChannel();
    this.channels.push(channel);
    queueMicrotask(() => callback(this.execError, channel));
    return this;
  }
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

async function opened(connection: FakeConnection): Promise<FakeChannel> {
  while (connection.channels.length === 0) await tick();
  await tick();
  return connection.channels.at(-1)!;
}

test('stdout and stderr are collected as bytes, decoded once (a character split across packets stays whole), and trimmed', async () => {
  const connection = new FakeConnection();
  const shell = new SshShell(connection);
  const running = shell.run('echo');
  const channel = await opened(connection);
  assert.ok(channel.ended, 'stdin is closed');
  const euro = Buffer.from('€ ok\n');
  channel.emit('data', euro.subarray(0, 1));
  channel.emit('data', euro.subarray(1));
  channel.stderr.emit('data', Buffer.from('warn\n'));
  channel.emit('exit', 0);
  channel.emit('close');
  assert.deepEqual(await running, { stdout: '€ ok', stderr: 'warn', code: 0 });
});

test('past the output cap the remote command gets SIGKILL, its channel is closed, and run rejects with RemoteOutputTooLarge', async () => {
  const connection = new FakeConnection();
  const shell = new SshShell(connection);
  const running = shell.run('yes flood', { maxOutputBytes: 1000 });
  const channel = await opened(connection);
  for (let i = 0; i < 5; i++) channel.emit('data', Buffer.alloc(300, 'y'));
  await assert.rejects(running, (error: Error) => {
    assert.ok(error instanceof RemoteOutputTooLarge);
    assert.match(error.message, /^the output of a remote command passed 1000 bytes \(on stdout\) and it was stopped: yes flood$/);
    return true;
  });
  assert.deepEqual(channel.signals, ['KILL']);
  assert.ok(channel.closed);
  // What the host sends after it is dropped.
  channel.emit('data', Buffer.alloc(10_000));
  channel.emit('close');
});

test('the cap is per stream, 4 MB by default, and the message says MB', async () => {
  assert.equal(DEFAULT_MAX_OUTPUT_BYTES, 4 * 1024 * 1024);
  const connection = new FakeConnection();
  const shell = new SshShell(connection);
  const running = shell.run('php start.php status');
  const channel = await opened(connection);
  const chunk = Buffer.alloc(64 * 1024, 'x');
  for (let i = 0; i < 64; i++) channel.emit('data', chunk);
  channel.stderr.emit('data', chunk);
  let settled = false;
  running.then(
    () => (settled = true),
    () => (settled = true),
  );
  await tick();
  assert.equal(settled, false, 'exactly 4 MB on stdout is still within the cap');
  for (let i = 0; i < 64; i++) channel.stderr.emit('data', chunk);
  await assert.rejects(running, /passed 4 MB \(on stderr\) and it was stopped/);
});

test('a hung command times out as before: SIGKILL, channel closed, RemoteCommandTimeout', async () => {
  const connection = new FakeConnection();
  const shell = new SshShell(connection);
  const running = assert.rejects(shell.run('sleep 600', { timeoutMs: 30 }), RemoteCommandTimeout);
  const channel = await opened(connection);
  await running;
  assert.deepEqual(channel.signals, ['KILL']);
  assert.ok(channel.closed);
});

test('a command killed by a signal reports the signal, not "exit null"', async () => {
  const connection = new FakeConnection();
  const shell = new SshShell(connection);
  const running = shell.run('php start.php status');
  const channel = await opened(connection);
  channel.emit('data', Buffer.from('partial'));
  channel.emit('exit', null, 'SIGKILL', false, '');
  channel.emit('close', null, 'SIGKILL');
  const result = await running;
  assert.deepEqual(result, { stdout: 'partial', stderr: '', code: null, signal: 'SIGKILL' });
  assert.equal(describeExit(result), 'killed by SIGKILL');
  assert.equal(describeExit({ code: 3 }), 'exit 3');
});

test('the connection dropping under a command rejects with RemoteConnectionLost, naming the cause', async () => {
  const connection = new FakeConnection();
  const shell = new SshShell(connection);
  const running = shell.run('cat /proc/uptime');
  const channel = await opened(connection);
  connection.emit('error', new Error('read ECONNRESET'));
  connection.emit('close');
  channel.emit('close');
  await assert.rejects(running, (error: Error) => {
    assert.ok(error instanceof RemoteConnectionLost);
    assert.match(
      error.message,
      /^the SSH connection was lost \(read ECONNRESET\) before a remote command finished; what it did on the host is unknown: cat \/proc\/uptime$/,
    );
    return true;
  });
  // Later commands fail at once, with the same cause.
  await assert.rejects(shell.run('true'), /SSH connection was lost \(read ECONNRESET\)/);
});

test('a channel that never reports after the connection closed is given up on', async () => {
  const connection = new FakeConnection();
  const shell = new SshShell(connection);
  const running = shell.run('sleep 1');
  await opened(connection);
  connection.emit('close');
  await assert.rejects(running, /SSH connection was lost \(the connection closed\)/);
});

test('a channel closed without an exit status while the connection lives is not "exit null" either', async () => {
  const connection = new FakeConnection();
  const shell = new SshShell(connection);
  const running = shell.run('true');
  const channel = await opened(connection);
  channel.emit('close');
  await assert.rejects(running, /closed the command's channel without an exit status/);
});

test('a refused exec says the host did not start the command; "Not connected" is a lost connection', async () => {
  const connection = new FakeConnection();
  connection.execError = new Error('Unable to exec');
  await assert.rejects(
    new SshShell(connection).run('true'),
    /^Error: the host did not start a remote command \(Unable to exec\)|the host did not start a remote command \(Unable to exec\): true$/,
  );
  const gone = new FakeConnection();
  gone.throwOnExec = new Error('Not connected');
  await assert.rejects(new SshShell(gone).run('true'), RemoteConnectionLost);
  await assert.rejects(new SshShell(null).run('true'), RemoteConnectionLost);
});

test("an exit status that arrives in the same packet as the channel's opening is kept (ssh2 emits it in the same tick as exec's callback)", async () => {
  const connection = new FakeConnection();
  const exec = connection.exec.bind(connection);
  connection.exec = (command, callback) =>
    exec(command, (error, channel) => {
      callback(error, channel);
      channel.emit('exit', 0);
      channel.emit('close');
    });
  const shell = new SshShell(connection);
  assert.deepEqual(await shell.run('kill -s USR2 1'), { stdout: '', stderr: '', code: 0 });
});
