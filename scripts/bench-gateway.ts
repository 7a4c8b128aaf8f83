// node --import tsx --import ./scripts/php-text-hooks.mjs scripts/bench-gateway.ts
//
// A benchmark, not a test: the GatewayWorker app (Register, 2 Gateways, 4
// BusinessWorkers) on one rig host, Workerman 5 then 4. Rounds alternate:
//   plain   `php start.php reload` on the host; from the command to the moment
//           all 4 BusinessWorkers are new (this script polls /proc every 20 ms)
//   action  dist/index.cjs with default inputs (only hosts, key, known-hosts,
//           source, target); report.reloadMs (signal to verdict, settle
//           included), reloadMs minus settle, and the same /proc measure as
//           plain, from the action's "to replace" line (printed just before it
//           sends the signal) to all 4 BusinessWorkers new
// A client holds one gateway connection through every round; disconnects are
// counted (and the client reconnects). Goal (issue 8): the action takes at
// most 1.5x a plain reload. Loopback only; bounded loops; the rig is torn down.
//
// BENCH_GATEWAY_ROUNDS (default 5) sets N.
import { connect, type Socket } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostReport } from '../src/engine/report/report.js';
import { removeRunnerTemp, runAction } from '../test/rig/action-runner.js';
import { childProcesses, Rig, TARGET, type TestHost, type WorkermanMajor } from '../test/rig/rig.js';
import { inputsFor } from '../test/rig/scenario.js';
import { median } from './bench/stats.js';

const ROUNDS = Number(process.env['BENCH_GATEWAY_ROUNDS'] ?? 5);
const POLL_MS = 20;
/** Longest wait for one round's BusinessWorkers to be replaced. */
const ROUND_LIMIT_MS = 60_000;
/** The action's default `settle`: a deliberate wait after the reload is complete. */
const DEFAULT_SETTLE_MS = 5000;
const GOAL_RATIO = 1.5;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function businessWorkers(host: TestHost): Promise<number[]> {
  const master = await host.masterPid();
  if (master === null) throw new Error(`${host.name}: no master`);
  return (await childProcesses(master)).filter((child) => / BusinessWorker /.test(`${child.title} `)).map((child) => child.pid);
}

/**
 * Polls /proc every POLL_MS until 4 BusinessWorkers run and none is in `old`;
 * resolves with the time (performance.now()) that was first seen, or null
 * after ROUND_LIMIT_MS or once `stop()` says so.
 */
async function allReplaced(host: TestHost, old: readonly number[], stop: () => boolean = () => false): Promise<number | null> {
  const deadline = performance.now() + ROUND_LIMIT_MS;
  while (performance.now() < deadline) {
    const now = await businessWorkers(host).catch(() => [] as number[]);
    if (now.length === 4 && now.every((pid) => !old.includes(pid))) return performance.now();
    if (stop()) return null;
    await sleep(POLL_MS);
  }
  return null;
}

/** One line out, one line back, over the Gateway's text protocol; counts disconnects and reconnects. */
class GatewayClient {
  disconnects = 0;
  private socket!: Socket;
  private closing = false;
  private buffer = '';
  private waiter: ((line: string) => void) | null = null;

  constructor(private readonly port: number) {}

  async open(): Promise<void> {
    const socket = connect(this.port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      this.buffer += chunk;
      for (let end = this.buffer.indexOf('\n'); end >= 0; end = this.buffer.indexOf('\n')) {
        const line = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 1);
        this.waiter?.(line);
        this.waiter = null;
      }
    });
    socket.on('close', () => {
      if (this.socket === socket && !this.closing) this.disconnects++;
    });
    this.socket = socket;
  }

  /** Reconnects when the connection was lost, then asks. */
  async ask(text: string, timeoutMs = 5000): Promise<string> {
    if (this.socket.destroyed) await this.open();
    return new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no reply to "${text}" within ${timeoutMs} ms`)), timeoutMs);
      this.waiter = (line) => {
        clearTimeout(timer);
        resolve(line);
      };
      this.socket.write(`${text}\n`);
    });
  }

  close(): void {
    this.closing = true;
    this.socket?.destroy();
  }
}

interface Round {
  readonly ms: number | null;
  readonly disconnects: number;
  readonly answeredBy: string;
}

interface ActionRound extends Round {
  readonly reloadMs: number | null;
  readonly ok: boolean;
  readonly why: string;
}

async function plainRound(host: TestHost, client: GatewayClient, version: string): Promise<Round> {
  await writeFile(join(host.srv, 'app/src/version.php'), `<?php return '${version}';\n`);
  const old = await businessWorkers(host);
  const before = client.disconnects;
  const start = performance.now();
  const command = host.shell(`cd ${TARGET} && php start.php reload >/dev/null 2>&1`);
  const done = await allReplaced(host, old);
  await command;
  const answeredBy = (await client.ask('ping').catch((error: Error) => `no answer: ${error.message}`)).split(':')[0]!;
  return { ms: done === null ? null : done - start, disconnects: client.disconnects - before, answeredBy };
}

async function actionRound(rig: Rig, host: TestHost, major: WorkermanMajor, client: GatewayClient, version: string): Promise<ActionRound> {
  const source = await rig.makeSource(version, { app: 'gateway', workerman: major });
  // Only what a user must give: every other input at its default.
  const { hosts, 'private-key': key, 'known-hosts': knownHosts, target } = inputsFor(rig, host, source);
  const inputs = { hosts: hosts!, 'private-key': key!, 'known-hosts': knownHosts!, source, target: target! };
  const old = await businessWorkers(host);
  const before = client.disconnects;
  let seen = '';
  let signalAt: number | null = null;
  let finished = false;
  const watch = allReplaced(host, old, () => finished);
  const run = await runAction(inputs, {
    echo: (text) => {
      seen += text;
      if (signalAt === null && /worker\(s\) to replace/.test(seen)) signalAt = performance.now();
    },
  });
  finished = true;
  const done = await watch;
  await removeRunnerTemp(run);
  const [report] = JSON.parse(run.outputs['report'] ?? '[]') as HostReport[];
  const answeredBy = (await client.ask('ping').catch((error: Error) => `no answer: ${error.message}`)).split(':')[0]!;
  const ok = run.code === 0 && report?.ok === true;
  return {
    ms: done === null || signalAt === null ? null : done - signalAt,
    reloadMs: report?.reloadMs ?? null,
    disconnects: client.disconnects - before,
    answeredBy,
    ok,
    why: ok ? '' : (report?.error ?? run.log.trim().split('\n').slice(-3).join(' | ')),
  };
}

const fmt = (ms: number) => (Number.isNaN(ms) ? '-' : `${Math.round(ms)} ms`);
const pad = (text: string, width: number) => text.padEnd(width);

function row(label: string, values: readonly (number | null)[], disconnects: number | string): string {
  const measured = values.filter((v): v is number => v !== null);
  const missing = values.length - measured.length;
  return (
    pad(label, 34) +
    pad(fmt(median(measured)), 10) +
    pad(measured.length ? fmt(Math.min(...measured)) : '-', 10) +
    pad(measured.length ? fmt(Math.max(...measured)) : '-', 10) +
    pad(String(disconnects), 12) +
    (missing ? `${missing} round(s) not measured` : '')
  );
}

async function benchVersion(rig: Rig, major: WorkermanMajor): Promise<string[]> {
  const host = await rig.addHost(`bench-gateway-${major}`, { app: 'gateway', workerman: major });
  await host.startMaster();
  const client = new GatewayClient(host.app.gatewayPort);
  await client.open();
  // The BusinessWorkers are connected once the first message comes back.
  for (let attempt = 0; attempt < 50; attempt++) {
    if ((await client.ask('hello').catch(() => '')) === 'v1: hello') break;
    await sleep(200);
  }
  const plain: Round[] = [];
  const action: ActionRound[] = [];
  try {
    for (let i = 1; i <= ROUNDS; i++) {
      const p = await plainRound(host, client, `p${i}`);
      plain.push(p);
      console.log(
        `Workerman ${major} round ${i}/${ROUNDS} plain reload: ${p.ms === null ? 'not replaced in time' : fmt(p.ms)}, ${p.disconnects} disconnect(s), next reply from ${p.answeredBy}`,
      );
      const a = await actionRound(rig, host, major, client, `a${i}`);
      action.push(a);
      console.log(
        `Workerman ${major} round ${i}/${ROUNDS} action: ${a.ok ? 'ok' : `FAILED (${a.why})`}, reloadMs ${a.reloadMs ?? '-'}, ` +
          `BusinessWorkers replaced ${a.ms === null ? '-' : fmt(a.ms)} after the signal, ${a.disconnects} disconnect(s), next reply from ${a.answeredBy}`,
      );
    }
  } finally {
    client.close();
  }
  const sum = (rounds: readonly Round[]) => rounds.reduce((total, r) => total + r.disconnects, 0);
  const okRounds = action.filter((a) => a.ok);
  const reloadMs = okRounds.map((a) => a.reloadMs);
  const lessSettle = okRounds.map((a) => (a.reloadMs === null ? null : a.reloadMs - DEFAULT_SETTLE_MS));
  const plainMedian = median(plain.map((p) => p.ms).filter((v): v is number => v !== null));
  const ratio = (values: readonly (number | null)[]) => median(values.filter((v): v is number => v !== null)) / plainMedian;
  const x = (value: number) => (Number.isNaN(value) ? '-' : `${value.toFixed(2)}x`);
  const lines = [
    `Workerman ${major} (GatewayWorker: Register, 2 Gateways, 4 BusinessWorkers), ${ROUNDS} rounds each, ${okRounds.length}/${action.length} action runs ok`,
    pad('', 34) + pad('median', 10) + pad('min', 10) + pad('max', 10) + pad('disconnects', 12),
    row(
      'plain reload, /proc',
      plain.map((p) => p.ms),
      sum(plain),
    ),
    row('action reloadMs (settle incl.)', reloadMs, sum(action)),
    row('action reloadMs - settle 5 s', lessSettle, ''),
    row(
      'action signal -> replaced, /proc',
      okRounds.map((a) => a.ms),
      '',
    ),
    `ratio action / plain: reloadMs - settle ${x(ratio(lessSettle))}, replaced ${x(ratio(okRounds.map((a) => a.ms)))}, ` +
      `reloadMs with settle ${x(ratio(reloadMs))} (goal <= ${GOAL_RATIO}x)`,
  ];
  return lines;
}

const rig = await Rig.create();
const tables: string[] = [];
try {
  for (const major of [5, 4] as const) tables.push(...(await benchVersion(rig, major)), '');
} finally {
  await rig.destroy();
}
console.log(`\n${tables.join('\n')}`);
