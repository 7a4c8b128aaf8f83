import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BridgeHeaderError, readBridgeHeader, remoteCommandOf } from '../../src/adapters/rsync-bridge.js';
import { CHECKSUM_PREFERENCE, childEnvironment, RsyncSync, stopRunningRsync } from '../../src/adapters/rsync-sync.js';
import { StepError } from '../../src/engine/step-error.js';
import { execFile } from '../rig/process.js';
import { localStream, testSettings } from '../unit/local-host.js';

const header = (...args: string[]) => Buffer.from([String(args.length), ...args].map((field) => `${field}\0`).join(''));

test("the remote shell header: arguments up to the count, then the start of rsync's stream", () => {
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
    // The host's end is told the checksum list this end has, or the two would not agree on one.
    assert.ok(commands[0]!.startsWith(`env RSYNC_CHECKSUM_LIST='${CHECKSUM_PREFERENCE}' rsync --server `), commands[0]);
    assert.deepEqual({ sent: summary.filesTransferred, deleted: summary.filesDeleted }, { sent: 2, deleted: 1 });
    assert.deepEqual(summary.watchedChanges, ['start.php']);
    assert.deepEqual((await readdir(target, { recursive: true })).sort(), ['src', 'src/app.php', 'start.php']);
    assert.equal(await readFile(join(target, 'src', 'app.php'), 'utf8'), '<?php return 2;\n');
  });
});

test("rsync's environment: the checksum list, and none of the action's inputs (they carry the secrets)", () => {
  const environment = childEnvironment({ PATH: '/usr/bin', 'INPUT_PRIVATE-KEY': 'secret', RSYNC_CHECKSUM_LIST: 'md5' });
  assert.deepEqual(environment, { PATH: '/usr/bin', RSYNC_CHECKSUM_LIST: CHECKSUM_PREFERENCE });
});

/** rsync's "Total bytes sent" from --stats output. */
const bytesSent = (stats: string) => Number(/Total bytes sent: ([\d,]+)/.exec(stats)?.[1]?.replaceAll(',', '') ?? Number.NaN);

test("real rsync through the bridge: both ends settle on an 8-byte checksum, so the file list is 8 bytes a file smaller than with rsync's default", async () => {
  await trees(async (source, target) => {
    const files = 200;
    await Promise.all(Array.from({ length: files }, (_, i) => writeFile(join(source, 'src', `f${i}.php`), `<?php return ${i};\n`)));
    const debug: string[] = [];
    const sync = new RsyncSync(
      testSettings({ source, target, exclude: [], protect: [] }),
      async (command) => localStream(command),
      (line) => debug.push(line),
    );
    await sync.sync();
    // Nothing changed since: what the sender sends is the file list.
    await sync.sync();
    const ours = bytesSent(debug.at(-1)!);
    // The same with 16-byte checksums (rsync's own first choice, xxh128, or md5 before it), both ends local.
    const plain = await execFile('rsync', ['--recursive', '--checksum', '--stats', '--checksum-choice=md5', `${source}/`, `${target}/`], { timeoutMs: 30_000 });
    assert.equal(plain.code, 0, plain.stderr);
    const theirs = bytesSent(plain.stdout);
    assert.ok(ours > 0 && theirs > 0, `${ours} / ${theirs}`);
    assert.ok(theirs - ours >= 7 * files, `our file list ${ours} B, with 16-byte checksums ${theirs} B`);
  });
});

test("a remote end that cannot start: rsync fails with the host's words, and no file can have changed", async () => {
  await trees(async (source, target) => {
    const failing = new RsyncSync(testSettings({ source, target, exclude: [], protect: [] }), async () => Promise.reject(new Error('the connection closed')));
    const error: unknown = await failing.sync().then(
      () => assert.fail('the sync cannot succeed'),
      (rejected: unknown) => rejected,
    );
    assert.ok(error instanceof StepError);
    assert.equal(error.filesMayHaveChanged, false);
    assert.match(error.message, /could not start rsync on the host: the connection closed; rsync never started on the host, so no file on it was changed$/);
    assert.deepEqual(await readdir(target), ['old.php']);
  });
});

test('a remote rsync that is missing: its stderr is in the failure', async () => {
  await trees(async (source, target) => {
    const missing = new RsyncSync(testSettings({ source, target, exclude: [], protect: [] }), async (command) =>
      localStream(command.replace(/ rsync --server /, ' no-such-rsync-here --server ')),
    );
    const error: unknown = await missing.sync().then(
      () => assert.fail('the sync cannot succeed'),
      (rejected: unknown) => rejected,
    );
    assert.ok(error instanceof StepError);
    assert.match(error.message, /no-such-rsync-here.*(not found|No such file)/);
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
    const error: unknown = await syncing.then(
      () => assert.fail('a stopped rsync cannot succeed'),
      (rejected: unknown) => rejected,
    );
    assert.ok(error instanceof StepError);
    assert.match(error.message, /^rsync failed \(exit 20: received SIGUSR1 or SIGINT\): rsync error: received SIGINT, SIGTERM, or SIGHUP/);
    await ended;
  });
});
