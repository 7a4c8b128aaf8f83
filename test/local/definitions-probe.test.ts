import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, realpath, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { definitionsCommand, parseDefinitions, DefinitionsError, type AppDefinitions } from '../../src/workerman/app-definitions.js';
import { execFile, processesMentioning, type Exec } from '../rig/process.js';
import { freePort, REPO } from '../rig/rig.js';
import { workermanVendor, WORKERMAN_RELEASES, type WorkermanMajor } from '../rig/workerman-vendor.js';

/**
 * src/remote/definitions.php run for real: the exact command the action sends
 * to a host, run here with `sh -c`, against the example app, a few tiny start
 * scripts and GatewayWorker, on real Workerman 4 and 5. No SSH: the command is
 * plain POSIX shell and the probe reads only the app directory.
 */

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.setTimeout(1000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * A process that records every signal a master could be sent (stop, reload,
 * status's SIGIOT...), standing in for a running master in the pid file: the
 * probe must send it nothing.
 */
async function signalWitness(): Promise<{ pid: number; received: () => string[]; end: () => Promise<void> }> {
  const code = `pcntl_async_signals(true);
    foreach ([SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2, SIGTERM, SIGIOT, SIGPIPE, SIGALRM] as $s) pcntl_signal($s, function ($n) { echo "signal $n\\n"; });
    echo "ready\\n";
    while (true) sleep(1);`;
  const child = spawn('php', ['-r', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!output.includes('ready')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`the signal witness did not start: ${output}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return {
    pid: child.pid!,
    received: () => output.split('\n').filter((line) => line.startsWith('signal ')),
    end: async () => {
      child.kill('SIGKILL');
      await exited;
    },
  };
}

let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'gr-definitions-probe-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

for (const major of [5, 4] as const satisfies readonly WorkermanMajor[]) {
  describe(`definition probe on Workerman ${WORKERMAN_RELEASES[major]}`, () => {
    let base: string;
    let probeTmp: string;
    let vendor: string;
    let serial = 0;

    before(async () => {
      vendor = join(workermanVendor(major), 'vendor');
      base = await mkdtemp(join(root, `v${major}-`));
      // The probe's private temp file goes here, so the tests can see it is removed.
      probeTmp = join(base, 'probe-tmp');
      await mkdir(probeTmp);
    });

    /** A fresh app directory with its own copy of vendor/ (4.x writes its pid and log files inside vendor/workerman/). */
    async function appDir(files: Record<string, string>): Promise<string> {
      const dir = join(base, `app-${++serial}`);
      await mkdir(dir);
      await cp(vendor, join(dir, 'vendor'), { recursive: true });
      for (const [path, text] of Object.entries(files)) {
        await mkdir(join(dir, path, '..'), { recursive: true });
        await writeFile(join(dir, path), text);
      }
      // PHP reports resolved paths.
      return realpath(dir);
    }

    async function exampleApp(): Promise<string> {
      const dir = await appDir({});
      await cp(join(REPO, 'examples/app'), dir, { recursive: true });
      await writeFile(join(dir, 'src/version.php'), "<?php return 'v1';\n");
      return dir;
    }

    /** The action's own command line, run locally the way the host's login shell runs it. */
    async function runProbe(dir: string, env: Record<string, string> = {}): Promise<Exec> {
      const command = definitionsCommand({ target: dir, startFile: 'start.php', php: 'php' });
      const result = await execFile('sh', ['-c', command], { env: { ...process.env, TMPDIR: probeTmp, ...env }, timeoutMs: 30_000 });
      assert.deepEqual(await readdir(probeTmp), [], 'the probe removes its temp file whatever the outcome');
      return result;
    }

    async function definitionsOf(dir: string, env: Record<string, string> = {}): Promise<AppDefinitions> {
      const result = await runProbe(dir, env);
      assert.equal(result.code, 0, `the probe run failed: ${result.stderr}${result.stdout}`);
      return parseDefinitions(result);
    }

    /** Where Workerman puts a runtime file by default: 5.x beside the start file, 4.x in vendor/workerman/ (resolved, no `..`). */
    function defaultRuntimeFile(dir: string, kind: 'pid' | 'log'): string {
      const startFile = join(dir, 'start.php');
      if (major === 5) return kind === 'pid' ? join(dir, 'workerman.start.php.pid') : join(dir, 'workerman.log');
      return kind === 'pid' ? join(dir, 'vendor/workerman', `${startFile.replaceAll('/', '_')}.pid`) : join(dir, 'vendor/workerman/workerman.log');
    }

    test('the example app: its three groups in definition order, Workerman version, runtime files and top-level files', async () => {
      const dir = await exampleApp();
      const [httpPort, wsPort] = [await freePort(), await freePort()];
      const pidFile = defaultRuntimeFile(dir, 'pid');
      // A "master" in the pid file that records any signal it gets.
      const witness = await signalWitness();
      try {
        await writeFile(pidFile, `${witness.pid}\n`);
        const definitions = await definitionsOf(dir, { APP_HTTP_PORT: String(httpPort), APP_WS_PORT: String(wsPort) });

        assert.equal(definitions.workerman, WORKERMAN_RELEASES[major]);
        assert.match(definitions.php, /^\d+\.\d+\.\d+/);
        assert.deepEqual(definitions.groups, [
          { class: 'Workerman\\Worker', name: 'web', count: 4, reloadable: true, listen: `http://127.0.0.1:${httpPort}`, user: '' },
          { class: 'Workerman\\Worker', name: 'gateway', count: 2, reloadable: false, listen: `websocket://127.0.0.1:${wsPort}`, user: '' },
          { class: 'Workerman\\Worker', name: 'task', count: 1, reloadable: true, listen: 'none', user: '' },
        ]);
        assert.equal(definitions.startFile, join(dir, 'start.php'));
        assert.equal(definitions.pidFile, pidFile);
        assert.equal(definitions.logFile, defaultRuntimeFile(dir, 'log'));
        for (const path of [definitions.pidFile, definitions.logFile]) assert.doesNotMatch(path, /\/\.\.?(\/|$)/, `${path} is resolved`);
        // 4.x leaves the status file to each `status` run (workerman-<pid>.status).
        assert.equal(definitions.statusFile, major === 5 ? join(dir, 'workerman.start.php.status') : '');
        assert.equal(definitions.stdoutFile, '/dev/null');
        assert.equal(definitions.stopTimeout, 2);

        assert.equal(definitions.includedFiles[0], join(dir, 'start.php'));
        assert.ok(definitions.includedFiles.includes(join(dir, 'vendor/autoload.php')));
        // Loaded only in onWorkerStart: worker code, which a reload does refresh.
        for (const file of ['src/handler.php', 'src/task.php', 'src/version.php', 'status/GracefulReloadStatus.php']) {
          assert.ok(!definitions.includedFiles.includes(join(dir, file)), `${file} is not master-level code`);
        }

        // Nothing was started and nothing was signalled.
        assert.deepEqual(await processesMentioning(dir), [], 'no process runs the app');
        assert.equal(await listening(httpPort), false, 'nothing listens on the http port');
        assert.equal(await listening(wsPort), false, 'nothing listens on the websocket port');
        assert.deepEqual(witness.received(), [], 'the pid in the pid file got no signal');
        assert.equal(process.kill(witness.pid, 0), true);
        assert.equal((await readFile(pidFile, 'utf8')).trim(), String(witness.pid), 'the pid file is left alone');
      } finally {
        await witness.end();
      }
    });

    test('no pid file and no master: still only read, nothing written but the log file Workerman creates', async () => {
      const dir = await exampleApp();
      const before = new Set(await readdir(dir));
      const definitions = await definitionsOf(dir, { APP_HTTP_PORT: String(await freePort()), APP_WS_PORT: String(await freePort()) });
      assert.deepEqual(
        definitions.groups.map((group) => group.name),
        ['web', 'gateway', 'task'],
      );
      const created = (await readdir(dir)).filter((name) => !before.has(name)).sort();
      assert.deepEqual(created, major === 5 ? ['workerman.log'] : []);
      // Workerman creates its log file if missing (4.x in vendor/workerman/); no pid file, no status file.
      assert.ok((await readdir(join(dir, 'vendor/workerman'))).includes('workerman.log') === (major === 4));
      await assert.rejects(readFile(defaultRuntimeFile(dir, 'pid')), { code: 'ENOENT' });
      assert.equal(await readFile(defaultRuntimeFile(dir, 'log'), 'utf8'), '');
    });

    test('a syntax error in a file the start script requires at top level: the error quotes PHP', async () => {
      const dir = await appDir({
        'start.php': `<?php
use Workerman\\Worker;
require_once __DIR__ . '/vendor/autoload.php';
$web = new Worker('http://127.0.0.1:${await freePort()}');
$web->name = 'web';
require __DIR__ . '/config/app.php';
Worker::runAll();
`,
        'config/app.php': "<?php\nreturn ['debug' => true 'name' => 'shop'];\n",
      });
      const result = await runProbe(dir);
      assert.notEqual(result.code, 0);
      assert.throws(
        () => parseDefinitions(result),
        (error: unknown) => {
          assert.ok(error instanceof DefinitionsError);
          assert.match(error.message, /syntax error, unexpected .*"name"/);
          assert.ok(error.message.includes(`${dir}/config/app.php on line 2`), error.message);
          return true;
        },
      );
    });

    test('an uncaught exception before Workerman is loaded: the error quotes it', async () => {
      const dir = await appDir({
        'start.php': "<?php\nthrow new RuntimeException('config/database.php is missing');\n",
      });
      const result = await runProbe(dir);
      assert.throws(() => parseDefinitions(result), /Uncaught RuntimeException: config\/database\.php is missing/);
    });

    test('a start script that never defines a Worker is not taken for the app', async () => {
      const dir = await appDir({ 'start.php': '<?php\nrequire_once __DIR__ . \'/vendor/autoload.php\';\necho "hello\\n";\n' });
      const result = await runProbe(dir);
      assert.throws(() => parseDefinitions(result), DefinitionsError);
    });

    test('runtime files moved to runtime/ by the app (as frameworks do): those paths come back', async () => {
      const dir = await appDir({
        'start.php': `<?php
use Workerman\\Worker;
require_once __DIR__ . '/vendor/autoload.php';
Worker::$pidFile = __DIR__ . '/runtime/workerman.pid';
Worker::$logFile = __DIR__ . '/runtime/logs/workerman.log';
Worker::$statusFile = __DIR__ . '/runtime/workerman.status';
Worker::$stdoutFile = __DIR__ . '/runtime/logs/stdout.log';
Worker::$stopTimeout = 7;
$web = new Worker('http://127.0.0.1:${await freePort()}');
$web->name = 'webman';
$web->count = 8;
$monitor = new Worker();
$monitor->name = 'monitor';
$monitor->reloadable = false;
Worker::runAll();
`,
        'runtime/logs/.gitkeep': '',
      });
      const definitions = await definitionsOf(dir);
      assert.equal(definitions.pidFile, join(dir, 'runtime/workerman.pid'));
      assert.equal(definitions.logFile, join(dir, 'runtime/logs/workerman.log'));
      assert.equal(definitions.statusFile, join(dir, 'runtime/workerman.status'));
      assert.equal(definitions.stdoutFile, join(dir, 'runtime/logs/stdout.log'));
      assert.equal(definitions.stopTimeout, 7);
      assert.deepEqual(
        definitions.groups.map(({ name, count, reloadable, listen }) => ({ name, count, reloadable, listen })),
        [
          { name: 'webman', count: 8, reloadable: true, listen: definitions.groups[0]!.listen },
          { name: 'monitor', count: 1, reloadable: false, listen: 'none' },
        ],
      );
      assert.match(definitions.groups[0]!.listen, /^http:\/\/127\.0\.0\.1:\d+$/);
    });

    test('content hashes, and which master-level files each reloadable group reads again at its start', async () => {
      const port = await freePort();
      const dir = await appDir({
        'start.php': `<?php
use Workerman\\Worker;
require_once __DIR__ . '/vendor/autoload.php';
require_once __DIR__ . '/src/helpers.php';
$captured = require __DIR__ . '/config/captured.php';
$settings = require __DIR__ . '/config/app.php';
require __DIR__ . '/config/functions.php';
$web = new Worker('http://127.0.0.1:${port}');
$web->name = 'web';
$web->onWorkerStart = function () {
    $GLOBALS['settings'] = require __DIR__ . '/config/app.php';
    require __DIR__ . '/config/functions.php';
    require_once __DIR__ . '/src/helpers.php';
    require __DIR__ . '/src/handler.php';
};
$web->onMessage = function ($connection) use ($captured) {
    $connection->send($captured['greeting']);
};
$task = new Worker();
$task->name = 'task';
$task->onWorkerStart = function () {
    $GLOBALS['settings'] = require __DIR__ . '/config/app.php';
    file_put_contents(__DIR__ . '/task-started', defined('GRACEFUL_RELOAD_PROBE') ? 'in the probe' : 'in a worker');
};
$kept = new Worker();
$kept->name = 'kept';
$kept->reloadable = false;
$kept->onWorkerStart = function () {
    file_put_contents(__DIR__ . '/kept-started', 'yes');
};
Worker::runAll();
`,
        'config/captured.php': "<?php return ['greeting' => 'one'];\n",
        'config/app.php': "<?php return ['timezone' => 'UTC', 'make' => function () { return new ArrayObject(); }, 'class' => ArrayObject::class];\n",
        'config/functions.php': "<?php\nif (!function_exists('app_helper')) {\n    function app_helper() { return 1; }\n}\n",
        'src/helpers.php': '<?php\nfunction helper() { return 2; }\n',
        'src/handler.php': "<?php return 'handler';\n",
      });
      const definitions = await definitionsOf(dir);
      const file = (path: string) => join(dir, path);
      const { createHash } = await import('node:crypto');
      for (const path of ['start.php', 'config/app.php', 'vendor/autoload.php']) {
        assert.equal(
          definitions.fileHashes?.[file(path)],
          createHash('sha256')
            .update(await readFile(file(path)))
            .digest('hex'),
          path,
        );
      }
      // web and task (reloadable) answered; kept (reloadable = false) is never replaced by a reload, so it was not run.
      assert.deepEqual(definitions.workerStart, {
        groups: [
          { group: 0, reread: [file('config/app.php'), file('config/functions.php')] },
          { group: 1, reread: [file('config/app.php')] },
        ],
        declaring: [file('config/functions.php')],
      });
      assert.equal(
        await readFile(file('task-started'), 'utf8'),
        'in the probe',
        "the task group's start ran, as a new worker's would, and could tell it was the probe",
      );
      await assert.rejects(readFile(file('kept-started')), { code: 'ENOENT' });
      assert.deepEqual(await processesMentioning(dir), [], 'the children are gone');
      assert.equal(await listening(port), false);
    });

    test('a worker start that throws or exits answers with why; the others still answer', async () => {
      const dir = await appDir({
        'start.php': `<?php
use Workerman\\Worker;
require_once __DIR__ . '/vendor/autoload.php';
$settings = require __DIR__ . '/config/app.php';
$db = new Worker();
$db->name = 'db';
$db->onWorkerStart = function () {
    throw new RuntimeException('SQLSTATE[HY000] [2002] Connection refused');
};
$quits = new Worker();
$quits->name = 'quits';
$quits->onWorkerStart = function () {
    exit(0);
};
$plain = new Worker();
$plain->name = 'plain';
Worker::runAll();
`,
        'config/app.php': '<?php return [];\n',
      });
      const definitions = await definitionsOf(dir);
      assert.deepEqual(definitions.workerStart, {
        groups: [
          { group: 0, error: `onWorkerStart threw RuntimeException: SQLSTATE[HY000] [2002] Connection refused in ${join(dir, 'start.php')} on line 8` },
          { group: 1, error: 'onWorkerStart ended the process without returning (exit, or a fatal error)' },
          { group: 2, reread: [] },
        ],
        declaring: [],
      });
      assert.deepEqual(await processesMentioning(dir), []);
    });

    test('asked not to run the worker start (the read after the sync): no answer, nothing run', async () => {
      const dir = await appDir({
        'start.php': `<?php
use Workerman\\Worker;
require_once __DIR__ . '/vendor/autoload.php';
$task = new Worker();
$task->name = 'task';
$task->onWorkerStart = function () {
    file_put_contents(__DIR__ . '/task-started', 'yes');
};
Worker::runAll();
`,
      });
      const command = definitionsCommand({ target: dir, startFile: 'start.php', php: 'php' }, { workerStart: false });
      const result = await execFile('sh', ['-c', command], { env: { ...process.env, TMPDIR: probeTmp }, timeoutMs: 30_000 });
      const definitions = parseDefinitions(result);
      assert.equal(definitions.workerStart, undefined);
      assert.ok(definitions.fileHashes?.[join(dir, 'start.php')]);
      await assert.rejects(readFile(join(dir, 'task-started')), { code: 'ENOENT' });
    });

    test('GatewayWorker: Register and Gateway are not reloadable, BusinessWorker is and listens nowhere', async () => {
      const [registerPort, gatewayPort, startPort] = [await freePort(), await freePort(), await freePort()];
      const dir = await appDir({
        'start.php': `<?php
use GatewayWorker\\BusinessWorker;
use GatewayWorker\\Gateway;
use GatewayWorker\\Register;
use Workerman\\Worker;
require_once __DIR__ . '/vendor/autoload.php';

$register = new Register('text://127.0.0.1:${registerPort}');

$gateway = new Gateway('websocket://127.0.0.1:${gatewayPort}');
$gateway->name = 'ChatGateway';
$gateway->count = 2;
$gateway->lanIp = '127.0.0.1';
$gateway->startPort = ${startPort};
$gateway->registerAddress = '127.0.0.1:${registerPort}';

$business = new BusinessWorker();
$business->name = 'ChatBusinessWorker';
$business->count = 4;
$business->registerAddress = '127.0.0.1:${registerPort}';
$business->eventHandler = 'Events';

$settings = require __DIR__ . '/config/app.php';
class Events
{
    public static function onWorkerStart()
    {
        $GLOBALS['settings'] = require __DIR__ . '/config/app.php';
    }
}

Worker::runAll();
`,
        'config/app.php': "<?php return ['room' => 'lobby'];\n",
      });
      const definitions = await definitionsOf(dir);
      // Only the BusinessWorkers are replaced by a reload: their event handler's start is run, not BusinessWorker's own (which connects to the Register).
      assert.deepEqual(definitions.workerStart, { groups: [{ group: 2, reread: [join(dir, 'config/app.php')] }], declaring: [] });
      assert.deepEqual(
        definitions.groups.map(({ class: kind, name, count, reloadable, listen }) => ({ kind, name, count, reloadable, listen })),
        [
          { kind: 'GatewayWorker\\Register', name: 'Register', count: 1, reloadable: false, listen: `text://127.0.0.1:${registerPort}` },
          { kind: 'GatewayWorker\\Gateway', name: 'ChatGateway', count: 2, reloadable: false, listen: `websocket://127.0.0.1:${gatewayPort}` },
          { kind: 'GatewayWorker\\BusinessWorker', name: 'ChatBusinessWorker', count: 4, reloadable: true, listen: 'none' },
        ],
      );
      assert.deepEqual(await processesMentioning(dir), []);
      for (const port of [registerPort, gatewayPort]) assert.equal(await listening(port), false);
    });
  });
}
