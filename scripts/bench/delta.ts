// 3. Delta deploy: an app with a tree of 10,000 files beside it, one file
// changed per deploy. Bytes on the wire, counted both ways by a relay in front
// of the host's sshd, for the action (everything it says to the host: sync,
// lock, snapshot, reload, watch), plain rsync (`rsync -az --delete` over
// OpenSSH) and a tar-and-copy of the whole tree (`tar -cz | ssh tar -xz`, what
// scp-based deploy actions send). Measured from a fresh checkout (every file
// time new, as in CI) and with the file times the host already has.
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile, mustExec } from '../../test/rig/process.js';
import { TARGET } from '../../test/rig/rig.js';
import type { Benchmark } from './benchmark.js';
import { actionInputs, knownHostsLine, runTimedAction, startFleet, withRig, type Endpoint, type Fleet } from './fleet.js';
import { table, type Section } from './markdown.js';
import { startRelay, type Counts, type Relay } from './relay.js';
import { formatBytes, formatRatio, meets, median, ratio } from './stats.js';

const DIRS = 100;
const FILES_PER_DIR = 100;
const GOAL = { atMost: 1.05 };

type Method = 'action' | 'rsync' | 'tar';
const METHODS: readonly Method[] = ['action', 'rsync', 'tar'];

/** A small PHP file of random data (about 1 KiB; compresses about as well as code). */
function fileContent(id: string): string {
  const entries = Array.from({ length: 24 }, (_, j) => `    'key_${j}' => '${randomBytes(12).toString('hex')}',`);
  return `<?php\n// ${id}\nreturn [\n${entries.join('\n')}\n];\n`;
}

async function writeTree(root: string): Promise<void> {
  for (let d = 0; d < DIRS; d++) {
    const dir = join(root, 'data', `d${String(d).padStart(3, '0')}`);
    await mkdir(dir, { recursive: true });
    await Promise.all(Array.from({ length: FILES_PER_DIR }, (_, f) => writeFile(join(dir, `f${f}.php`), fileContent(`${d}/${f}`))));
  }
}

/** The OpenSSH command the plain methods use, as a user would write it. */
function sshCommand(fleet: Fleet, endpoint: Endpoint): string[] {
  return [
    'ssh',
    '-p',
    String(endpoint.port),
    '-i',
    fleet.rig.clientKeyFile,
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `UserKnownHostsFile=${fleet.knownHostsFile}`,
    '-o',
    'GlobalKnownHostsFile=/dev/null',
  ];
}

async function deploy(fleet: Fleet, endpoint: Endpoint, method: Method): Promise<string> {
  if (method === 'action') {
    const result = await runTimedAction(actionInputs(fleet, [endpoint]));
    return result.ok ? '' : result.why;
  }
  const ssh = sshCommand(fleet, endpoint);
  const result =
    method === 'rsync' ?
      await execFile(
        'rsync',
        [
          '-az',
          '--delete',
          '--exclude=.git/',
          '--exclude=*.pid',
          '--exclude=*.log',
          '--exclude=*.status',
          '-e',
          ssh.join(' '),
          `${fleet.source}/`,
          `root@127.0.0.1:${TARGET}/`,
        ],
        { timeoutMs: 120_000 },
      )
    : await execFile('bash', ['-c', 'set -o pipefail; tar -czf - -C "$1" . | "${@:2}" root@127.0.0.1 "tar -xzf - -C $0"', TARGET, fleet.source, ...ssh], {
        timeoutMs: 120_000,
      });
  return result.code === 0 ? '' : `exit ${result.code}: ${result.stderr.trim().split('\n').slice(-2).join(' | ')}`;
}

/**
 * How the source's file times relate to the host's: a CI checkout writes every
 * file afresh (every mtime new), a long-lived working copy keeps them (the
 * host has them from the last rsync -a).
 */
type Times = 'checkout' | 'kept';
const TIMES: readonly Times[] = ['checkout', 'kept'];

/** Puts the host and the source in the state a deploy of `times` starts from, then changes one file. */
async function prepare(fleet: Fleet, times: Times, changed: string): Promise<void> {
  if (times === 'checkout') await mustExec('find', [fleet.source, '-exec', 'touch', '-m', '{}', '+']);
  else await mustExec('rsync', ['-a', '--exclude=*.pid', '--exclude=*.log', '--exclude=*.status', `${fleet.source}/`, join(fleet.hosts[0]!.srv, 'app/')]);
  await writeFile(join(fleet.source, 'data/d000', changed), fileContent(changed));
}

type Measured = Record<Times, Record<Method, Counts[]>>;

export const delta: Benchmark = {
  name: 'delta',
  async run(context) {
    const rounds = context.quick ? 1 : 3;
    const measured: Measured = { checkout: { action: [], rsync: [], tar: [] }, kept: { action: [], rsync: [], tar: [] } };
    const failures: string[] = [];
    await withRig(async (rig) => {
      const fleet = await startFleet(rig, 1);
      const host = fleet.hosts[0]!;
      await writeTree(fleet.source);
      await mustExec('rsync', ['-a', `${fleet.source}/`, join(host.srv, 'app/')]);
      const relay: Relay = await startRelay(host.port);
      const endpoint: Endpoint = { host, port: relay.port };
      await writeFile(fleet.knownHostsFile, `${knownHostsLine(endpoint)}\n`);
      let changes = 0;
      try {
        for (let round = 0; round < rounds; round++) {
          for (const times of TIMES) {
            for (const method of METHODS.map((_, i) => METHODS[(i + round) % METHODS.length]!)) {
              await prepare(fleet, times, `f${changes++}.php`);
              relay.reset();
              const why = await deploy(fleet, endpoint, method);
              if (why) failures.push(`${method}, ${times} times, round ${round + 1}: ${why}`);
              else measured[times][method].push({ ...relay.counts });
              context.log(
                `delta round ${round + 1}/${rounds}, ${times} times, ${method}: ${why || `${formatBytes(relay.counts.up + relay.counts.down)} in ${relay.counts.connections} connection(s)`}`,
              );
            }
          }
        }
      } finally {
        await relay.close();
      }
    });
    return report(measured, failures, rounds);
  },
};

const total = (c: Counts) => c.up + c.down;

function rowsFor(counts: Record<Method, Counts[]>, times: Times): string[][] {
  const m = (method: Method, pick: (c: Counts) => number) => median(counts[method].map(pick));
  const labels: Record<Method, string> = {
    action: 'the action',
    rsync: 'plain rsync (`rsync -az --delete`)',
    tar: 'tar and copy the whole tree (`tar -cz | ssh tar -xz`)',
  };
  return METHODS.map((method) => [
    times === 'checkout' ? 'fresh checkout' : 'times kept',
    labels[method],
    formatBytes(m(method, (c) => c.up)),
    formatBytes(m(method, (c) => c.down)),
    formatBytes(m(method, total)),
    formatRatio(ratio(m(method, total), m('rsync', total))),
    String(m(method, (c) => c.connections)),
  ]);
}

function report(measured: Measured, failures: readonly string[], rounds: number): Section {
  const overRsync = (times: Times) => ratio(median(measured[times].action.map(total)), median(measured[times].rsync.map(total)));
  const goal = (times: Times, label: string) => ({
    figure: `delta deploy, one file changed in 10,000, ${label}: bytes ÷ plain rsync`,
    measured: formatRatio(overRsync(times)),
    goal: '≤ 1.05×',
    met: meets(overRsync(times), GOAL),
  });
  return {
    title: '3. Delta deploy',
    goals: [goal('checkout', 'fresh checkout (CI)'), goal('kept', 'file times kept')],
    body: [
      `The example app plus a tree of ${(DIRS * FILES_PER_DIR).toLocaleString('en')} small PHP files (about 1 KiB each, random data) under \`data/\`, ` +
        'the host already holding the same content; each deploy changes one of those files. Two cases: a **fresh checkout**, where every source file ' +
        'has a new modification time (what a CI job’s checkout gives: `touch` on every file before the deploy), and **times kept**, where the host’s ' +
        'file times equal the source’s (a long-lived working copy synced with `rsync -a`). Bytes are counted on the wire, both ways, by a TCP relay ' +
        'on loopback in front of the host’s sshd, for everything each method says to the host: for the action that includes the lock, preflight, ' +
        `snapshot, reload and watch besides the sync. Median of ${rounds} round(s), the three methods interleaved.`,
      '',
      table(
        ['source file times', 'method', 'to the host', 'from the host', 'total', '÷ plain rsync', 'SSH connections'],
        [...rowsFor(measured.checkout, 'checkout'), ...rowsFor(measured.kept, 'kept')],
      ),
      ...(failures.length ? ['', 'Deploys not measured:', '', ...failures.map((f) => `- ${f}`)] : []),
    ].join('\n'),
    figures: [],
  };
}
