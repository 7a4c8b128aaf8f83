import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRsyncFailure, parseRsyncStats, RSYNC_TAIL_CHARS, TailText } from '../../src/adapters/rsync-sync.js';

test('killed by a signal: the signal is named, and files may have been replaced', () => {
  const failure = describeRsyncFailure({ code: null, signal: 'SIGKILL', stderr: '', stdoutChars: 120 });
  assert.equal(failure.step, 'sync');
  assert.equal(failure.filesMayHaveChanged, true);
  assert.match(failure.message, /^rsync was killed by SIGKILL; some files may have been replaced: rsync renames them into place only at its end \(--delay-updates\)/);
  assert.doesNotMatch(failure.message, /exit null/);
});

test('a failure with an exit code names its meaning and the last lines of stderr', () => {
  const failure = describeRsyncFailure({
    code: 23,
    signal: null,
    stderr: 'rsync: [receiver] mkstemp "/srv/app/.~tmp~/a" failed: No space left on device (28)\nrsync error: some files/attrs were not transferred (code 23)\n',
    stdoutChars: 500,
  });
  assert.match(failure.message, /^rsync failed \(exit 23: partial transfer due to error\): rsync: \[receiver\] mkstemp .* \| rsync error: some files\/attrs were not transferred \(code 23\); some files may have been replaced/);
  assert.equal(failure.filesMayHaveChanged, true);
});

test('a connection that never came up: no file on the host was changed', () => {
  const failure = describeRsyncFailure({
    code: 255,
    signal: null,
    stderr: 'ssh: connect to host 127.0.0.1 port 2222: Connection refused\r\nrsync: connection unexpectedly closed (0 bytes received so far) [sender]\nrsync error: unexplained error (code 255)\n',
    stdoutChars: 0,
  });
  assert.equal(failure.filesMayHaveChanged, false);
  assert.match(failure.message, /^rsync failed \(exit 255: the SSH connection failed or was lost\): ssh: connect to host .* Connection refused \| .*; rsync never reached the host, so no file on it was changed$/);
});

test('a connection lost mid-transfer (exit 255 after output) may have changed files', () => {
  const failure = describeRsyncFailure({ code: 255, signal: null, stderr: 'Connection to 127.0.0.1 closed by remote host.\n', stdoutChars: 40 });
  assert.equal(failure.filesMayHaveChanged, true);
});

test('a host key refused by OpenSSH is the host-key step, and nothing changed', () => {
  const failure = describeRsyncFailure({ code: 255, signal: null, stderr: 'No ED25519 host key is known for [127.0.0.1]:2222 and you have requested strict checking.\nHost key verification failed.\n', stdoutChars: 0 });
  assert.equal(failure.step, 'host-key');
  assert.equal(failure.filesMayHaveChanged, false);
});

test('rsync output is kept as its tail only, and the stats at its end still parse', () => {
  const tail = new TailText();
  const line = '>f+++++++++ some/file/name/that/is/long.php\n';
  for (let i = 0; i < 200_000; i++) tail.add(line);
  const stats = '\nNumber of files: 200,001\nNumber of regular files transferred: 200,000\nNumber of deleted files: 3\n';
  tail.add(stats);
  assert.ok(tail.value.length <= RSYNC_TAIL_CHARS);
  assert.equal(tail.total, 200_000 * line.length + stats.length);
  assert.deepEqual(parseRsyncStats(tail.value), { filesTransferred: 200_000, filesDeleted: 3 });
});
