import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, cp, mkdtemp, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  parseProbeOutput,
  parseWorkerTitle,
  probeCommand,
  probeRequestLine,
  type ProbeRequest,
  type ProbeResult,
  type ProbeSetup,
} from '../../src/workerman/host-probe.js';
import { ResidentProbe } from '../../src/status/resident-probe.js';
import { localShell } from '../unit/local-host.js';
import { execFile, processesMentioning, processTitle, waitFor } from '../rig/process.js';
import { childProcesses, freePort, REPO } from '../rig/rig.js';
import { workermanVendor, WORKERMAN_RELEASES, type WorkermanMajor } from '../rig/workerman-vendor.js';

/**
 * src/remote/host-probe.php run for real: the example app is started with
 * `php start.php start -d` on real Workerman 4 and 5, and the exact command
 * the action sends each poll is run here with `sh -c` (no SSH; the probe
 * reads /proc, the pid file, the log and an optional URL on the machine it
 * runs on).
 */

/** A process's start time in clock ticks: with the pid, it names one process for good. */
async function startTime(pid: number): Promise<number | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return stat === '' || fields[0] === 'Z' ? undefined : Number(fields[19]);
}

function kill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

interface RunningApp {
  readonly dir: string;
  readonly startFile: string;
  readonly httpPort: number;
  readonly wsPort: number;
  readonly pidFile: string;
  readonly logFile: string;
  readonly masterPid: number;
}

let root: string;

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'gr-host-probe-'));
});

after(async () => {
  await rm(root, { recursive: true, force: true });
});

for (const major of [5, 4] as const satisfies readonly WorkermanMajor[]) {
  describe(`host probe against the example app on Workerman ${WORKERMAN_RELEASES[major]}`, () => {
    let app: RunningApp;
    /** Every process this suite saw belong to its app (pid and start time), killed outright if `stop` leaves any. */
    const seen = new Map<number, number>();
    const remember = async (pid: number) => {
      const start = await startTime(pid);
      if (start !== undefined) seen.set(pid, start);
    };
    let dir = '';

    before(async () => {
      const vendor = join(workermanVendor(major), 'vendor');
      dir = await realpath(await mkdtemp(join(root, `v${major}-`)));
      await cp(join(REPO, 'examples/app'), dir, { recursive: true });
      await writeFile(join(dir, 'src/version.php'), "<?php return 'v1';\n");
      // A copy, not a link: 4.x writes its pid, log and status files into vendor/workerman/.
      await cp(vendor, join(dir, 'vendor'), { recursive: true });
      const startFile = join(dir, 'start.php');
      const [httpPort, wsPort] = [await freePort(), await freePort()];
      const pidFile = major === 5 ? join(dir, 'workerman.start.php.pid') : join(dir, 'vendor/workerman', `${startFile.replaceAll('/', '_')}.pid`);
      const logFile = major === 5 ? join(dir, 'workerman.log') : join(dir, 'vendor/workerman/workerman.log');

      const started = await execFile('sh', ['-c', 'php start.php start -d >start.out 2>&1 </dev/null'], {
        cwd: dir,
        env: { ...process.env, APP_HTTP_PORT: String(httpPort), APP_WS_PORT: String(wsPort) },
        timeoutMs: 30_000,
      });
      const masterPid = await waitFor(
        `the Workerman ${major} master to write ${pidFile}`,
        async () => {
          const pid = Number((await readFile(pidFile, 'utf8').catch(() => '')).trim());
          return pid > 0 ? pid : undefined;
        },
        20_000,
      ).catch(async (error: Error) => {
        throw new Error(`${error.message} (start exit ${started.code}: ${await readFile(join(dir, 'start.out'), 'utf8').catch(() => '')})`);
      });
      await remember(masterPid);
      await waitFor(
        '7 titled workers',
        async () => {
          const workers = (await childProcesses(masterPid)).filter((child) => child.title.includes('worker process'));
          for (const worker of workers) await remember(worker.pid);
          return workers.length === 7;
        },
        20_000,
      );
      app = { dir, startFile, httpPort, wsPort, pidFile, logFile, masterPid };
    });

    after(async () => {
      if (dir === '') return;
      await execFile('php', ['start.php', 'stop'], { cwd: dir, timeoutMs: 30_000 }).catch(() => undefined);
      // Anything left (a master that ignored stop, an orphaned worker): killed by pid, only if still the same process.
      for (const { pid } of await processesMentioning(dir)) await remember(pid);
      const alive = async () => {
        const left: number[] = [];
        for (const [pid, start] of seen) if ((await startTime(pid)) === start) left.push(pid);
        return left;
      };
      for (const pid of await alive()) kill(pid, 'SIGKILL');
      const gone = await waitFor('the app to be gone', async () => (await alive()).length === 0, 10_000).catch(() => false);
      assert.ok(gone, `processes left behind: ${(await alive()).join(', ')}`);
    });

    type ProbeOptions = ProbeSetup & ProbeRequest;

    function options(extra: Partial<ProbeOptions> = {}): ProbeOptions {
      return {
        php: 'php',
        startFile: app.startFile,
        pidFile: app.pidFile,
        logFile: app.logFile,
        logOffset: -1,
        statusUrl: '',
        urlTimeoutMs: 2000,
        knownMaster: 0,
        ...extra,
      };
    }

    /** The action's own command line, run the way the host's login shell runs it, asked one question. */
    async function probe(extra: Partial<ProbeOptions> = {}): Promise<ProbeResult> {
      const asked = options(extra);
      const result = await execFile('sh', ['-c', probeCommand(asked)], { input: probeRequestLine(asked), timeoutMs: 20_000 });
      assert.equal(result.code, 0, `the probe failed: ${result.stderr}`);
      assert.equal(result.stderr, '', 'the probe prints no warning');
      assert.equal(result.stdout.split('\n').length, 2, 'one question, one line');
      return parseProbeOutput(result.stdout);
    }

    function assertTheApp(result: ProbeResult): void {
      assert.deepEqual(
        result.masters.map((master) => ({ pid: master.pid, title: master.title })),
        [{ pid: app.masterPid, title: `WorkerMan: master process  start_file=${app.startFile}` }],
      );
      const master = result.masters[0]!;
      assert.notEqual(master.state, 'Z');
      assert.deepEqual(result.workers.map((worker) => worker.title).sort(), [
        `WorkerMan: worker process  gateway websocket://127.0.0.1:${app.wsPort}`,
        `WorkerMan: worker process  gateway websocket://127.0.0.1:${app.wsPort}`,
        `WorkerMan: worker process  task none`,
        ...Array<string>(4).fill(`WorkerMan: worker process  web http://127.0.0.1:${app.httpPort}`),
      ]);
      for (const worker of result.workers) {
        assert.equal(worker.ppid, app.masterPid);
        assert.notEqual(worker.state, 'Z');
        assert.ok(worker.start >= master.start, 'a worker starts after its master');
      }
      assert.equal(new Set(result.workers.map((worker) => worker.pid)).size, 7);
      assert.deepEqual(result.workers.map((worker) => parseWorkerTitle(worker.title)?.group).sort(), [
        'gateway',
        'gateway',
        'task',
        'web',
        'web',
        'web',
        'web',
      ]);
    }

    test('finds exactly the master in the pid file and its 7 workers, titled by group and listen address', async () => {
      const result = await probe();
      assertTheApp(result);
      assert.ok(Math.abs(result.time - Date.now() / 1000) < 5, `host time ${result.time}`);
      const uptime = Number((await readFile('/proc/uptime', 'utf8')).split(' ')[0]);
      assert.ok(Math.abs(result.uptime - uptime) < 5, `uptime ${result.uptime} vs ${uptime}`);
      assert.equal(result.http, undefined, 'no URL, no fetch');
      // The master the watch already knows: the same answer.
      assertTheApp(await probe({ knownMaster: app.masterPid }));
    });

    test('a known master that is not ours, or gone, is not taken on trust: every process is read again', async () => {
      // This test's own process: alive, but titled as no master of this app.
      assertTheApp(await probe({ knownMaster: process.pid }));
      const gone = spawn('true');
      await new Promise((resolve) => gone.once('exit', resolve));
      assertTheApp(await probe({ knownMaster: gone.pid! }));
    });

    test('without a usable pid file the master is still the one whose workers these are', async () => {
      // 4.x keeps its pid file under vendor/workerman/: the 5.x path names nothing there.
      assertTheApp(await probe({ pidFile: join(app.dir, 'workerman.start.php.pid') }));
      assertTheApp(await probe({ pidFile: join(app.dir, 'no-such.pid'), knownMaster: app.masterPid }));
    });

    test('a start file that is not this app finds nothing', async () => {
      const result = await probe({ startFile: join(app.dir, 'other.php'), pidFile: join(app.dir, 'other.pid') });
      assert.deepEqual(result.masters, []);
      assert.deepEqual(result.workers, []);
    });

    test('while `php start.php status` runs (it carries the master title) there is still exactly one master', async () => {
      const status = spawn('php', ['start.php', 'status'], { cwd: app.dir, stdio: 'ignore' });
      const exited = new Promise<void>((resolve) => status.once('exit', () => resolve()));
      const statusPid = status.pid!;
      try {
        const masterTitle = `WorkerMan: master process  start_file=${app.startFile}`;
        await waitFor('the status command to take the master title', async () => (await processTitle(statusPid)) === masterTitle, 15_000);
        // Held there (its title unchanged) for as long as the probes take, however loaded the machine.
        kill(statusPid, 'SIGSTOP');
        const results = await Promise.all([{}, { knownMaster: app.masterPid }, { pidFile: join(app.dir, 'no-such.pid') }].map((extra) => probe(extra)));
        assert.equal(await processTitle(statusPid), masterTitle, 'the status command was there through every probe');
        for (const result of results) {
          assertTheApp(result);
          assert.ok(!result.masters.some((master) => master.pid === statusPid));
        }
      } finally {
        kill(statusPid, 'SIGCONT');
        await exited;
      }
      assert.equal(status.exitCode, 0);
    });

    test('the app log: its size, the bytes past an offset, a cap of 64 KiB per read, a shrunk log', async () => {
      const first = await probe();
      assert.ok(first.log !== undefined, 'the log is read');
      const size = (await stat(app.logFile)).size;
      assert.deepEqual(first.log, { end: size, text: '' }, 'offset -1: only its size');

      const lines = '2026-12-02 10:00:00 pid:1 first line\nPHP Fatal error:  Uncaught Error: ✓ café in /srv/x.php:3\n';
      await appendFile(app.logFile, lines);
      const read = await probe({ logOffset: size });
      assert.deepEqual(read.log, { end: size + Buffer.byteLength(lines), text: lines });
      // From the middle of the new bytes, and from the end (nothing new).
      const skip = Buffer.byteLength('2026-12-02 10:00:00 pid:1 ');
      assert.deepEqual((await probe({ logOffset: size + skip })).log, { end: size + Buffer.byteLength(lines), text: lines.slice(skip) });
      assert.deepEqual((await probe({ logOffset: read.log!.end })).log, { end: read.log!.end, text: '' });

      const big = 'x'.repeat(99) + '\n';
      await appendFile(app.logFile, big.repeat(700));
      const capped = await probe({ logOffset: read.log!.end });
      assert.equal(capped.log!.text.length, 65536);
      assert.equal(capped.log!.end, read.log!.end + 65536);
      const rest = await probe({ logOffset: capped.log!.end });
      assert.equal(rest.log!.end, read.log!.end + 70000);
      assert.equal(capped.log!.text + rest.log!.text, big.repeat(700));

      // Truncated or rotated below the offset: start again from 0.
      assert.deepEqual((await probe({ logOffset: rest.log!.end + 1 })).log, { end: 0, text: '' });
      // No log file known, or none there: no log at all.
      assert.equal((await probe({ logFile: '' })).log, undefined);
      assert.equal((await probe({ logFile: join(app.dir, 'missing.log'), logOffset: 0 })).log, undefined);
    });

    test('resident: one probe process answers poll after poll, sees the log grow between them, and exits when closed', async () => {
      const commands: string[] = [];
      const resident = new ResidentProbe(localShell(commands), probeCommand(options()));
      try {
        const first = parseProbeOutput(await resident.ask(probeRequestLine({ logOffset: -1, knownMaster: 0 }), 10_000));
        assertTheApp(first);
        const line = 'PHP Warning:  written between two polls\n';
        await appendFile(app.logFile, line);
        const second = parseProbeOutput(await resident.ask(probeRequestLine({ logOffset: first.log!.end, knownMaster: app.masterPid }), 10_000));
        assertTheApp(second);
        assert.deepEqual(second.log, { end: first.log!.end + Buffer.byteLength(line), text: line });
        assert.ok(second.time > first.time, 'a fresh reading, not a cached one');
        assert.equal(commands.length, 1, 'both answers came from the one process');
      } finally {
        resident.close();
      }
      const probes = async () => (await execFile('pgrep', ['-f', 'graceful_reload_probe'])).stdout.trim();
      assert.ok(await waitFor('the probe to exit', async () => (await probes()) === '', 10_000).catch(() => false), `still running: ${await probes()}`);
    });

    test('the status URL: fetched on the host, status and body; master_alive from a JSON master_pid; an error when nothing answers', async () => {
      const health = await probe({ statusUrl: `http://127.0.0.1:${app.httpPort}/health` });
      assert.deepEqual(health.http, { status: 200, body: 'ok\n' });
      assertTheApp(health);

      let masterPid = app.masterPid;
      const server: Server = createServer((_request, response) => {
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ master_pid: masterPid }));
      });
      const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
      try {
        const alive = await probe({ statusUrl: `http://127.0.0.1:${port}/status` });
        assert.equal(alive.http?.status, 200);
        assert.equal(alive.http?.master_alive, true);
        // A pid that is no process at all.
        masterPid = 2 ** 22 + 1;
        assert.equal((await probe({ statusUrl: `http://127.0.0.1:${port}/status` })).http?.master_alive, false);
      } finally {
        await new Promise((resolve) => server.close(resolve));
      }

      const closed = await freePort();
      const refused = await probe({ statusUrl: `http://127.0.0.1:${closed}/status`, urlTimeoutMs: 1000 });
      assert.equal(refused.http?.status, undefined);
      assert.match(refused.http?.error ?? '', /refused|failed to open stream/i);
    });
  });
}
