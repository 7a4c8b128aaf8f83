import { connect, type Socket } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { HostReport } from '../../src/engine/report/report.js';
import { removeRunnerTemp, runAction, type ActionRun } from './action-runner.js';
import { TARGET, type Rig, type TestHost, type WorkermanMajor } from './rig.js';

/** The inputs of a one-host deploy to a rig host, fast settings for tests. */
export function inputsFor(rig: Rig, host: TestHost, source: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    hosts: `root@127.0.0.1:${host.port}`,
    'private-key': rig.clientKey,
    'known-hosts': host.hostKeyLine,
    source,
    target: TARGET,
    'ignore-workers': 'gateway',
    settle: '1s',
    timeout: '60s',
    'poll-interval': '100ms',
    ...extra,
  };
}

export interface Deploy {
  readonly run: ActionRun;
  readonly report: HostReport;
}

export interface DeployAttempt {
  readonly run: ActionRun;
  /** Empty when the action refused its inputs before any host. */
  readonly reports: readonly HostReport[];
}

/**
 * A fault injected mid-rollout: `then` runs once, when the action's output
 * first matches. It gets the action's process id (to freeze it with SIGSTOP,
 * say: a runner that stalls between two looks at the host).
 */
export interface WhenHook {
  readonly match: RegExp;
  readonly then: (action: { pid: number }) => Promise<unknown>;
}

/** What a deploy's report and the end of its log say, for assertion messages. */
export function explainDeploy({ run, report }: Deploy): string {
  return `report: ${JSON.stringify(report)}\nlog (end):\n${run.log.split('\n').slice(-40).join('\n')}`;
}

/** Runs the action against one host, with `when` hooks for faults injected mid-rollout. */
export async function deploy(rig: Rig, host: TestHost, source: string, extra: Record<string, string> = {}, when: readonly WhenHook[] = []): Promise<Deploy> {
  const { run, reports } = await attemptDeploy(rig, host, source, extra, when);
  if (reports.length !== 1) throw new Error(`expected one host report, got ${reports.length}; log:\n${run.log}`);
  return { run, report: reports[0]! };
}

/**
 * Runs the action and fires each `when` hook once, as soon as the action's
 * output first matches it (faults injected mid-rollout); returns the run and
 * its report, which must be JSON.
 */
async function runWithHooks(
  inputs: Record<string, string>,
  when: readonly WhenHook[],
  options: { env?: Record<string, string>; echo?: (text: string) => void } = {},
): Promise<DeployAttempt> {
  let seen = '';
  let pid = 0;
  const pending = [...when];
  const fired: Promise<unknown>[] = [];
  const run = await runAction(inputs, {
    ...(options.env ? { env: options.env } : {}),
    onSpawn: (spawned) => (pid = spawned),
    echo: (text) => {
      options.echo?.(text);
      seen += text;
      for (const hook of [...pending]) {
        if (hook.match.test(seen)) {
          pending.splice(pending.indexOf(hook), 1);
          fired.push(hook.then({ pid }));
        }
      }
    },
  });
  await Promise.all(fired);
  await removeRunnerTemp(run);
  let reports: HostReport[];
  try {
    reports = JSON.parse(run.outputs['report'] ?? '[]') as HostReport[];
  } catch (error) {
    throw new Error(`the report output is not JSON (${(error as Error).message}); log:\n${run.log}`, { cause: error });
  }
  return { run, reports };
}

/** Like deploy, but the action may refuse before reaching the host. */
export async function attemptDeploy(
  rig: Rig,
  host: TestHost,
  source: string,
  extra: Record<string, string> = {},
  when: readonly WhenHook[] = [],
): Promise<DeployAttempt> {
  return runWithHooks(inputsFor(rig, host, source, extra), when);
}

/** A source (plain app) whose web workers die in onWorkerStart: a fatal error in the new handler. */
export async function makeCrashingSource(rig: Rig, options: { workerman?: WorkermanMajor } = {}): Promise<string> {
  const source = await rig.makeSource('v2-broken', options);
  await writeFile(join(source, 'src/handler.php'), `<?php\nthrow new Error('boom: the new handler cannot start');\n`);
  return source;
}

/**
 * A source at `version` whose new handler throws in onWorkerStart on a host
 * that has /srv/crash-on-v2 (a host-local setting the new code cannot live
 * with): a crash loop on that host only.
 */
export async function makeHostSensitiveSource(rig: Rig, version = 'v2'): Promise<string> {
  const source = await rig.makeSource(version);
  const handler = join(source, 'src/handler.php');
  const text = await readFile(handler, 'utf8');
  const anchor = '$version = require';
  if (!text.includes(anchor)) throw new Error(`the example handler no longer loads version.php with "${anchor}": ${handler}`);
  await writeFile(
    handler,
    text.replace(
      anchor,
      `if (is_file('/srv/crash-on-v2')) {\n    throw new Error('boom: ${version} cannot run with /srv/crash-on-v2 on this host');\n}\n${anchor}`,
    ),
  );
  return source;
}

/**
 * An idle HTTP keep-alive client: one request, then the connection stays
 * open. It pins the worker that accepted it during a graceful reload. With
 * `pid`, connections are opened (and the others closed) until one is served
 * by that worker (the example app names it in X-Worker-Pid): which worker
 * accepts a new connection is up to the kernel.
 */
export async function keepAliveClient(port: number, options: { pid?: number } = {}): Promise<Socket> {
  for (let attempt = 1; ; attempt++) {
    const socket = connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    const head = await new Promise<string>((resolve, reject) => {
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n');
      });
      socket.once('data', (chunk: Buffer) => resolve(chunk.toString('latin1')));
    });
    const served = Number(/^x-worker-pid:\s*(\d+)/im.exec(head)?.[1] ?? 0);
    if (options.pid === undefined || served === options.pid) return socket;
    socket.destroy();
    if (attempt >= 200)
      throw new Error(
        `no keep-alive connection to port ${port} was served by worker ${options.pid} in ${attempt} tries (last: ${served || head.slice(0, 200)})`,
      );
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Start time of a process, in clock ticks since boot (/proc/<pid>/stat field 22). */
async function startTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]);
}

/**
 * Pins a graceful reload before any worker is replaced: a keep-alive client
 * held by the web worker the master replaces first (it goes through a group
 * in fork order: the oldest worker first).
 */
export async function pinFirstWorker(host: TestHost): Promise<{ socket: Socket; pid: number }> {
  const web: { pid: number; started: number }[] = [];
  for (const worker of await host.workers()) {
    if (/^WorkerMan: worker process\s+web\s/.test(worker.title)) web.push({ pid: worker.pid, started: await startTicks(worker.pid) });
  }
  web.sort((a, b) => a.started - b.started || a.pid - b.pid);
  const first = web[0];
  if (!first) throw new Error(`${host.name}: no web worker to pin`);
  return { socket: await keepAliveClient(host.app.httpPort, { pid: first.pid }), pid: first.pid };
}

/**
 * Host-side php wrapper: a call with the argument `word` (default: `status`,
 * as in `php start.php status`) misbehaves; every other call is real php.
 * Each such call adds a line to /srv/bin/<name>.<word>-calls.
 */
export async function installPhpWrapper(host: TestHost, name: string, behaviour: string, word = 'status'): Promise<string> {
  await host.shell(
    `mkdir -p /srv/bin && cat > /srv/bin/${name} <<'EOF'\n#!/bin/sh\ncase " $* " in *" ${word} "*) echo called >> /srv/bin/${name}.${word}-calls; ${behaviour};; esac\nexec php "$@"\nEOF\nchmod +x /srv/bin/${name}`,
  );
  return `/srv/bin/${name}`;
}

/** The inputs of a fleet rollout to rig hosts: every host listed, every host key pinned, fast settings for tests. */
export function fleetInputs(rig: Rig, hosts: readonly TestHost[], source: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...inputsFor(rig, hosts[0]!, source),
    hosts: hosts.map((host) => `root@127.0.0.1:${host.port}`).join('\n'),
    'known-hosts': hosts.map((host) => host.hostKeyLine).join('\n'),
    ...extra,
  };
}

/** A fleet rollout's run and its report, one entry per host. */
export interface FleetRun {
  readonly run: ActionRun;
  readonly reports: readonly HostReport[];
}

/**
 * Runs the action against several rig hosts at once (fleetInputs), with
 * `when` hooks for faults injected mid-rollout (they get the action's pid:
 * a SIGINT to it is the runner cancelling the job). `env` adds to the
 * action's environment (GITHUB_RUN_ID, GITHUB_JOB ... for the lock's owner).
 */
export async function deployFleet(
  rig: Rig,
  hosts: readonly TestHost[],
  source: string,
  extra: Record<string, string> = {},
  when: readonly WhenHook[] = [],
  options: { env?: Record<string, string>; echo?: (text: string) => void } = {},
): Promise<FleetRun> {
  return runWithHooks(fleetInputs(rig, hosts, source, extra), when, options);
}
