// 3. Delta deploy: an app with a tree of 10,000 files beside it, one file
// changed per deploy. Bytes on the wire, counted both ways by a relay in front
// of the host's sshd, for the action (everything it says to the host: sync,
// lock, snapshot, reload, watch), plain rsync (`rsync -az --delete` over
// OpenSSH) and a tar-and-copy of the whole tree (`tar -cz | ssh tar -xz`, what
// scp-based deploy actions send).
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
  return ['ssh', '-p', String(endpoint.port), '-i', fleet.rig.clientKeyFile, '-o', 'IdentitiesOnly=yes', '-o', 'BatchMode=yes',
    '-o', 'StrictHostKeyChecking=yes', '-o', `UserKnownHostsFile=${fleet.knownHostsFile}`, '-o', 'GlobalKnownHostsFile=/dev/null'];
}

async function deploy(fleet: Fleet, endpoint: Endpoint, method: Method): Promise<string> {
  if (method === 'action') {
    const result = await runTimedAction(actionInputs(fleet, [endpoint]));
    return result.ok ? '' : result.why;
  }
  const ssh = sshCommand(fleet, endpoint);
  const result =
    method === 'rsync'
      ? await execFile('rsync', ['-az', '--delete', '--exclude=.git/', '--exclude=*.pid', '--exclude=*.log', '--exclude=*.status', '-e', ssh.join(' '), `${fleet.source}/`, `root@127.0.0.1:${TARGET}/`], { timeoutMs: 120_000 })
      : await execFile('bash', ['-c', 'set -o pipefail; tar -czf - -C "$1" . | "${@:2}" root@127.0.0.1 "tar -xzf - -C $0"', TARGET, fleet.source, ...ssh], { timeoutMs: 120_000 });
  return result.code === 0 ? '' : `exit ${result.code}: ${result.stderr.trim().split('\n').slice(-2).join(' | ')}`;
}

export const delta: Benchmark = {
  name: 'delta',
  async run(context) {
    const rounds = context.quick ? 1 : 3;
    const counts: Record<Method, Counts[]> = { action: [], rsync: [], tar: [] };
    const failures: string[] = [];
    await withRig(async (rig) => {
      const fleet = await startFleet(rig, 1);
      const host = fleet.hosts[0]!;
      await writeTree(fleet.source);
      // The host starts with the same tree, times included, as after a deploy.
      await mustExec('rsync', ['-a', `${fleet.source}/`, join(host.srv, 'app/')]);
      const relay: Relay = await startRelay(host.port);
      const endpoint: Endpoint = { host, port: relay.port };
      await writeFile(fleet.knownHostsFile, `${knownHostsLine(endpoint)}\n`);
      try {
        for (let round = 0; round < rounds; round++) {
          for (const [i, method] of METHODS.map((_, i) => [i, METHODS[(i + round) % METHODS.length]!] as const)) {
            await writeFile(join(fleet.source, 'data/d000', `f${round * METHODS.length + i}.php`), fileContent(`changed ${round}/${i}`));
            relay.reset();
            const why = await deploy(fleet, endpoint, method);
            if (why) failures.push(`${method}, round ${round + 1}: ${why}`);
            else counts[method].push({ ...relay.counts });
            context.log(`delta round ${round + 1}/${rounds}, ${method}: ${why || `${formatBytes(relay.counts.up + relay.counts.down)} in ${relay.counts.connections} connection(s)`}`);
          }
        }
      } finally {
        await relay.close();
      }
    });
    return report(counts, failures, rounds);
  },
};

function report(counts: Record<Method, Counts[]>, failures: readonly string[], rounds: number): Section {
  const m = (method: Method, pick: (c: Counts) => number) => median(counts[method].map(pick));
  const total = (c: Counts) => c.up + c.down;
  const plain = m('rsync', total);
  const labels: Record<Method, string> = { action: 'the action', rsync: 'plain rsync (`rsync -az --delete`)', tar: 'tar and copy the whole tree (`tar -cz | ssh tar -xz`)' };
  const rows = METHODS.map((method) => [
    labels[method],
    formatBytes(m(method, (c) => c.up)),
    formatBytes(m(method, (c) => c.down)),
    formatBytes(m(method, total)),
    formatRatio(ratio(m(method, total), plain)),
    String(m(method, (c) => c.connections)),
  ]);
  const actionRatio = ratio(m('action', total), plain);
  return {
    title: '3. Delta deploy',
    goals: [{ figure: 'delta deploy, one file changed in 10,000: bytes ÷ plain rsync', measured: formatRatio(actionRatio), goal: '≤ 1.05×', met: meets(actionRatio, GOAL) }],
    body: [
      `The example app plus a tree of ${(DIRS * FILES_PER_DIR).toLocaleString('en')} small PHP files (about 1 KiB each, random data) under \`data/\`, ` +
        'the host already holding the same tree; each deploy changes one of those files. Bytes are counted on the wire, both ways, ' +
        'by a TCP relay on loopback in front of the host’s sshd, for everything each method says to the host: for the action that includes ' +
        `the lock, preflight, snapshot, reload and watch besides the sync. Median of ${rounds} round(s), the three methods interleaved.`,
      '',
      table(['method', 'to the host', 'from the host', 'total', '÷ plain rsync', 'SSH connections'], rows),
      ...(failures.length ? ['', 'Deploys not measured:', '', ...failures.map((f) => `- ${f}`)] : []),
    ].join('\n'),
    figures: [],
  };
}
