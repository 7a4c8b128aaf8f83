// A fleet of rig hosts for the benchmarks, and the three ways to deploy to it
// that they compare: the action (dist/index.cjs, run as a runner runs it), the
// careful hand-written script and the one-host-at-a-time ssh loop.
import { lutimes, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { HostReport } from '../../src/engine/report/report.js';
import { removeRunnerTemp, runAction } from '../../test/rig/action-runner.js';
import { execFile } from '../../test/rig/process.js';
import { Rig, TARGET, type TestHost } from '../../test/rig/rig.js';
import { watchProcess, type ProcessCost } from './process-watch.js';

/** Where a deploy connects to reach a host: its sshd, or a relay in front of it. */
export interface Endpoint {
  readonly host: TestHost;
  readonly port: number;
}

export interface Fleet {
  readonly rig: Rig;
  readonly hosts: readonly TestHost[];
  /** The app to deploy: the hosts' app, with src/version.php changed before each deploy. */
  readonly source: string;
  /** A known_hosts file for the scripts, one line per endpoint used so far (see knownHostsFor). */
  readonly knownHostsFile: string;
  /** Worker processes each host runs when steady. */
  readonly workersPerHost: number;
}

/**
 * The example app cut down to one worker per group (web, gateway, task), so
 * 32 hosts fit on a small machine. Applied to the hosts' app and the source
 * alike, so the deploy changes no master-level file.
 */
async function shrinkApp(dir: string): Promise<void> {
  const file = join(dir, 'start.php');
  const text = await readFile(file, 'utf8');
  const small = text.replace(/(\$(web|gateway)->count = )\d+;/g, '$11;');
  if ((small.match(/->count = 1;/g) ?? []).length !== 3) throw new Error(`${file}: expected $web, $gateway and $task with a count each to shrink`);
  await writeFile(file, small);
}

/**
 * Dates every file of the source an hour back, before the hosts' masters
 * started. The scripts copy file times (rsync -a) and the action does not: a
 * script run after the action would otherwise give the host's start.php and
 * vendor/ the source's newer times, and the action's next run would rightly
 * restart a master older than its own code, a cost no real deploy pays by
 * alternating tools. src/version.php, changed before each deploy, is no
 * master-level file.
 */
async function backdate(dir: string): Promise<void> {
  const then = new Date(Date.now() - 3_600_000);
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const entry of entries) await lutimes(join(entry.parentPath, entry.name), then, then);
  await lutimes(dir, then, then);
}

/** Runs `task` on every item, at most `limit` at once. */
async function eachLimited<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.min(limit, queue.length) }, async () => {
      for (let item = queue.shift(); item !== undefined; item = queue.shift()) await task(item);
    }),
  );
}

/**
 * Starts `count` rig hosts running the example app on Workerman 5 (`small`:
 * one worker per group), and a source to deploy. The caller destroys
 * fleet.rig, in a finally.
 */
export async function startFleet(rig: Rig, count: number, options: { small?: boolean; logLevel?: string } = {}): Promise<Fleet> {
  const hosts: TestHost[] = [];
  for (let i = 1; i <= count; i++) {
    const host = await rig.addHost(`h${i}`, options.logLevel ? { logLevel: options.logLevel } : {});
    if (options.small) await shrinkApp(join(host.srv, 'app'));
    hosts.push(host);
  }
  await eachLimited(hosts, 4, (host) => host.startMaster());
  const source = await rig.makeSource('v1');
  if (options.small) await shrinkApp(source);
  await backdate(source);
  const knownHostsFile = join(rig.dir, 'bench_known_hosts');
  await writeFile(knownHostsFile, '');
  const workersPerHost = (await hosts[0]!.workers()).length;
  return { rig, hosts, source, knownHostsFile, workersPerHost };
}

export function endpointsOf(hosts: readonly TestHost[]): Endpoint[] {
  return hosts.map((host) => ({ host, port: host.port }));
}

/** The host's key pinned for the port an endpoint listens on. */
export function knownHostsLine(endpoint: Endpoint): string {
  return endpoint.host.hostKeyLine.replace(/^\[127\.0\.0\.1\]:\d+ /, `[127.0.0.1]:${endpoint.port} `);
}

/** Marks the source as a new version: one file changed, as in an everyday deploy. */
let versions = 0;
export async function nextVersion(fleet: Fleet): Promise<string> {
  const version = `bench-${++versions}`;
  await writeFile(join(fleet.source, 'src/version.php'), `<?php return '${version}';\n`);
  return version;
}

export interface ActionResult {
  /** From spawning `node dist/index.cjs` to its exit. */
  readonly ms: number;
  /** When it was spawned and when it exited, epoch ms (the clock of the reports' phase times). */
  readonly spawnedAt: number;
  readonly exitedAt: number;
  /** The node process's peak memory and CPU time. */
  readonly cost: ProcessCost;
  readonly ok: boolean;
  readonly reports: readonly HostReport[];
  readonly log: string;
  /** Why the run is not ok, in a line. */
  readonly why: string;
}

/** The action's inputs for a deploy to `endpoints`, all at once, settle 0s; `extra` overrides. */
export function actionInputs(fleet: Fleet, endpoints: readonly Endpoint[], extra: Record<string, string> = {}): Record<string, string> {
  return {
    hosts: endpoints.map((e) => `root@127.0.0.1:${e.port}`).join('\n'),
    'private-key': fleet.rig.clientKey,
    'known-hosts': endpoints.map(knownHostsLine).join('\n'),
    source: fleet.source,
    target: TARGET,
    settle: '0s',
    'max-parallel': String(endpoints.length),
    ...extra,
  };
}

/**
 * Runs dist/index.cjs as a runner does, watching its memory and CPU time;
 * `onLine` sees each line of its output as it arrives (with the time),
 * `onSpawn` gets its process id.
 */
export async function runTimedAction(
  inputs: Record<string, string>,
  options: { onLine?: (line: string, at: number) => void; onSpawn?: (pid: number) => void } = {},
): Promise<ActionResult> {
  let spawnedAt = 0;
  let pending = '';
  let watch: ReturnType<typeof watchProcess> | undefined;
  const run = await runAction(inputs, {
    onSpawn: (pid) => {
      spawnedAt = performance.now();
      watch = watchProcess(pid);
      options.onSpawn?.(pid);
    },
    echo: (text) => {
      const at = performance.now();
      pending += text;
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) options.onLine?.(line, at);
    },
  });
  const exitedAt = performance.now();
  const cost = watch?.stop() ?? { peakMiB: Number.NaN, cpuMs: Number.NaN };
  await removeRunnerTemp(run);
  let reports: HostReport[] = [];
  try {
    reports = JSON.parse(run.outputs['report'] ?? '[]') as HostReport[];
  } catch {
    // A run that printed no report is not ok; its log says why.
  }
  const ok = run.code === 0 && reports.length > 0 && reports.every((r) => r.ok);
  const failed = reports.find((r) => !r.ok);
  const why =
    ok ? ''
    : failed ? `${failed.host}: ${failed.error ?? failed.status}`
    : `exit ${run.code}: ${lastLines(run.log)}`;
  return {
    ms: exitedAt - spawnedAt,
    spawnedAt: performance.timeOrigin + spawnedAt,
    exitedAt: performance.timeOrigin + exitedAt,
    cost,
    ok,
    reports,
    log: run.log,
    why,
  };
}

function lastLines(text: string, count = 3): string {
  return text.trim().split('\n').slice(-count).join(' | ');
}

export interface ScriptResult {
  readonly ms: number;
  readonly ok: boolean;
  readonly why: string;
}

const SCRIPTS = import.meta.dirname;
/** The example app's gateway group has reloadable = false: the careful script must not wait for it. */
const KEPT_GROUP = 'gateway';

async function runBash(args: readonly string[]): Promise<ScriptResult> {
  const started = performance.now();
  const result = await execFile('bash', args, { timeoutMs: 180_000 });
  const ms = performance.now() - started;
  return { ms, ok: result.code === 0, why: result.code === 0 ? '' : `exit ${result.code}: ${lastLines(result.stderr || result.stdout)}` };
}

const hostPorts = (endpoints: readonly Endpoint[]) => endpoints.map((e) => `127.0.0.1:${e.port}`);

/** careful-deploy.sh on every endpoint at once: the yardstick, or with `polling` the earlier one (an ssh command a look). */
export async function runCarefulScript(fleet: Fleet, endpoints: readonly Endpoint[], polling = false): Promise<ScriptResult> {
  await knownHostsFor(fleet, endpoints);
  const options = ['-k', fleet.rig.clientKeyFile, '-K', fleet.knownHostsFile, '-s', fleet.source, '-t', TARGET, '-x', KEPT_GROUP, ...(polling ? ['-P'] : [])];
  return runBash([join(SCRIPTS, 'careful-deploy.sh'), ...options, ...hostPorts(endpoints)]);
}

/** ssh-loop.sh: host after host, rsync then `php start.php <command>`. */
export async function runSshLoop(fleet: Fleet, endpoints: readonly Endpoint[], command = 'reload'): Promise<ScriptResult> {
  await knownHostsFor(fleet, endpoints);
  return runBash([join(SCRIPTS, 'ssh-loop.sh'), fleet.rig.clientKeyFile, fleet.knownHostsFile, fleet.source, TARGET, command, ...hostPorts(endpoints)]);
}

/** Pins the endpoints' host keys in the scripts' known_hosts file. */
async function knownHostsFor(fleet: Fleet, endpoints: readonly Endpoint[]): Promise<void> {
  const lines = new Set((await readFile(fleet.knownHostsFile, 'utf8')).split('\n').filter(Boolean));
  for (const endpoint of endpoints) lines.add(knownHostsLine(endpoint));
  await writeFile(fleet.knownHostsFile, [...lines, ''].join('\n'));
}

/**
 * Waits until every host runs its full set of workers, the same PIDs on two
 * looks 200 ms apart: a deploy that does not wait for its reload (the ssh
 * loop) must not leave the next run a host mid-reload.
 */
export async function waitSteady(fleet: Fleet, hosts: readonly TestHost[] = fleet.hosts, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (const host of hosts) {
    let last = '';
    for (;;) {
      const pids = (await host.workers()).map((w) => w.pid).sort((a, b) => a - b);
      const now = pids.join(',');
      if (pids.length === fleet.workersPerHost && now === last) break;
      if (Date.now() > deadline) throw new Error(`${host.name}: workers not steady after ${timeoutMs} ms (${pids.length} of ${fleet.workersPerHost})`);
      last = now;
      await sleep(200);
    }
  }
}

/** SSH connections a host's sshd has logged so far (LogLevel VERBOSE or more). */
export function connectionsLogged(host: TestHost): number {
  return host.sshdLog.match(/Connection from \S+ port \d+/g)?.length ?? 0;
}

/** Creates a rig, hands it to `use`, and always tears it down (every host process ended). */
export async function withRig<T>(use: (rig: Rig) => Promise<T>): Promise<T> {
  const rig = await Rig.create();
  try {
    return await use(rig);
  } finally {
    await rig.destroy();
  }
}
