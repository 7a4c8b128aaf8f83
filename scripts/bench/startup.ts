// 6. Start-up and bundle size: from spawning `node dist/index.cjs` to the
// first byte of its SSH connection arriving at a listening socket that stands
// in for the host (the client's version banner), beside two floors measured
// the same way: OpenSSH's ssh, and a node process that only connects and
// writes a byte. Then dist/index.cjs's size.
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { removeRunnerTemp, runAction } from '../../test/rig/action-runner.js';
import { mustExec } from '../../test/rig/process.js';
import { REPO } from '../../test/rig/rig.js';
import type { Benchmark } from './benchmark.js';
import { table, type Section } from './markdown.js';
import { formatBytes, formatMs, formatRatio, meets, median, ratio } from './stats.js';

const GOAL = { atMost: 150 };
const FIRST_BYTE_LIMIT_MS = 10_000;

type Client = 'action' | 'ssh' | 'node';
const CLIENTS: readonly Client[] = ['action', 'ssh', 'node'];

/** A socket standing in for a host: resolves each wait with the time the next connection's first byte arrives. */
class StandIn {
  private waiter: ((at: number) => void) | null = null;
  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async listen(): Promise<StandIn> {
    // Assigned once, after the server it is built from; the connection handler reads it later.
    // eslint-disable-next-line prefer-const
    let standIn: StandIn | undefined;
    const server = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.once('data', () => {
        standIn?.waiter?.(performance.now());
        standIn!.waiter = null;
        socket.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    standIn = new StandIn(server, typeof address === 'object' && address ? address.port : 0);
    return standIn;
  }

  firstByte(): Promise<number | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(null), FIRST_BYTE_LIMIT_MS);
      this.waiter = (at) => {
        clearTimeout(timer);
        resolve(at);
      };
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** Milliseconds from the client's spawn to its first byte at the stand-in; null if none came. */
async function timeToFirstByte(client: Client, standIn: StandIn, keyDir: string): Promise<number | null> {
  const arrived = standIn.firstByte();
  if (client === 'action') {
    const abort = new AbortController();
    let spawnedAt = 0;
    const running = runAction(
      {
        hosts: `root@127.0.0.1:${standIn.port}`,
        'private-key': await readFile(join(keyDir, 'key'), 'utf8'),
        'known-hosts': `[127.0.0.1]:${standIn.port} ${(await readFile(join(keyDir, 'key.pub'), 'utf8')).trim()}`,
        source: 'examples/app',
        target: '/srv/app',
      },
      { signal: abort.signal, onSpawn: () => (spawnedAt = performance.now()) },
    );
    const at = await arrived;
    abort.abort();
    await removeRunnerTemp(await running);
    return at === null ? null : at - spawnedAt;
  }
  const args =
    client === 'ssh' ?
      [
        'ssh',
        '-p',
        String(standIn.port),
        '-o',
        'BatchMode=yes',
        '-o',
        'StrictHostKeyChecking=no',
        '-o',
        'UserKnownHostsFile=/dev/null',
        'root@127.0.0.1',
        'true',
      ]
    : [process.execPath, '-e', `require('node:net').connect(${standIn.port}, '127.0.0.1', function () { this.write('x'); })`];
  const child = spawn(args[0]!, args.slice(1), { stdio: 'ignore' });
  const spawnedAt = performance.now();
  const exited = new Promise((resolve) => child.once('close', resolve));
  const at = await arrived;
  child.kill('SIGKILL');
  await exited;
  return at === null ? null : at - spawnedAt;
}

export const startup: Benchmark = {
  name: 'startup',
  async run(context) {
    const runs = context.quick ? 5 : 11;
    const samples: Record<Client, number[]> = { action: [], ssh: [], node: [] };
    let missed = 0;
    const keyDir = await mkdtemp(join(tmpdir(), 'gr-bench-startup-'));
    const standIn = await StandIn.listen();
    try {
      await mustExec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'graceful-reload-bench', '-f', join(keyDir, 'key')]);
      for (let i = 0; i < runs; i++) {
        for (const client of CLIENTS.map((_, j) => CLIENTS[(i + j) % CLIENTS.length]!)) {
          const ms = await timeToFirstByte(client, standIn, keyDir);
          if (ms === null) missed++;
          else samples[client].push(ms);
        }
        context.log(
          `startup run ${i + 1}/${runs}: action ${formatMs(samples.action.at(-1) ?? Number.NaN)}, ssh ${formatMs(samples.ssh.at(-1) ?? Number.NaN)}, node ${formatMs(samples.node.at(-1) ?? Number.NaN)}`,
        );
      }
    } finally {
      await standIn.close();
      await rm(keyDir, { recursive: true, force: true });
    }
    const bundle = await readFile(join(REPO, 'dist/index.cjs'));
    return report(samples, missed, runs, { bytes: (await stat(join(REPO, 'dist/index.cjs'))).size, gzipped: gzipSync(bundle).length });
  },
};

function report(samples: Record<Client, number[]>, missed: number, runs: number, bundle: { bytes: number; gzipped: number }): Section {
  const action = median(samples.action);
  const labels: Record<Client, string> = {
    action: '`node dist/index.cjs` (the action)',
    ssh: '`ssh` (OpenSSH client)',
    node: '`node -e` connecting and writing one byte (Node’s floor)',
  };
  return {
    title: '6. Start-up and bundle size',
    goals: [{ figure: '`node dist/index.cjs` to the first SSH packet, median', measured: formatMs(action), goal: '≤ 150 ms', met: meets(action, GOAL) }],
    body: [
      `From \`spawn()\` returning to the first byte arriving at a TCP socket on loopback standing in for the host, median of ${runs} runs each, the three clients interleaved. ` +
        'The action gets a key, a pinned host key and `source: examples/app`; every client is killed once its first byte is in.' +
        (missed ? ` ${missed} run(s) sent nothing within ${FIRST_BYTE_LIMIT_MS / 1000} s and are left out.` : ''),
      '',
      table(
        ['client', 'median', 'min', 'max', '÷ ssh'],
        CLIENTS.map((client) => [
          labels[client],
          formatMs(median(samples[client])),
          formatMs(Math.min(...samples[client])),
          formatMs(Math.max(...samples[client])),
          formatRatio(ratio(median(samples[client]), median(samples.ssh))),
        ]),
      ),
      '',
      `\`dist/index.cjs\`: ${formatBytes(bundle.bytes)} (${bundle.bytes.toLocaleString('en')} bytes), ${formatBytes(bundle.gzipped)} gzipped.`,
    ].join('\n'),
    figures: [],
  };
}
