import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, readlink, rename, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { changedNothing, type RemoteShell } from '../../src/engine/ports.js';
import { StepError } from '../../src/engine/step-error.js';
import { stateDirectory } from '../../src/rollout/host-lock.js';
import { localHostRun, localShell, tempRootFor } from '../unit/local-host.js';
import {
  freeSpaceCheck,
  listSnapshots,
  parseDfAvailable,
  pruneSnapshots,
  restoreArguments,
  restoreSnapshot,
  snapshotsDirectory,
  takeSnapshot,
} from '../../src/rollout/host-snapshot.js';

/**
 * Snapshots are plain sh + coreutils + rsync on the host: the commands run
 * here for real, with `sh -c` on a temp dir standing in for SSH.
 */

const hostRun = localHostRun;

const temp = tempRootFor('gr-host-snapshot-');

/** A live app tree: code, a nested dir, a symlink, and the runtime files the app writes. */
async function liveTree(name = 'app'): Promise<string> {
  const target = join(temp.nextCase(), name);
  await mkdir(join(target, 'src', 'Handlers'), { recursive: true });
  await mkdir(join(target, 'runtime', 'sessions'), { recursive: true });
  await writeFile(join(target, 'start.php'), '<?php // v1 start\n');
  await writeFile(join(target, 'src', 'Handlers', 'Echo.php'), '<?php // v1 echo\n');
  await writeFile(join(target, 'src', 'config file.php'), '<?php return ["v" => 1];\n');
  await writeFile(join(target, 'src', 'gone-in-v2.php'), '<?php // only in v1\n');
  await symlink('Handlers/Echo.php', join(target, 'src', 'current.php'));
  await writeFile(join(target, 'workerman.log'), 'v1 log line\n');
  await writeFile(join(target, 'app.pid'), '1111\n');
  await writeFile(join(target, 'runtime', 'sessions', 'sess_a'), 'a=1');
  return target;
}

/** Writes a file the way rsync does: a new file renamed over the old name (a new inode). */
async function replaceByRename(path: string, content: string): Promise<void> {
  await writeFile(`${path}.tmp-new`, content);
  await rename(`${path}.tmp-new`, path);
}

/** Every entry of a tree: files by SHA-256 of their content, symlinks by their target, directories as such. */
async function treeSums(dir: string): Promise<Record<string, string>> {
  const sums: Record<string, string> = {};
  const walk = async (current: string): Promise<void> => {
    for (const entry of await readdir(current, { withFileTypes: true })) {
      const path = join(current, entry.name);
      const name = relative(dir, path);
      if (entry.isSymbolicLink()) sums[name] = `-> ${await readlink(path)}`;
      else if (entry.isDirectory()) {
        sums[name] = 'dir';
        await walk(path);
      } else
        sums[name] = createHash('sha256')
          .update(await readFile(path))
          .digest('hex');
    }
  };
  await walk(dir);
  return sums;
}

test('a snapshot is a hard-link copy of the live tree, beside the target, under a sortable UTC name', async () => {
  const target = await liveTree();
  const lines: string[] = [];
  const snapshot = await takeSnapshot(hostRun(target, localShell(), lines));
  assert.equal(snapshotsDirectory(target), join(temp.currentCase(), '.app.graceful-reload', 'snapshots'));
  assert.ok(snapshot.startsWith(`${snapshotsDirectory(target)}/`));
  const name = snapshot.slice(snapshotsDirectory(target).length + 1);
  assert.match(name, /^\d{8}T\d{6}Z$/);
  const stamp = `${name.slice(0, 4)}-${name.slice(4, 6)}-${name.slice(6, 8)}T${name.slice(9, 11)}:${name.slice(11, 13)}:${name.slice(13, 15)}Z`;
  assert.ok(Math.abs(Date.parse(stamp) - Date.now()) < 60_000, `${name} is UTC now`);
  for (const file of ['start.php', 'src/Handlers/Echo.php', 'src/config file.php']) {
    const [live, kept] = [await stat(join(target, file)), await stat(join(snapshot, 'tree', file))];
    assert.equal(kept.ino, live.ino, `${file} is a hard link, not a copy`);
    assert.equal(live.nlink, 2);
  }
  assert.equal(await readlink(join(snapshot, 'tree', 'src', 'current.php')), 'Handlers/Echo.php');
  const { 'app.pid': pid, ...withoutPid } = await treeSums(target);
  assert.ok(pid);
  assert.deepEqual(await treeSums(join(snapshot, 'tree')), withoutPid, 'everything but settings.protect (*.pid): a restore never puts those back');
  assert.deepEqual(await readdir(join(temp.currentCase())), ['.app.graceful-reload', 'app']);
  assert.deepEqual(
    (await readdir(snapshotsDirectory(target))).filter((entry) => entry.startsWith('.')),
    [],
    'no half-made snapshot left',
  );
  assert.ok(lines.some((line) => line.includes(`snapshot of ${target} kept in ${snapshot}`)));
});

test('a file the deploy replaces (a new inode, as rsync writes) leaves the snapshot content intact', async () => {
  const target = await liveTree();
  const snapshot = await takeSnapshot(hostRun(target, localShell()));
  await replaceByRename(join(target, 'start.php'), '<?php // v2 start\n');
  assert.equal(await readFile(join(target, 'start.php'), 'utf8'), '<?php // v2 start\n');
  assert.equal(await readFile(join(snapshot, 'tree', 'start.php'), 'utf8'), '<?php // v1 start\n');
  assert.equal(
    (await stat(join(target, 'src', 'Handlers', 'Echo.php'))).ino,
    (await stat(join(snapshot, 'tree', 'src', 'Handlers', 'Echo.php'))).ino,
    'untouched files stay shared',
  );
});

test('a restore brings the tree back byte for byte, keeps the runtime files, and reports what it changed', async () => {
  const target = await liveTree();
  const before = await treeSums(target);
  const protect = ['/workerman.log', '/runtime/***'];
  const snapshot = await takeSnapshot(hostRun(target, localShell()), { exclude: protect });
  assert.deepEqual((await readdir(join(snapshot, 'tree'))).sort(), ['src', 'start.php'], 'the runtime files are left out of the snapshot');
  assert.equal(await readFile(join(snapshot, 'excluded'), 'utf8'), '*.pid\n/workerman.log\n/runtime/***\n', 'and the snapshot records what it left out');
  // The deploy: files changed (new inodes), one deleted, one added, a symlink moved, a new directory.
  await replaceByRename(join(target, 'start.php'), '<?php // v2 start, longer\n');
  await replaceByRename(join(target, 'src', 'config file.php'), '<?php return ["v" => 2];\n');
  await unlink(join(target, 'src', 'gone-in-v2.php'));
  await writeFile(join(target, 'src', 'new-in-v2.php'), '<?php // v2 only\n');
  await mkdir(join(target, 'src', 'V2'));
  await writeFile(join(target, 'src', 'V2', 'Thing.php'), '<?php\n');
  await unlink(join(target, 'src', 'current.php'));
  await symlink('../start.php', join(target, 'src', 'current.php'));
  // The running app meanwhile: a new log (log rotation), a new pid file, new and rewritten session files.
  await replaceByRename(join(target, 'workerman.log'), 'v2 log line\n');
  await replaceByRename(join(target, 'app.pid'), '2222\n');
  await replaceByRename(join(target, 'runtime', 'sessions', 'sess_a'), 'a=2');
  await writeFile(join(target, 'runtime', 'sessions', 'sess_b'), 'b=1');

  const lines: string[] = [];
  const summary = await restoreSnapshot(hostRun(target, localShell(), lines), snapshot, {
    protect,
    watch: (path) => path === 'start.php' || path === 'src/new-in-v2.php',
  });

  const after = await treeSums(target);
  const runtime = (sums: Record<string, string>) =>
    Object.fromEntries(Object.entries(sums).filter(([path]) => path === 'workerman.log' || path === 'app.pid' || path.startsWith('runtime')));
  const code = (sums: Record<string, string>) => Object.fromEntries(Object.entries(sums).filter(([path]) => !(path in runtime(sums))));
  assert.deepEqual(code(after), code(before), 'the code is back, byte for byte, and nothing of v2 is left');
  assert.equal(await readFile(join(target, 'workerman.log'), 'utf8'), 'v2 log line\n', 'the protected log is neither deleted nor overwritten');
  assert.equal(await readFile(join(target, 'app.pid'), 'utf8'), '2222\n', 'the pid file (settings.protect *.pid) keeps the running master pid');
  assert.equal(await readFile(join(target, 'runtime', 'sessions', 'sess_a'), 'utf8'), 'a=2');
  assert.equal(await readFile(join(target, 'runtime', 'sessions', 'sess_b'), 'utf8'), 'b=1');

  assert.equal(summary.filesTransferred, 3, 'start.php, config file.php, gone-in-v2.php');
  assert.equal(summary.filesDeleted, 3, 'new-in-v2.php, V2/Thing.php, V2/');
  assert.deepEqual([...(summary.deletedNames ?? [])].sort(), ['src/V2/', 'src/V2/Thing.php', 'src/new-in-v2.php']);
  assert.deepEqual([...(summary.watchedChanges ?? [])].sort(), ['src/new-in-v2.php', 'start.php']);
  assert.ok(lines.some((line) => line.includes(`restored ${snapshot} into ${target}: 3 file(s) written, 3 deleted`)));
  // The snapshot itself is unchanged by the restore, and the tree has no rsync leftovers.
  assert.equal(await readFile(join(snapshot, 'tree', 'start.php'), 'utf8'), '<?php // v1 start\n');
  assert.deepEqual(
    Object.keys(after).filter((path) => path.includes('~tmp~')),
    [],
  );

  // A second restore finds nothing to do.
  const again = await restoreSnapshot(hostRun(target, localShell()), snapshot, { protect });
  assert.equal(again.filesTransferred, 0);
  assert.equal(again.filesDeleted, 0);
  assert.deepEqual(again.watchedChanges, []);
});

test('a restore never deletes what its snapshot left out, even when the caller forgets to protect it', async () => {
  const target = await liveTree();
  const snapshot = await takeSnapshot(hostRun(target, localShell()), { exclude: ['/runtime/***', "/it's odd.log"] });
  await writeFile(join(target, "it's odd.log"), 'kept');
  await replaceByRename(join(target, 'start.php'), 'v2');
  const summary = await restoreSnapshot(hostRun(target, localShell()), snapshot, { protect: [] });
  assert.equal(await readFile(join(target, 'runtime', 'sessions', 'sess_a'), 'utf8'), 'a=1');
  assert.equal(await readFile(join(target, "it's odd.log"), 'utf8'), 'kept');
  assert.equal(await readFile(join(target, 'start.php'), 'utf8'), '<?php // v1 start\n');
  assert.equal(summary.filesDeleted, 0);
  await assert.rejects(takeSnapshot(hostRun(target, localShell()), { exclude: ['a\nb'] }), /the exclude pattern "a\\nb" spans lines/);
});

test('a restore does not copy mtimes: a restored file is dated by its restore, an unchanged one keeps its date', async () => {
  const target = await liveTree();
  const snapshot = await takeSnapshot(hostRun(target, localShell()));
  const old = new Date(Date.now() - 86_400_000);
  const { utimes } = await import('node:fs/promises');
  await utimes(join(target, 'src', 'Handlers', 'Echo.php'), old, old);
  await replaceByRename(join(target, 'start.php'), 'v2');
  const restoredAt = Date.now();
  await restoreSnapshot(hostRun(target, localShell()), snapshot, { protect: [] });
  assert.ok((await stat(join(target, 'start.php'))).mtimeMs >= restoredAt - 2000, 'start.php has a fresh mtime');
  assert.ok(Math.abs((await stat(join(target, 'src', 'Handlers', 'Echo.php'))).mtimeMs - old.getTime()) < 2000, 'Echo.php was not touched');
});

test('snapshots are listed newest first; a prune keeps the newest N and removes half-made ones, never touching the live tree', async () => {
  const target = await liveTree();
  // A directory without write permission inside the tree: its snapshot copies must still be removable.
  await mkdir(join(target, 'readonly'));
  await writeFile(join(target, 'readonly', 'file.php'), 'x');
  await chmod(join(target, 'readonly'), 0o555);
  const run = hostRun(target, localShell());
  assert.deepEqual(await listSnapshots(run), [], 'no snapshot yet, and no snapshots dir');
  const taken: string[] = [];
  for (let index = 0; index < 4; index++) taken.push(await takeSnapshot(run));
  assert.equal(new Set(taken).size, 4, 'unique names, even within one second');
  const listed = await listSnapshots(run);
  assert.deepEqual(listed, [...taken].reverse());
  await mkdir(join(snapshotsDirectory(target), '.partial-20200101T000000Z-999', 'src'), { recursive: true });
  await mkdir(join(snapshotsDirectory(target), 'not-a-snapshot'));
  assert.deepEqual(await listSnapshots(run), listed, 'half-made and foreign entries are never listed');

  const lines: string[] = [];
  const removed = await pruneSnapshots(hostRun(target, localShell(), lines), 2);
  assert.deepEqual(removed.sort(), [taken[0]!, taken[1]!, join(snapshotsDirectory(target), '.partial-20200101T000000Z-999')].sort());
  assert.deepEqual(await listSnapshots(run), [taken[3]!, taken[2]!]);
  assert.deepEqual(
    (await readdir(snapshotsDirectory(target))).sort(),
    [taken[2]!, taken[3]!, join(snapshotsDirectory(target), 'not-a-snapshot')].map((path) => path.slice(snapshotsDirectory(target).length + 1)).sort(),
  );
  assert.equal(await readFile(join(target, 'start.php'), 'utf8'), '<?php // v1 start\n');
  assert.equal((await stat(join(target, 'readonly'))).mode & 0o777, 0o555, 'the live tree keeps its permissions');
  assert.equal((await stat(join(target, 'start.php'))).nlink, 3, 'two snapshots left share the live file');
  assert.deepEqual(
    lines.filter((line) => line.startsWith('warning')),
    [],
  );

  assert.deepEqual(await pruneSnapshots(run, 2), [], 'nothing more to prune');
  await pruneSnapshots(run, 0);
  assert.deepEqual(await listSnapshots(run), []);
  assert.equal((await stat(join(target, 'start.php'))).nlink, 1);
  await assert.rejects(pruneSnapshots(run, -1), /keep-snapshots: -1/);
});

test('a target path with spaces, quotes and shell characters: snapshot, list, restore and prune', async () => {
  const target = await liveTree(`my app 'v2' "x" $(touch pwned) ;`);
  const run = hostRun(target, localShell());
  const snapshot = await takeSnapshot(run);
  assert.ok(snapshot.startsWith(join(temp.currentCase(), `.my app 'v2' "x" $(touch pwned) ;.graceful-reload`, 'snapshots') + '/'));
  assert.deepEqual(await listSnapshots(run), [snapshot]);
  await replaceByRename(join(target, 'src', 'config file.php'), 'v2');
  const summary = await restoreSnapshot(run, snapshot, { protect: ["/it's *.log"], watch: () => true });
  assert.deepEqual(summary.watchedChanges, ['src/config file.php']);
  assert.equal(await readFile(join(target, 'src', 'config file.php'), 'utf8'), '<?php return ["v" => 1];\n');
  await pruneSnapshots(run, 0);
  assert.deepEqual(await listSnapshots(run), []);
  assert.equal(existsSync(join(temp.currentCase(), 'pwned')), false);
  assert.equal(existsSync('pwned'), false);
});

test('a restore refuses a path that is not a snapshot of this target, and names a missing one; nothing is changed', async () => {
  const target = await liveTree();
  const commands: string[] = [];
  const run = hostRun(target, localShell(commands));
  for (const bad of [
    '/etc',
    `${snapshotsDirectory(target)}/../../app`,
    `${snapshotsDirectory(target)}/.partial-20250101T000000Z-1`,
    `${stateDirectory(target)}/lock`,
  ]) {
    const error = await restoreSnapshot(run, bad, { protect: [] }).catch((caught: unknown) => caught);
    assert.ok(error instanceof StepError, bad);
    assert.equal(error.step, 'rollback');
    assert.ok(error.message.includes(`"${bad}" is not a snapshot of ${target}`), error.message);
    assert.equal(error.filesMayHaveChanged, false);
  }
  assert.deepEqual(commands, [], 'no command was sent for a bad path');
  const missing = `${snapshotsDirectory(target)}/20200101T000000Z`;
  const error = await restoreSnapshot(run, missing, { protect: [] }).catch((caught: unknown) => caught);
  assert.ok(error instanceof StepError);
  assert.equal(error.message, `the snapshot ${missing} is not on the host (removed?); nothing was changed`);
  assert.equal(await readFile(join(target, 'start.php'), 'utf8'), '<?php // v1 start\n');
});

test('a snapshot of a target that is not there fails before the sync, with no file changed', async () => {
  const target = join(temp.nextCase(), 'app');
  const error = await takeSnapshot(hostRun(target, localShell())).catch((caught: unknown) => caught);
  assert.ok(error instanceof StepError);
  assert.equal(error.step, 'sync');
  assert.equal(error.filesMayHaveChanged, false);
  assert.match(error.message, /the target .*\/app is not a directory on the host; no file of the target was changed, and nothing was synced/);
});

test('the restore and snapshot get a longer timeout than one ordinary command; the restore a bigger output cap', async () => {
  const seen: { command: string; timeoutMs?: number; maxOutputBytes?: number }[] = [];
  const shell: RemoteShell = {
    run: async (command, options) => {
      seen.push({ command, ...options });
      return {
        stdout: command.includes('graceful-reload-snapshots') ? '@@graceful-reload-snapshot@@\n' : '@@graceful-reload-snapshot@@ 20250101T000000Z\n',
        stderr: '',
        code: 0,
      };
    },
    close: async () => undefined,
  };
  const run = hostRun('/srv/app', shell);
  await takeSnapshot(run, { exclude: ['/runtime/***'] });
  await restoreSnapshot(run, '/srv/.app.graceful-reload/snapshots/20250101T000000Z', { protect: ['/runtime/***'] });
  await listSnapshots(run);
  assert.deepEqual(
    seen.map((entry) => entry.timeoutMs),
    [60_000, 60_000, 10_000],
  );
  assert.ok(seen[0]!.command.endsWith("'*.pid' '/runtime/***'"), seen[0]!.command);
  assert.equal(seen[1]!.maxOutputBytes, 32 * 1024 * 1024);
  assert.ok(seen[1]!.command.includes("'--filter=protect *.pid' '--filter=hide /runtime/***' '--filter=protect /runtime/***'"), seen[1]!.command);
  assert.deepEqual(
    restoreArguments([]).filter((arg) => /^--(times|archive)$|^-a$/.test(arg)),
    [],
    'mtimes are not copied',
  );
});

test('a failing restore is a rollback failure that says files may have changed', async () => {
  const shell: RemoteShell = {
    run: async () => ({ stdout: '', stderr: 'rsync: write failed on "/srv/app/x": No space left on device (28)\n', code: 11 }),
    close: async () => undefined,
  };
  const error = await restoreSnapshot(hostRun('/srv/app', shell), '/srv/.app.graceful-reload/snapshots/20250101T000000Z', { protect: [] }).catch(
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof StepError);
  assert.equal(error.step, 'rollback');
  assert.equal(error.filesMayHaveChanged, true);
  assert.match(
    error.message,
    /restoring .*20250101T000000Z into \/srv\/app: rsync failed \(exit 11: error in file I\/O\): rsync: write failed .*No space left on device/,
  );
});

test('free space: enough passes and says how much, too little fails preflight naming both figures', async () => {
  const target = await liveTree();
  const run = hostRun(target, localShell());
  const free = await freeSpaceCheck(run, 1024);
  assert.ok(free > 1024);
  const error = await freeSpaceCheck(run, free * 4 + 1024 ** 4).catch((caught: unknown) => caught);
  assert.ok(error instanceof StepError);
  assert.equal(error.step, 'preflight');
  assert.equal(error.filesMayHaveChanged, false);
  assert.match(
    error.message,
    new RegExp(
      `^only [\\d.]+ (MB|KB|bytes) free on the file system of ${join(temp.currentCase()).replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} \\(mounted at /.*\\), but [\\d.]+ MB are needed for the snapshot and the changed files; nothing was changed$`,
    ),
  );
  const missing = await freeSpaceCheck(hostRun(join(temp.path(), 'no-such-dir', 'app'), localShell()), 1).catch((caught: unknown) => caught);
  assert.ok(missing instanceof StepError);
  assert.match(missing.message, /cannot read the free space of .*no-such-dir \(df -Pk: exit 1: .*No such file or directory/);
});

test('df -Pk output is read from the end of the line, so names with spaces work', () => {
  const out = 'Filesystem     1024-blocks      Used Available Capacity Mounted on\n/dev/mapper/vg-root 102400 2048 100352 2% /srv/my data\n';
  assert.deepEqual(parseDfAvailable(out), { availableBytes: 100352 * 1024, mountedOn: '/srv/my data' });
  assert.deepEqual(parseDfAvailable('Filesystem 1024-blocks Used Available Capacity Mounted on\nmy share 10 - 5 - /mnt\n'), undefined);
  assert.equal(parseDfAvailable(''), undefined);
});

test('a sync changed nothing only when it wrote, created and deleted nothing, and no failed attempt before it reached the host', () => {
  const none = { filesTransferred: 0, filesDeleted: 0, phpEditsOnly: true };
  assert.equal(changedNothing(none), true);
  assert.equal(changedNothing({ ...none, filesTransferred: 1 }), false);
  assert.equal(changedNothing({ ...none, filesDeleted: 1 }), false);
  assert.equal(changedNothing({ ...none, phpEditsOnly: false }), false, 'a directory or a link created');
  assert.equal(changedNothing({ filesTransferred: 0, filesDeleted: 0 }), false, 'unknown itemization');
  assert.equal(changedNothing({ ...none, earlierAttemptReached: true }), false, 'a failed attempt may have written files');
});
