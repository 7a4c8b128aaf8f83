import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeRsyncFailure, parseRsyncStats, RSYNC_TAIL_CHARS, TailText } from '../../src/engine/rsync-output.js';

test('killed by a signal: the signal is named, and files may have been replaced', () => {
  const failure = describeRsyncFailure({ code: null, signal: 'SIGKILL', stderr: '', remoteStarted: true });
  assert.equal(failure.filesMayHaveChanged, true);
  assert.match(
    failure.message,
    /^rsync was killed by SIGKILL; some files may have been replaced: rsync renames them into place only at its end \(--delay-updates\)/,
  );
  assert.doesNotMatch(failure.message, /exit null/);
});

test('a failure with an exit code names its meaning and the last lines of stderr', () => {
  const failure = describeRsyncFailure({
    code: 23,
    signal: null,
    stderr:
      'rsync: [receiver] mkstemp "/srv/app/.~tmp~/a" failed: No space left on device (28)\nrsync error: some files/attrs were not transferred (code 23)\n',
    remoteStarted: true,
  });
  assert.match(
    failure.message,
    /^rsync failed \(exit 23: partial transfer due to error\): rsync: \[receiver\] mkstemp .* \| rsync error: some files\/attrs were not transferred \(code 23\); some files may have been replaced/,
  );
  assert.equal(failure.filesMayHaveChanged, true);
});

test('rsync whose remote end never started on the host changed no file there', () => {
  const failure = describeRsyncFailure({
    code: 12,
    signal: null,
    stderr: 'rsync: connection unexpectedly closed (0 bytes received so far) [sender]\ncould not start rsync on the host: the connection closed\n',
    remoteStarted: false,
  });
  assert.equal(failure.filesMayHaveChanged, false);
  assert.match(
    failure.message,
    /^rsync failed \(exit 12: error in the rsync protocol data stream\): .* \| could not start rsync on the host: the connection closed; rsync never started on the host, so no file on it was changed$/,
  );
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
