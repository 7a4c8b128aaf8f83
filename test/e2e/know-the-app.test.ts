import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rig, type TestHost } from '../rig/rig.js';
import { deploy } from '../rig/scenario.js';
import type { HostReport } from '../../src/engine/report/report.js';

/**
 * Issue 8, "know the app", on real Workerman 5 and 4: with default inputs the
 * action replaces only what the master replaces, keeps what it keeps, and
 * forces only the worker the master waits on.
 *
 * Default inputs: the shared scenario inputs name `ignore-workers: gateway`
 * (and fast settle/poll settings); here that one is cleared, as a user who
 * sets nothing would have it. The faster settle and poll stay: they change
 * how soon the action looks, not what it decides.
 */

const DEFAULTS = { 'ignore-workers': '' } as const;
const MAJORS = [5, 4] as const;

let rig: Rig;
before(async () => {
  rig = await Rig.create();
});
after(async () => {
  await rig?.destroy();
});

interface Proc {
  readonly pid: number;
  readonly group: string;
  /** Start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  readonly started: number;
}

/** `WorkerMan: worker process  BusinessWorker none` -> BusinessWorker. */
function groupOf(title: string): string {
  const match = /worker process\s+(\S+)/.exec(title);
  if (!match) throw new Error(`not a Workerman worker title: ${title}`);
  return match[1]!;
}

async function startTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

/** The master's workers, each with its group and start time. */
async function processes(host: TestHost): Promise<Proc[]> {
  const found: Proc[] = [];
  for (const worker of await host.workers()) {
    const started = await startTicks(worker.pid).catch(() => null);
    if (started !== null) found.push({ pid: worker.pid, group: groupOf(worker.title), started });
  }
  return found;
}

/** The PIDs of the given groups' workers, ascending. */
const pidsOf = (procs: readonly Proc[], ...groups: string[]) =>
  procs
    .filter((p) => groups.includes(p.group))
    .map((p) => p.pid)
    .sort((a, b) => a - b);

const entries = (items: readonly { pid: number; group: string }[] | undefined) =>
  (items ?? []).map(({ pid, group }) => ({ pid, group })).sort((a, b) => a.pid - b.pid);

const describeReport = (report: HostReport) => JSON.stringify(report);

/**
 * A client of the GatewayWorker app's `text` protocol: one line out, one line
 * back. Remembers whether the connection ever closed.
 */
class LineClient {
  private buffer = '';
  private readonly waiting: ((line: string) => void)[] = [];
  private readonly unasked: string[] = [];
  closedAt: number | null = null;

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (let end = this.buffer.indexOf('\n'); end >= 0; end = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 1);
        const resolve = this.waiting.shift();
        if (resolve) resolve(line);
        else this.unasked.push(line);
      }
    });
    socket.on('close', () => (this.closedAt ??= Date.now()));
    socket.on('error', () => undefined);
  }

  static async open(port: number): Promise<LineClient> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new LineClient(socket);
  }

  /** Sends one line and waits for the next reply line. */
  async ask(text: string, timeoutMs = 5000): Promise<string> {
    if (this.closedAt !== null) throw new Error(`the gateway connection closed before asking "${text}"`);
    const early = this.unasked.shift();
    if (early !== undefined) throw new Error(`an unasked reply arrived: ${early}`);
    const reply = new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to "${text}" within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.push((line) => {
        clearTimeout(timer);
        resolve(line);
      });
    });
    this.socket.write(`${text}\n`);
    return reply;
  }

  close(): void {
    this.socket.destroy();
  }
}

/**
 * An idle HTTP keep-alive connection to the plain app's web group, held by a
 * web worker other than the earliest-started one when the kernel lets us
 * (bounded tries). Returns the holder's pid (the app's X-Worker-Pid header).
 */
async function keepAliveHolder(port: number, avoid: number): Promise<{ socket: Socket; holder: number }> {
  let last: { socket: Socket; holder: number } | undefined;
  for (let attempt = 0; attempt < 40; attempt++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const head = await new Promise<string>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', () => socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n'));
      socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1')));
    });
    const holder = Number(/^x-worker-pid:\s*(\d+)/im.exec(head)?.[1]);
    assert.ok(holder > 0, `the app names its worker in X-Worker-Pid:\n${head}`);
    last?.socket.destroy();
    last = { socket, holder };
    if (holder !== avoid) break;
  }
  return last!;
}

for (const major of MAJORS) {
  test(`Workerman ${major}, GatewayWorker: BusinessWorkers replaced, Register and Gateways kept, the client never dropped`, async () => {
    const host = await rig.addHost(`gateway-${major}`, { app: 'gateway', workerman: major });
    await host.startMaster();
    const before = await processes(host);
    assert.deepEqual(
      [...new Set(before.map((p) => p.group))].sort(),
      ['BusinessWorker', 'Gateway', 'Register'],
      `the GatewayWorker app's groups: ${JSON.stringify(before)}`,
    );
    assert.equal(pidsOf(before, 'BusinessWorker').length, 4);
    const client = await LineClient.open(host.app.gatewayPort);
    try {
      assert.equal(await client.ask('before'), 'v1: before');
      const source = await rig.makeSource('v2', { app: 'gateway', workerman: major });

      const { run, report } = await deploy(rig, host, source, DEFAULTS);

      assert.equal(run.code, 0, run.log);
      assert.equal(report.ok, true, describeReport(report));
      assert.equal(report.step, 'done');
      const afterProcs = await processes(host);
      assert.deepEqual(pidsOf(afterProcs, 'Register'), pidsOf(before, 'Register'), 'the Register keeps its PID');
      assert.deepEqual(pidsOf(afterProcs, 'Gateway'), pidsOf(before, 'Gateway'), 'the Gateways keep their PIDs');
      const oldBusiness = pidsOf(before, 'BusinessWorker');
      const newBusiness = pidsOf(afterProcs, 'BusinessWorker');
      assert.equal(newBusiness.length, 4, 'four BusinessWorkers again');
      assert.deepEqual(
        newBusiness.filter((pid) => oldBusiness.includes(pid)),
        [],
        'every BusinessWorker was replaced',
      );

      assert.equal(client.closedAt, null, 'the client was never disconnected');
      assert.equal(await client.ask('after'), 'v2: after', 'the next message is answered by the new code');

      assert.deepEqual(
        entries(report.kept),
        before
          .filter((p) => p.group !== 'BusinessWorker')
          .map(({ pid, group }) => ({ pid, group }))
          .sort((a, b) => a.pid - b.pid),
        'the report lists the Register and the Gateways as kept',
      );
      assert.deepEqual(
        (report.replaced ?? []).map((r) => ({ group: r.group, oldPid: r.oldPid })).sort((a, b) => a.oldPid - b.oldPid),
        oldBusiness.map((oldPid) => ({ group: 'BusinessWorker', oldPid })),
        'the report lists the old BusinessWorkers as replaced',
      );
      const keptPids = pidsOf(before, 'Register', 'Gateway');
      assert.deepEqual(
        (report.forced ?? []).filter((f) => keptPids.includes(f.pid)),
        [],
        'no Register or Gateway was stopped',
      );
      assert.ok(report.reloadMs !== undefined && report.reloadMs < 30_000, `not waiting out a graceful timeout: reloadMs ${report.reloadMs}`);
    } finally {
      client.close();
    }
  });

  test(`Workerman ${major}, plain app: the reloadable = false group is kept at once, no ignore-workers needed`, async () => {
    const host = await rig.addHost(`plain-${major}`, { app: 'plain', workerman: major });
    await host.startMaster();
    const before = await processes(host);
    const gateway = pidsOf(before, 'gateway');
    assert.equal(gateway.length, 2, `two gateway workers: ${JSON.stringify(before)}`);
    const source = await rig.makeSource('v2', { app: 'plain', workerman: major });

    const { run, report } = await deploy(rig, host, source, DEFAULTS);

    assert.equal(run.code, 0, run.log);
    assert.equal(report.ok, true, describeReport(report));
    assert.equal(report.step, 'done');
    const afterProcs = await processes(host);
    assert.deepEqual(pidsOf(afterProcs, 'gateway'), gateway, 'the gateway workers keep their PIDs');
    assert.deepEqual(
      entries(report.kept),
      gateway.map((pid) => ({ pid, group: 'gateway' })),
      'the report lists the gateway workers as kept',
    );
    assert.deepEqual(
      (report.replaced ?? []).map((r) => r.oldPid).sort((a, b) => a - b),
      pidsOf(before, 'web', 'task'),
      'every web and task worker replaced',
    );
    assert.deepEqual(report.forced ?? [], [], 'nothing had to be forced');
    // A bound on not waiting for the gateway group (default graceful-timeout 60 s), not a speed test.
    assert.ok(report.reloadMs !== undefined && report.reloadMs < 30_000, `reloadMs ${report.reloadMs}`);
    assert.match(await host.get('/'), /hello from v2/);
  });

  test(`Workerman ${major}, keep-alive pinned graceful reload: exactly the worker the master waits on is forced`, async () => {
    const host = await rig.addHost(`pinned-${major}`, { app: 'plain', workerman: major });
    await host.startMaster();
    const before = await processes(host);
    // The master's own order: definition order (web first), then fork order.
    const web = before.filter((p) => p.group === 'web').sort((a, b) => a.started - b.started || a.pid - b.pid);
    assert.equal(web.length, 4, JSON.stringify(before));
    const gateway = pidsOf(before, 'gateway');
    // Pin a web worker that is not the first in the master's order, when we can. Observed on
    // real Workerman 4 and 5: on `reload -g` the idle workers ahead of the holder exit at once
    // and are replaced, so the master stands waiting on the holder: at the moment of forcing,
    // the holder is the first still-old reloadable worker in the master's order.
    const { socket, holder } = await keepAliveHolder(host.app.httpPort, web[0]!.pid);
    try {
      const order = web.map((p) => p.pid);
      assert.ok(order.includes(holder), `the keep-alive client is held by a web worker (${holder} of ${order.join(', ')})`);
      const ahead = order.slice(0, order.indexOf(holder));
      const source = await rig.makeSource('v2', { app: 'plain', workerman: major });

      const { run, report } = await deploy(rig, host, source, { ...DEFAULTS, 'graceful-timeout': '2s' });

      assert.equal(run.code, 0, run.log);
      assert.equal(report.ok, true, describeReport(report));
      assert.equal(
        report.forced?.length,
        1,
        `exactly one worker forced: ${JSON.stringify(report.forced)}` +
          ((report.forced ?? []).length === 0 ?
            ` (the holder ${holder} left without being forced: observed on Workerman 4.2.1, \`php start.php status\` (SIGIOT to` +
            ` every worker) kills a worker that is stopping gracefully: "Call to a member function getSocketName() on bool" in` +
            ` Worker::writeStatisticsToStatusFile, as the stopping worker has left Worker::$_workers; its connections drop)`
          : '') +
          `\n${run.log}`,
      );
      const [forced] = report.forced!;
      assert.equal(
        forced!.pid,
        holder,
        `the forced worker is the one the master waits on (web in order ${order.join(', ')}; ahead of it: ${ahead.join(', ') || 'none'})\n${run.log}`,
      );
      assert.equal(forced!.group, 'web');
      assert.equal(forced!.signal, 'INT');
      const afterProcs = await processes(host);
      assert.deepEqual(pidsOf(afterProcs, 'gateway'), gateway, 'no gateway worker was stopped');
      assert.deepEqual(
        entries(report.kept),
        gateway.map((pid) => ({ pid, group: 'gateway' })),
      );
      assert.deepEqual(
        pidsOf(afterProcs, 'web').filter((pid) => order.includes(pid)),
        [],
        'every web worker replaced',
      );
      assert.match(await host.get('/'), /hello from v2/);
    } finally {
      socket.destroy();
    }
  });

  test(`Workerman ${major}, framework layout: runtime/ found with no input set, and what the app wrote there survives the sync`, async () => {
    const host = await rig.addHost(`framework-${major}`, { app: 'framework', workerman: major });
    await host.startMaster();
    const runtime = join(host.srv, 'app', 'runtime');
    const sessions = join(runtime, 'sessions');
    const sessionFiles = (await readdir(sessions)).filter((name) => name.startsWith('sess_')).sort();
    assert.equal(sessionFiles.length, 1, `the app wrote one session file at start: ${sessionFiles.join(', ')}`);
    const sessionText = await readFile(join(sessions, sessionFiles[0]!), 'utf8');
    const pidText = await readFile(join(runtime, 'workerman.pid'), 'utf8');
    const masterBefore = await host.masterPid();
    assert.equal(Number(pidText.trim()), masterBefore, 'the master keeps its pid file under runtime/');

    // The shipped tree, as a checkout has it: runtime/ holds at most its .gitkeep.
    const source = await rig.makeSource('v2', { app: 'framework', workerman: major });
    await rm(join(source, 'runtime'), { recursive: true, force: true });
    await mkdir(join(source, 'runtime'));
    await writeFile(join(source, 'runtime', '.gitkeep'), '');

    const { run, report } = await deploy(rig, host, source, DEFAULTS);

    assert.equal(run.code, 0, run.log);
    assert.equal(report.ok, true, describeReport(report));
    assert.equal(report.step, 'done');
    assert.match(run.log, /\/srv\/app\/runtime\/logs\/workerman\.log/, 'the log line names the app log under runtime/logs/');
    assert.deepEqual((await readdir(sessions)).filter((name) => name.startsWith('sess_')).sort(), sessionFiles, 'the session file survives');
    assert.equal(await readFile(join(sessions, sessionFiles[0]!), 'utf8'), sessionText, 'unchanged');
    assert.equal(await readFile(join(runtime, 'workerman.pid'), 'utf8'), pidText, 'the pid file survives');
    assert.match(await readFile(join(runtime, 'logs', 'workerman.log'), 'utf8'), /reloading/, 'the log survives and records the reload');
    assert.equal(await host.masterPid(), masterBefore);
    assert.match(await host.get('/'), /hello from v2/);
  });
}
