// npm run demo: three local test hosts (real sshd, each with its own /srv)
// running the example app v1 on real Workerman 5.2.2 (installed by Composer
// into .cache/workerman on first use); app v2 is deployed through the real
// action entry point, dist/index.js, with inputs passed as INPUT_* variables
// exactly as a runner passes them. A small bounded load runs during the
// rollout to show that no request is dropped. Everything is torn down after,
// and the teardown checks that no process of a test host is left running.
import { Rig, TARGET, type TestHost } from '../test/rig/rig.js';
import { WORKERMAN_RELEASES } from '../test/rig/workerman-vendor.js';
import { runAction, removeRunnerTemp } from '../test/rig/action-runner.js';
import type { HostReport } from '../src/engine/report.js';

if (process.getuid?.() !== 0) {
  console.error('the demo starts sshd in private mount namespaces, which needs root: run it as root (sudo npm run demo)');
  process.exit(1);
}

const say = (text: string) => console.log(`\x1b[1m== ${text}\x1b[0m`);

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
let exitCode = 1;
try {
  say(`starting three test hosts (OpenSSH sshd on loopback, each with its own /srv; Workerman ${WORKERMAN_RELEASES[5]})`);
  const hosts = [await rig.addHost('web1'), await rig.addHost('web2'), await rig.addHost('web3')];
  for (const host of hosts) {
    await host.startMaster();
    console.log(`   ${host.name}: ssh on 127.0.0.1:${host.port}, app on :${host.app.httpPort} says "${(await host.get('/')).trim()}"`);
  }
  const source = await rig.makeSource('v2');

  say('deploying app v2 with graceful-reload (node dist/index.js)');
  const load = startLoad(hosts);
  const run = await runAction(
    {
      hosts: hosts.map((host) => `root@127.0.0.1:${host.port}`).join('\n'),
      'private-key': rig.clientKey,
      'known-hosts': hosts.map((host) => host.hostKeyLine).join('\n'),
      source,
      target: TARGET,
      'ignore-workers': 'gateway',
      settle: '2s',
      timeout: '60s',
    },
    { echo: runnerView() },
  );
  const traffic = await load.finish();
  await removeRunnerTemp(run);

  say(`the action exited with ${run.code}`);
  const reports = JSON.parse(run.outputs['report'] ?? '[]') as HostReport[];
  for (const report of reports) {
    console.log(
      `   ${report.host}: ${report.ok ? 'ok' : `FAILED at ${report.step}: ${report.error}`}; ` +
        `${report.replaced?.length ?? 0} workers replaced, ${report.kept?.length ?? 0} kept, reload took ${report.reloadMs ?? '?'} ms`,
    );
  }
  for (const host of hosts) console.log(`   ${host.name} now says "${(await host.get('/')).trim()}"`);
  console.log(`   requests during the rollout: ${traffic.ok} answered, ${traffic.failed} failed`);
  exitCode = run.code === 0 && traffic.failed === 0 ? 0 : 1;
} finally {
  say('tearing down');
  try {
    await rig.destroy();
    console.log('   every process of the test hosts has ended, and their directories are gone');
  } catch (error) {
    console.error(`   ${(error as Error).message}`);
    exitCode = 1;
  }
}
process.exit(exitCode);
