import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fingerprint } from '../../src/engine/inputs/known-hosts.js';
import { runnerCommandLines } from '../../src/engine/report/host-text.js';
import { removeRunnerTemp, runAction } from '../rig/action-runner.js';
import { mustExec } from '../rig/process.js';
import { Rig } from '../rig/rig.js';
import { deploy, inputsFor, installPhpWrapper } from '../rig/scenario.js';

let rig: Rig;
before(async () => {
  rig = await Rig.create();
});
after(async () => {
  await rig?.destroy();
});

const MB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Samples the peak resident set (VmHWM, a high-water mark the kernel keeps)
 * of the action process while it runs: the dist/index.cjs process whose
 * environment carries `marker`. Since VmHWM never falls, the last sample
 * taken before the process exits is its peak up to then.
 */
function samplePeakRss(marker: string): { stop: () => Promise<{ pid: number | undefined; peakBytes: number; samples: number }> } {
  let stopped = false;
  let pid: number | undefined;
  let peakBytes = 0;
  let samples = 0;
  const findPid = async (): Promise<number | undefined> => {
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        if (!(await readFile(`/proc/${entry}/cmdline`, 'latin1')).includes('dist/index.cjs')) continue;
        if ((await readFile(`/proc/${entry}/environ`, 'latin1')).split('\0').includes(marker)) return Number(entry);
      } catch {
        // Gone, or not ours to read.
      }
    }
    return undefined;
  };
  const loop = (async () => {
    while (!stopped) {
      pid ??= await findPid();
      if (pid !== undefined) {
        const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
        const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(status)?.[1];
        if (hwm !== undefined) {
          peakBytes = Math.max(peakBytes, Number(hwm) * 1024);
          samples += 1;
        }
      }
      await sleep(20);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return { pid, peakBytes, samples };
    },
  };
}

/**
 * The action's workflow commands in its raw output, as the runner splits and
 * trims lines: each must be one the action issued itself through
 * @actions/core, at the start of one of its own \n lines, and none may carry
 * what a host wrote.
 */
function assertNoHostCommands(log: string): void {
  const ownLines = new Set(log.split('\n'));
  for (const line of runnerCommandLines(log)) {
    assert.ok(ownLines.has(line), `a command line the host started (not at a \\n line start): ${JSON.stringify(line.slice(0, 160))}`);
    // The action's own: an annotation may carry properties (a title naming the host), a log group its title.
    assert.match(line, /^::(add-mask|debug|error|warning|notice|group|endgroup)(?: [^:]*)?::/, `an unexpected command: ${JSON.stringify(line.slice(0, 160))}`);
    assert.ok(!line.includes('##['), `##[ in ${JSON.stringify(line.slice(0, 160))}`);
  }
}

test('a php that streams without end: the command is stopped at 4 MB, the host fails fast, and the action stays small', async () => {
  const host = await rig.addHost('flood');
  await host.startMaster();
  const php = await installPhpWrapper(host, 'php-flood', `yes 'flood flood flood'`, 'graceful-reload-definitions');
  const source = await rig.makeSource('v2');
  const mark = randomUUID();
  const sampler = samplePeakRss(`INPUT_HARDENING-MARK=${mark}`);
  const started = Date.now();
  const { run, report } = await deploy(rig, host, source, { php, 'command-timeout': '15s', 'hardening-mark': mark }).finally(() => sampler.stop());
  const elapsedMs = Date.now() - started;
  const rss = await sampler.stop();
  console.log(
    `flood: failed after ${(elapsedMs / 1000).toFixed(1)} s; action peak RSS ${(rss.peakBytes / MB).toFixed(1)} MB (pid ${rss.pid}, ${rss.samples} samples)`,
  );
  assert.equal(run.code, 1, run.log);
  assert.ok(rss.samples > 0, 'the action process was measured');
  assert.ok(rss.peakBytes < 300 * MB, `peak RSS ${(rss.peakBytes / MB).toFixed(1)} MB`);
  // A margin for the commands before it: on a loaded runner each SSH session alone can take seconds.
  assert.ok(elapsedMs < 15_000 + 30_000, `failed after ${elapsedMs} ms, command-timeout is 15 s`);
  assert.equal(report.host, `root@127.0.0.1:${host.port}`);
  assert.equal(report.ok, false);
  assert.equal(report.step, 'preflight');
  assert.equal(report.filesChanged, false);
  assert.match(report.error!, /the output of a remote command passed 4 MB \(on stdout\) and it was stopped/);
  assert.match(
    run.log,
    new RegExp(
      `::error title=root@127\\.0\\.0\\.1%3A${host.port} failed::root@127\\.0\\.0\\.1:${host.port}: preflight failed: the output of a remote command passed 4 MB`,
    ),
  );
  assert.doesNotMatch(run.log, /RangeError|Invalid string length/);
  // The remote command was ended, not left streaming on the host.
  await sleep(500);
  assert.equal((await host.shell(`pgrep -x yes || true`)).trim(), '', 'no yes process left on the host');
});

test('a pin of the wrong key type (RSA for an ed25519-only host) fails at host-key, once, naming both types and fingerprints', async () => {
  const host = await rig.addHost('wrong-key-type', { logLevel: 'VERBOSE' });
  await host.startMaster();
  const keyFile = join(rig.dir, 'not-the-host-rsa');
  await mustExec('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-C', 'not-the-host', '-f', keyFile]);
  const rsaKey = (await readFile(`${keyFile}.pub`, 'utf8')).trim().split(/\s+/)[1]!;
  const hostKey = host.hostKeyLine.split(/\s+/)[2]!;
  const connectionsBefore = (host.sshdLog.match(/Connection from /g) ?? []).length;
  const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), { 'known-hosts': `[127.0.0.1]:${host.port} ssh-rsa ${rsaKey}` });
  assert.equal(run.code, 1, run.log);
  assert.equal(report.step, 'host-key', report.error);
  assert.equal(report.filesChanged, false);
  const offered = `ssh-ed25519 ${fingerprint(Buffer.from(hostKey, 'base64'))}`;
  const pinned = `ssh-rsa ${fingerprint(Buffer.from(rsaKey, 'base64'))}`;
  assert.equal(
    report.error,
    `known-hosts pins only ssh-rsa key(s) for [127.0.0.1]:${host.port}, but the host offers ssh-ed25519 host keys, so its key cannot match: ` +
      `offered ${offered}; pinned: ${pinned}. Pin a key of a type the host offers (ssh-keyscan -t ssh-ed25519), or configure the host to offer the pinned type. Nothing was sent to this host.`,
  );
  assert.doesNotMatch(run.log, /no matching host key format/);
  // Once: the one attempt, and one connection that reads the host's ed25519 key; no retries.
  const connections = (host.sshdLog.match(/Connection from /g) ?? []).length - connectionsBefore;
  assert.equal(connections, 2, host.sshdLog);
});

test('host text carrying workflow commands (U+0085, U+2028, \\r, ##[) reaches the log and the report sealed', async () => {
  const host = await rig.addHost('inject');
  await host.startMaster();
  // The start script's output the action quotes when it cannot read the definitions: each line a command, hidden behind another kind of line break.
  const payload = [
    String.raw`garbage error\302\205::set-output name=report::x`,
    String.raw`more\342\200\250::error::from the host`,
    String.raw`\r::warning::from the host`,
    String.raw`\302\240::add-mask::x`,
    String.raw`\343\200\200::debug::x`,
    String.raw`mid-line ##[error]from the host`,
    String.raw`::stop-commands::tok`,
  ].join(String.raw`\n`);
  const php = await installPhpWrapper(host, 'php-inject', `printf '${payload}\\n'; exit 0`, 'graceful-reload-definitions');
  const { run, report } = await deploy(rig, host, await rig.makeSource('v2'), { php });
  assert.equal(run.code, 1, run.log);
  assert.equal(report.step, 'preflight');
  // The host text is there, quoted in the parse error...
  assert.match(report.error!, /could not be run to read its worker definitions.*garbage error\u0085::set-output name=report::x/);
  assert.match(run.log, /garbage error⏎::set-output name=report::x/);
  // ...but never as a command, in stdout or stderr.
  assertNoHostCommands(run.log);
  // The report output is the real one, not the host's "x".
  assert.equal(run.outputs['report']?.includes('\n'), false);
  assert.equal((JSON.parse(run.outputs['report']!) as unknown[]).length, 1);
});

test('cancelled (SIGTERM) mid-rollout: the report is written, and one failure line says so', async () => {
  const host = await rig.addHost('sigterm');
  await host.startMaster();
  const php = await installPhpWrapper(host, 'php-hang', 'sleep 613', 'graceful-reload-definitions');
  let pid = 0;
  const running = runAction(inputsFor(rig, host, await rig.makeSource('v2'), { php, 'command-timeout': '60s' }), { onSpawn: (spawned) => (pid = spawned) });
  try {
    // Preflight reads the app's definitions, which now hangs: the host is in progress by then.
    const deadline = Date.now() + 30_000;
    while (!(await host.shell('pgrep -f "slee[p] 613" || true')).trim() && Date.now() < deadline) await sleep(100);
    assert.ok(pid > 0, 'the action was started');
    process.kill(pid, 'SIGTERM');
    const run = await running;
    assert.equal(run.code, 1, run.log);
    assert.match(
      run.log,
      /^::error::graceful-reload stopped: the step was cancelled \(SIGTERM\)\. root@127\.0\.0\.1:\d+ was in progress: what it did is unknown .*The report lists the 0 host\(s\) finished before\.$/m,
    );
    assert.deepEqual(run.outputs['report'], '[]');
    await removeRunnerTemp(run);
  } finally {
    await host.shell('pkill -f "slee[p] 613" || true');
  }
});
