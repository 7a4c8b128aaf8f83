// npm run demo: three local test hosts (real sshd, each with its own /srv)
// running the example app v1 on real Workerman 5.2.2 (installed by Composer
// into .cache/workerman on first use); app v2 is deployed through the real
// action entry point, dist/index.cjs, with inputs passed as INPUT_* variables
// exactly as a runner passes them. A small bounded load runs during the
// rollout to show that no request is dropped. Hosts are named as the
// action's log names them (root@127.0.0.1:<port>). Everything is torn down
// after, and the last line says so only once it has looked: no process left
// in any test host, their ports closed, the temp dirs gone.
import { existsSync } from 'node:fs';
import { readdir, readlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { Rig, TARGET, type TestHost } from '../test/rig/rig.js';
import { WORKERMAN_RELEASES } from '../test/rig/workerman-vendor.js';
import { runAction, removeRunnerTemp } from '../test/rig/action-runner.js';
import type { HostReport } from '../src/engine/report/report.js';

if (process.getuid?.() !== 0) {
  console.error('the demo starts sshd in private mount namespaces, which needs root: run it as root (sudo npm run demo)');
  process.exit(1);
}

const say = (text: string) => console.log(`\x1b[1m== ${text}\x1b[0m`);

/** A host as the action's log and report name it: its entry in the hosts input. */
const label = (host: TestHost) => `root@127.0.0.1:${host.port}`;

/** Whether something still accepts connections on a loopback port. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** What a finished teardown must not leave: processes in a test host's mount namespace, open ports, the rig's and the runner's temp dirs. */
async function leftovers(hosts: readonly TestHost[], dirs: readonly string[]): Promise<string[]> {
  const namespaces = new Set(hosts.map((host) => host.namespace));
  const left: string[] = [];
  for (const pid of (await readdir('/proc')).filter((entry) => /^\d+$/.test(entry))) {
    if (namespaces.has(await readlink(`/proc/${pid}/ns/mnt`).catch(() => ''))) left.push(`process ${pid}`);
  }
  for (const host of hosts) {
    for (const port of [host.port, host.app.httpPort]) if (await answers(port)) left.push(`${label(host)}: port ${port} still answers`);
  }
  return [...left, ...dirs.filter((dir) => existsSync(dir))];
}

/** Requests against every host until stopped: bounded to 60 s and 30,000 requests, paced so they span the rollout. */
function startLoad(hosts: readonly TestHost[]) {
  let stop = false;
  let ok = 0;
  let failed = 0;
  const started = Date.now();
  const loop = (async () => {
    while (!stop && Date.now() - started < 60_000 && ok + failed < 30_000) {
      await Promise.all(
        hosts.map((host) =>
          host.get('/').then(
            () => ok++,
            () => failed++,
          ),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  })();
  return {
    async finish() {
      stop = true;
      await loop;
      return { ok, failed };
    },
  };
}

/**
 * Shows the action's output the way a runner's log does: workflow commands
 * are interpreted (::add-mask:: lines are consumed, never shown).
 */
function runnerView(): (text: string) => void {
  let pending = '';
  return (text) => {
    pending += text;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      const command = /^::(\w[\w-]*)(?: [^:]*)?::(.*)$/.exec(line);
      if (!command) console.log(`   | ${line}`);
      else if (command[1] === 'error') console.log(`   | \x1b[31mError: ${decodeURIComponent(command[2]!)}\x1b[0m`);
      else if (command[1] === 'warning') console.log(`   | \x1b[33mWarning: ${decodeURIComponent(command[2]!)}\x1b[0m`);
    }
  };
}

const rig = await Rig.create();
const hosts: TestHost[] = [];
const runnerTemps: string[] = [];
// 1 until the rollout is judged: a throw before that still exits 1 after the teardown.
// eslint-disable-next-line no-useless-assignment
let exitCode = 1;
try {
  say(`starting three test hosts (OpenSSH sshd on loopback, each with its own /srv; Workerman ${WORKERMAN_RELEASES[5]})`);
  for (const name of ['web1', 'web2', 'web3']) hosts.push(await rig.addHost(name));
  for (const host of hosts) {
    await host.startMaster();
    console.log(`   ${label(host)} (test host ${host.name}): app on :${host.app.httpPort} says "${(await host.get('/')).trim()}"`);
  }
  const source = await rig.makeSource('v2');

  say('deploying app v2 with graceful-reload (node dist/index.cjs)');
  const load = startLoad(hosts);
  const run = await runAction(
    {
      hosts: hosts.map(label).join('\n'),
      'private-key': rig.clientKey,
      'known-hosts': hosts.map((host) => host.hostKeyLine).join('\n'),
      source,
      target: TARGET,
      settle: '2s',
      timeout: '60s',
    },
    { echo: runnerView() },
  );
  const traffic = await load.finish();
  runnerTemps.push(run.runnerTemp);
  await removeRunnerTemp(run);

  say(`the action exited with ${run.code}`);
  const reports = JSON.parse(run.outputs['report'] ?? '[]') as HostReport[];
  for (const report of reports) {
    console.log(
      `   ${report.host}: ${report.ok ? 'ok' : `FAILED at ${report.step}: ${report.error}`}; ` +
        `${report.replaced?.length ?? 0} workers replaced, ${report.kept?.length ?? 0} kept, reload took ${report.reloadMs ?? '?'} ms`,
    );
  }
  for (const host of hosts) console.log(`   ${label(host)} now says "${(await host.get('/')).trim()}"`);
  console.log(`   requests during the rollout: ${traffic.ok} answered, ${traffic.failed} failed`);
  exitCode = run.code === 0 && traffic.failed === 0 ? 0 : 1;
} finally {
  say('tearing down');
  try {
    await rig.destroy();
    const left = await leftovers(hosts, [rig.dir, ...runnerTemps]);
    // Caught just below: a teardown that left something fails the demo, and says what.
    // eslint-disable-next-line no-unsafe-finally
    if (left.length > 0) throw new Error(`the teardown left: ${left.join('; ')}`);
    say(`torn down: no process is left in the ${hosts.length} test hosts, their ports are closed and the temp dirs are gone`);
  } catch (error) {
    console.error(`   ${(error as Error).message}`);
    exitCode = 1;
  }
}
process.exit(exitCode);
