import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRestartOutput, tcpPorts } from '../../src/workerman/restart-output.js';

const result = (stdout: string, code = 0) => ({ stdout, stderr: '', code });

test('a restart that went well: its times, the connections it closed and what start -d printed', () => {
  const measure = parseRestartOutput(
    result(
      'connections=3\nsignalled=1000\nstopped=1042\nkilled=0\nstart-exit=0\nlistening=1170\nstart-output:\nWorkerman[start.php] start in DAEMON mode\nStart success.\n',
    ),
  );
  assert.equal(measure.outcome, 'started');
  assert.equal(measure.connectionsClosed, 3);
  assert.equal(measure.signalledAt, 1000);
  assert.equal(measure.stoppedAt, 1042);
  assert.equal(measure.listeningAt, 1170);
  assert.equal(measure.killed, 0);
  assert.equal(measure.startOutput, 'Workerman[start.php] start in DAEMON mode\nStart success.');
});

test('connections that could not be counted are unknown, not zero', () => {
  assert.equal(parseRestartOutput(result('connections=unknown\nsignalled=1\nstopped=2\nkilled=0\nstart-exit=0\nstart-output:\n')).connectionsClosed, null);
});

test('no listener came: started, but with no end to the unserved window', () => {
  const measure = parseRestartOutput(result('connections=0\nsignalled=1\nstopped=2\nkilled=2\nstart-exit=0\nstart-output:\n'));
  assert.equal(measure.outcome, 'started');
  assert.equal(measure.listeningAt, undefined);
  assert.equal(measure.killed, 2);
});

test('where the restart stopped: the signal refused, the master never gone, start -d failing', () => {
  assert.equal(parseRestartOutput(result('connections=0\nsignalled=1\nsignal-failed\n', 3)).outcome, 'signal-failed');
  assert.equal(parseRestartOutput(result('connections=0\nsignalled=1\nkilled=4\nnot-stopped\n', 4)).outcome, 'not-stopped');
  const failed = parseRestartOutput(result('connections=0\nsignalled=1\nstopped=2\nkilled=0\nstart-exit=255\nstart-output:\nPHP Fatal error\n', 255));
  assert.equal(failed.outcome, 'start-failed');
  assert.equal(failed.exit, 'exit 255');
  assert.equal(failed.startOutput, 'PHP Fatal error');
});

test("a start-output line inside what Workerman printed stays Workerman's", () => {
  const measure = parseRestartOutput(result('start-exit=0\nstart-output:\nfirst\nstart-output:\nlast\n'));
  assert.equal(measure.startOutput, 'first\nstart-output:\nlast');
});

test('the TCP ports of listen addresses: schemes over TCP, one port once, no UDP, Unix or none', () => {
  assert.deepEqual(
    tcpPorts([
      'http://0.0.0.0:8080',
      'websocket://[::1]:8282',
      'text://127.0.0.1:1238',
      'udp://0.0.0.0:9000',
      'unix:///tmp/a.sock',
      'none',
      'http://127.0.0.1:8080',
    ]),
    [1238, 8080, 8282],
  );
});
