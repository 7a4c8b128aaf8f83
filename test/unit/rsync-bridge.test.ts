import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BridgeHeaderError, readBridgeHeader, remoteCommandOf } from '../../src/adapters/rsync-bridge.js';
import { RsyncSync, stopRunningRsync } from '../../src/adapters/rsync-sync.js';
import { StepError } from '../../src/engine/ports.js';
import { localStream, testSettings } from './local-host.js';

const header = (...args: string[]) => Buffer.from([String(args.length), ...args].map((field) => `${field}\0`).join(''));

test('the remote shell header: arguments up to the count, then the start of rsync\'s stream', () => {
  const bytes = Buffer.concat([header('graceful-reload', 'rsync', '--server', '-slprce.iLsfxCIvu'), Buffer.from([0x1f, 0, 0, 0])]);
  assert.equal(readBridgeHeader(bytes.subarray(0, 10)), undefined, 'incomplete: wait for more');
  const request = readBridgeHeader(bytes)!;
  assert.deepEqual(request.args, ['graceful-reload', 'rsync', '--server', '-slprce.iLsfxCIvu']);
  assert.deepEqual([...request.rest], [0x1f, 0, 0, 0], 'the protocol bytes after the header are kept for the host');
  assert.throws(() => readBridgeHeader(Buffer.from('x\0')), BridgeHeaderError);
  assert.throws(() => readBridgeHeader(Buffer.alloc(70_000, 0x41)), /over 65536 bytes/);
});

test('the remote command is what follows [-l user] host, joined as OpenSSH joins it', () => {
  assert.equal(remoteCommandOf(['graceful-reload', 'rsync', '--server', '-e.LsfxCIvu', '.', '/srv/app/']), 'rsync --server -e.LsfxCIvu . /srv/app/');
  assert.equal(remoteCommandOf(['-l', 'deploy', 'graceful-reload', 'rsync', '--server']), 'rsync --server');
  assert.throws(() => remoteCommandOf(['graceful-reload']), /no command to run/);
});

/** A source and a target tree in one temp dir, removed after. */
async function trees(body: (source: string, target: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'gr-bridge-'));
  try {
    const source = join(dir, 'source');
    const target = join(dir, 'target');
    await mkdir(join(source, 'src'), { recursive: true });
    await mkdir(target);
    await writeFile(join(source, 'start.php'), '<?php // v2\n');
    await writeFile(join(source, 'src', 'app.php'), '<?php return 2;\n');
    await writeFile(join(target, 'old.php'), '<?php // gone after the sync\n');
    await body(source, target);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('real rsync through the bridge: the remote end runs as one stream command, and the tree arrives', async () => {
  await trees(async (source, target) => {
    const commands: string[] = [];
    const sync = new RsyncSync(testSettings({ source, target, exclude: [], protect: [] }), async (command) => localStream(command, commands));
    const summary = await sync.sync({ watch: (path) => path === 'start.php' });
    assert.equal(commands.length, 1);
    assert.match(commands[0]!, /^rsync --server /);
    assert.deepEqual({ sent: summary.filesTransferred, deleted: summary.filesDeleted }, { sent: 2, deleted: 1 });
    assert.deepEqual(summary.watchedChanges, ['start.php']);
    assert.deepEqual((await readdir(target, { recursive: true })).sort(), ['src', 'src/app.php', 'start.php']);
    assert.equal(await readFile(join(target, 'src', 'app.php'), 'utf8'), '<?php return 2;\n');
  });
});

test('a remote end that cannot start: rsync fails with the host\'s words, and no file can have changed', async () => {
  await trees(async (source, target) => {
    const failing = new RsyncSync(testSettings({ source, target, exclude: [], protect: [] }), async () => Promise.reject(new Error('the connection closed')));
    const error: unknown = await failing.sync().then(() => assert.fail('the sync cannot succeed'), (rejected: unknown) => rejected);
    assert.ok(error instanceof StepError);
    assert.equal(error.filesMayHaveChanged, false);
    assert.match(error.message, /could not start rsync on the host: the connection closed; rsync never started on the host, so no file on it was changed$/);
    assert.deepEqual(await readdir(target), ['old.php']);
  });
});

test('a remote rsync that is missing: its stderr is in the failure', async () => {
  await trees(async (source, target) => {
    const missing = new RsyncSync(testSettings({ source, target, exclude: [], protect: [] }), async (command) => localStream(command.replace(/^rsync /, 'no-such-rsync-here ')));
    const error: unknown = await missing.sync().then(() => assert.fail('the sync cannot succeed'), (rejected: unknown) => rejected);
    assert.ok(error instanceof StepError);
    assert.match(error.message, /no-such-rsync-here: (not found|command not found)/);
    assert.deepEqual(await readdir(target), ['old.php']);
  });
});

test('rsync stopped while the host end still runs: the sync ends with it, and the host end is closed', async () => {
  await trees(async (source, target) => {
    let opened!: () => void;
    const started = new Promise<void>((resolve) => (opened = resolve));
    let ended: Promise<unknown> = Promise.resolve();
    // A host end that never answers and never finishes by itself.
    const stuck = new RsyncSync(testSettings({ source, target, exclude: [], protect: [] }), async () => {
      const stream = localStream('cat >/dev/null');
      ended = stream.ended;
      opened();
      return stream;
    });
    const syncing = stuck.sync();
    await started;
    assert.equal(stopRunningRsync(), 1);
    const error: unknown = await syncing.then(() => assert.fail('a stopped rsync cannot succeed'), (rejected: unknown) => rejected);
    assert.ok(error instanceof StepError);
    assert.match(error.message, /^rsync failed \(exit 20: received SIGUSR1 or SIGINT\): rsync error: received SIGINT, SIGTERM, or SIGHUP/);
    await ended;
  });
});
