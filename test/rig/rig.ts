import { appendFileSync, existsSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { chmod, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { join, relative, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { execFile, mustExec, waitFor } from './process.js';
import { workermanVendor, type WorkermanMajor } from './workerman-vendor.js';

/**
 * The test rig: every host is a real OpenSSH sshd on its own loopback port,
 * started inside its own mount namespace (unshare -m) with /srv bind-mounted
 * from a per-host directory, so every host has the same target path
 * (/srv/app) the way a real fleet does. Processes started over SSH, or with
 * `host.shell()` (nsenter into the namespace), see that host's /srv.
 *
 * The app is real Workerman (5.2.2 or 4.2.1, with GatewayWorker), installed
 * by Composer (workerman-vendor.ts) and copied in as the app's vendor/.
 */

export const REPO = resolve(import.meta.dirname, '../..');
export const TARGET = '/srv/app';

/** Ports already handed out: the kernel may offer a just-closed port again, and two services cannot share one. */
const handedOut = new Set<number>();

export async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolvePort, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => resolvePort(typeof address === 'object' && address ? address.port : 0));
      });
    });
    if (port > 0 && !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

/** Two free ports in a row (a GatewayWorker app's Gateways take start port + n). */
export async function freePortPair(): Promise<number> {
  for (;;) {
    const first = await freePort();
    const second = first + 1;
    if (handedOut.has(second)) continue;
    const free = await new Promise<boolean>((resolveFree) => {
      const server = createServer();
      server.once('error', () => resolveFree(false));
      server.listen(second, '127.0.0.1', () => server.close(() => resolveFree(true)));
    });
    if (free) {
      handedOut.add(second);
      return first;
    }
  }
}

export type { WorkermanMajor };

/** Which example app a host or a source carries. */
export type AppKind = 'plain' | 'gateway' | 'framework';

/** The example app of each kind, relative to the repository. */
const APP_DIRS: Record<AppKind, string> = {
  plain: 'examples/app',
  gateway: 'examples/gateway-app',
  framework: 'examples/framework-app',
};

export interface HostApp {
  readonly httpPort: number;
  readonly wsPort: number;
  /** Port of the example status worker, when the master is started with it. */
  readonly statusPort: number;
  /** GatewayWorker apps: the Register's port. */
  readonly registerPort: number;
  /** GatewayWorker apps: the port clients connect to. */
  readonly gatewayPort: number;
  /** GatewayWorker apps: first of two ports the Gateways open for the BusinessWorkers. */
  readonly gatewayStartPort: number;
}

/** What a master looks like in /proc: Workerman titles its processes. */
const MASTER_TITLE = new RegExp(`^WorkerMan: master process\\s+start_file=${TARGET}/`);
const WORKER_TITLE = /^WorkerMan: worker process\s/;

interface ProcessEntry {
  readonly pid: number;
  readonly ppid: number;
  readonly state: string;
  readonly title: string;
}

/** Every process in /proc (the rig shares the pid namespace with its hosts), zombies included. */
function processTable(): ProcessEntry[] {
  const table: ProcessEntry[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    let title: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      title = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    } catch {
      continue;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    table.push({ pid: Number(entry), ppid: Number(fields[1]), state: fields[0] ?? '', title });
  }
  return table;
}

function mountNamespace(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/ns/mnt`);
  } catch {
    return '';
  }
}

/** The live (not zombie) processes in a mount namespace, this process left out. */
function processesIn(namespace: string): ProcessEntry[] {
  return processTable().filter((p) => p.pid !== process.pid && p.state !== 'Z' && mountNamespace(p.pid) === namespace);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Kills every process in a mount namespace, again and again until none is
 * left: a master killed in one pass may have forked replacements for workers
 * killed just before it, and the next pass takes those. Synchronous, so it
 * also runs in an exit handler. Returns whatever survived the deadline.
 */
function endNamespace(namespace: string, timeoutMs = 10_000): ProcessEntry[] {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = processesIn(namespace);
    if (left.length === 0 || Date.now() > deadline) return left;
    // Frozen first, so none of them forks (or reaps and re-forks) while the others die.
    for (const p of left) signal(p.pid, 'SIGSTOP');
    for (const p of left) signal(p.pid, 'SIGKILL');
    sleepSync(20);
  }
}

export class TestHost {
  readonly app: HostApp;
  /** Set when the host has been ended (its namespace emptied). */
  stopped = false;
  constructor(
    readonly name: string,
    readonly dir: string,
    readonly port: number,
    readonly hostKeyLine: string,
    private readonly sshd: ChildProcess,
    app: HostApp,
    private readonly log: () => string,
    /** The host's mount namespace (`mnt:[...]`), read when its sshd came up. */
    readonly namespace: string,
    /** Which example app /srv/app holds (null: none was installed). */
    readonly appKind: AppKind | null,
    /** The Workerman major version in /srv/app/vendor. */
    readonly workerman: WorkermanMajor,
  ) {
    this.app = app;
  }

  /** What sshd has logged so far (stderr, at the host's LogLevel). */
  get sshdLog(): string {
    return this.log();
  }

  /** The host's /srv as seen from the runner's file system. */
  get srv(): string {
    return join(this.dir, 'srv');
  }

  /** Runs a shell command inside the host's mount namespace. */
  async shell(script: string, env: Record<string, string> = {}): Promise<string> {
    const pid = this.sshd.pid;
    if (!pid || this.stopped) throw new Error(`${this.name}: sshd is not running`);
    const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    return mustExec('nsenter', ['-t', String(pid), '-m', '--', 'env', ...assignments, 'sh', '-c', script]);
  }

  /**
   * Starts the app's master from /srv/app, as an operator would over SSH
   * (`php start.php start -d`), and waits until it runs: the master found by
   * its title with its pid file written, its workers forked, and the app
   * answering (HTTP for plain and framework apps, a TCP connection to the
   * Gateway for GatewayWorker apps; the status worker too when asked for).
   */
  async startMaster(options: { statusWorker?: boolean } = {}): Promise<void> {
    const kind = this.appKind ?? (await this.installedAppKind());
    const env: Record<string, string> = {
      APP_HTTP_PORT: String(this.app.httpPort),
      APP_WS_PORT: String(this.app.wsPort),
      // The example status worker's registry: host-private, gone with the rig.
      APP_STATUS_REGISTRY_DIR: '/srv/status-registry',
    };
    if (options.statusWorker) env['APP_STATUS_PORT'] = String(this.app.statusPort);
    if (kind === 'gateway') {
      env['APP_REGISTER_PORT'] = String(this.app.registerPort);
      env['APP_GATEWAY_PORT'] = String(this.app.gatewayPort);
      env['APP_GATEWAY_START_PORT'] = String(this.app.gatewayStartPort);
    }
    // The same settings in root's login environment on this host (its private
    // ~/.bashrc, which bash reads for SSH commands): a restart over SSH, as the
    // action does for master-level changes, brings the app back as it was.
    await writeFile(
      join(this.dir, 'root', '.bashrc'),
      Object.entries(env)
        .map(([name, value]) => `export ${name}='${value}'\n`)
        .join(''),
      { mode: 0o600 },
    );
    // Output to a file: the daemon keeps its stdout until it has forked, and a pipe would wait for it.
    const output = join(this.srv, '.master-start.out');
    await this.shell(`cd ${TARGET} && php start.php start -d >/srv/.master-start.out 2>&1 </dev/null || true`, env);
    const said = async () => (await readFile(output, 'utf8').catch(() => '')).trim().split('\n').slice(-8).join('\n');
    let lastCount = -1;
    await waitFor(
      `${this.name}'s Workerman ${this.workerman} master (${kind} app) to start`,
      async () => {
        const master = await this.masterPid();
        if (master === null || !(await this.pidFiles()).some((file) => file.pid === master)) return false;
        const count = (await childProcesses(master)).filter((child) => WORKER_TITLE.test(child.title)).length;
        // Forked workers are counted twice, 100 ms apart: the same number twice means all are there.
        const steady = count > 0 && count === lastCount;
        lastCount = count;
        if (!steady) return false;
        if (kind === 'gateway' ? !(await tcpAccepts(this.app.gatewayPort)) : (await this.get('/').catch(() => null)) === null) return false;
        if (options.statusWorker && (await httpAnswers(this.app.statusPort, '/status')) === false) return false;
        return true;
      },
      20_000,
      100,
    ).catch(async (error: Error) => {
      throw new Error(`${error.message}; start -d said:\n${await said()}`);
    });
  }

  /** The app kind installed in /srv/app, for hosts whose app a test put there itself. */
  private async installedAppKind(): Promise<AppKind> {
    const text = await readFile(join(this.srv, 'app', 'start.php'), 'utf8').catch(() => '');
    if (text === '') throw new Error(`${this.name}: no /srv/app/start.php to start`);
    return /GatewayWorker\\/.test(text) ? 'gateway' : 'plain';
  }

  /**
   * Workerman's pid files on this host that exist, with the pid each holds:
   * 5.x keeps it beside the start file, 4.x in vendor/workerman/, frameworks
   * under runtime/.
   */
  async pidFiles(): Promise<{ path: string; pid: number }[]> {
    const app = join(this.srv, 'app');
    const paths = [join(app, 'workerman.start.php.pid'), join(app, 'vendor/workerman/_srv_app_start.php.pid')];
    for (const dir of [app, join(app, 'runtime')]) {
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        if (name.endsWith('.pid') && !paths.includes(join(dir, name))) paths.push(join(dir, name));
      }
    }
    const found: { path: string; pid: number }[] = [];
    for (const path of paths) {
      const text = await readFile(path, 'utf8').catch(() => null);
      if (text !== null) found.push({ path, pid: Number(text.trim()) || 0 });
    }
    return found;
  }

  /**
   * The running master of /srv/app on this host, or null. Found by its title
   * in this host's mount namespace; real Workerman gives every short-lived
   * `php start.php <command>` process the same title, so the one with worker
   * children wins, then the one its pid file names.
   */
  async masterPid(): Promise<number | null> {
    const table = processTable();
    const masters = table.filter((p) => p.state !== 'Z' && MASTER_TITLE.test(p.title) && mountNamespace(p.pid) === this.namespace);
    if (masters.length === 0) return null;
    const withWorkers = masters.filter((m) => table.some((p) => p.ppid === m.pid && p.state !== 'Z' && WORKER_TITLE.test(p.title)));
    if (withWorkers.length === 1) return withWorkers[0]!.pid;
    const named = new Set((await this.pidFiles()).map((file) => file.pid));
    const byFile = (withWorkers.length > 0 ? withWorkers : masters).filter((m) => named.has(m.pid));
    return byFile[0]?.pid ?? null;
  }

  /** The master's live children, read from /proc (the rig shares the pid namespace). */
  async workers(): Promise<{ pid: number; title: string }[]> {
    const master = await this.masterPid();
    if (master === null) return [];
    return childProcesses(master);
  }

  async get(path: string): Promise<string> {
    const response = await fetch(`http://127.0.0.1:${this.app.httpPort}${path}`, { signal: AbortSignal.timeout(2000), headers: { connection: 'close' } });
    return response.text();
  }

  /** Kills the master and its workers outright (a crash, or an operator's kill -9). */
  async stopMaster(): Promise<void> {
    const pid = await this.masterPid();
    if (pid === null) return;
    // Stopped first, so it cannot fork replacements for the workers killed next.
    signal(pid, 'SIGSTOP');
    await waitFor(`${this.name}'s master ${pid} to stop`, async () => !(await processAlive(pid)) || /^T/.test(await processState(pid)));
    const workers = await childProcesses(pid);
    for (const worker of workers) signal(worker.pid, 'SIGKILL');
    signal(pid, 'SIGKILL');
    await waitFor(`${this.name}'s master and workers to exit`, async () => {
      for (const id of [pid, ...workers.map((worker) => worker.pid)]) if (await processAlive(id)) return false;
      return true;
    });
    for (const file of await this.pidFiles()) if (file.pid === pid) await rm(file.path, { force: true });
  }

  /**
   * Ends the host: every process in its mount namespace is killed (sshd, the
   * master, orphaned workers, remote commands a test left hanging), until none
   * is left. Throws when some survive.
   */
  async stop(): Promise<void> {
    if (this.stopped) return;
    const survivors = endNamespace(this.namespace);
    this.sshd.kill('SIGKILL');
    this.stopped = true;
    recordHost('stop', this.namespace);
    if (survivors.length > 0) {
      throw new Error(`${this.name}: processes survived the teardown: ${survivors.map((p) => `${p.pid} (${p.state}) ${p.title}`).join('; ')}`);
    }
  }
}

/** kill(2) that shrugs at a process already gone. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export async function childProcesses(parent: number): Promise<{ pid: number; title: string }[]> {
  const children: { pid: number; title: string }[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[1]) !== parent || fields[0] === 'Z') continue;
    const title = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).replaceAll('\0', ' ').trim();
    children.push({ pid: Number(entry), title });
  }
  return children;
}

async function processState(pid: number): Promise<string> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

async function processAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** Whether something accepts a TCP connection on 127.0.0.1:port. */
function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolveAccepts) => {
    const socket = connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolveAccepts(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function httpAnswers(port: number, path: string): Promise<boolean> {
  return fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(2000), headers: { connection: 'close' } }).then(
    async (response) => (await response.text(), true),
    () => false,
  );
}

/**
 * Copies an example app (plain: examples/app; gateway: examples/gateway-app;
 * framework: examples/framework-app) and real Workerman (4.2.1 or 5.2.2, with
 * GatewayWorker, installed by Composer) as its vendor/ into a directory, with
 * src/version.php saying `version`.
 */
export async function buildApp(destination: string, version: string, options: { app?: AppKind; workerman?: WorkermanMajor } = {}): Promise<void> {
  const kind = options.app ?? 'plain';
  const from = join(REPO, APP_DIRS[kind]);
  if (!existsSync(join(from, 'start.php'))) throw new Error(`the ${kind} example app is not there: ${APP_DIRS[kind]}/start.php does not exist (yet)`);
  // The example's own run-time files and any vendor/ of its own stay behind.
  await cp(from, destination, {
    recursive: true,
    filter: (path) => {
      const rel = relative(from, path);
      return rel !== 'vendor' && !/(^|\/)(workerman\.[^/]*\.(pid|status)|[^/]*\.log)$/.test(rel);
    },
  });
  await cp(join(workermanVendor(options.workerman ?? 5), 'vendor'), join(destination, 'vendor'), { recursive: true });
  await writeFile(join(destination, 'src/version.php'), `<?php return '${version}';\n`);
}

/** Rigs not destroyed yet: ended when the process exits, whatever a test did. */
const liveRigs = new Set<Rig>();
process.on('exit', () => {
  for (const rig of liveRigs) rig.destroySync();
});

/** `npm test` marks the suite's temp dirs with its id (see zz-nothing-left.test.ts). */
export function suiteTag(): string {
  const id = process.env['GR_SUITE_ID'];
  return id ? `${id}-` : '';
}

/**
 * `npm test` has the rig write down every host's mount namespace and when
 * the host was ended (GR_SUITE_HOSTS), so the last test can find what
 * outlived a host: Workerman overwrites its processes' environment with its
 * process title, so they cannot carry a mark of their own.
 */
function recordHost(event: 'start' | 'stop', namespace: string): void {
  const file = process.env['GR_SUITE_HOSTS'];
  if (file) appendFileSync(file, `${event} ${namespace} ${Date.now()}\n`);
}

export class Rig {
  readonly hosts: TestHost[] = [];
  private constructor(
    readonly dir: string,
    readonly clientKeyFile: string,
    readonly clientKey: string,
  ) {}

  static async create(): Promise<Rig> {
    const dir = await mkdtemp(join(tmpdir(), `gr-rig-${suiteTag()}`));
    const clientKeyFile = join(dir, 'client_key');
    await mustExec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'graceful-reload-test', '-f', clientKeyFile]);
    await mkdir('/run/sshd', { recursive: true });
    const rig = new Rig(dir, clientKeyFile, await readFile(clientKeyFile, 'utf8'));
    liveRigs.add(rig);
    return rig;
  }

  /**
   * Starts one host: its own sshd and host key, and (unless `app: false`)
   * version v1 of an example app (default plain) on real Workerman (default
   * 5) in /srv/app; the master is started with `host.startMaster()`.
   * `password` gives root that password on this host only (a private
   * /etc/shadow is bind-mounted in its namespace); `logLevel` raises sshd's
   * logging, which `host.sshdLog` collects; `maxSessions` sets sshd's
   * MaxSessions (channels per connection; 50 unless given).
   */
  async addHost(
    name: string,
    options: { app?: false | AppKind; workerman?: WorkermanMajor; password?: string; logLevel?: string; users?: readonly string[]; maxSessions?: number } = {},
  ): Promise<TestHost> {
    const dir = join(this.dir, name);
    await mkdir(join(dir, 'srv'), { recursive: true });
    await mkdir(join(dir, 'etc'), { recursive: true });
    const hostKey = join(dir, 'etc', 'ssh_host_ed25519_key');
    await mustExec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', hostKey]);
    await cp(`${this.clientKeyFile}.pub`, join(dir, 'etc', 'authorized_keys'));
    const port = await freePort();
    const config = join(dir, 'etc', 'sshd_config');
    await writeFile(
      config,
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${hostKey}`,
        `AuthorizedKeysFile ${join(dir, 'etc', 'authorized_keys')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        ...(options.password !== undefined ? [] : ['PermitRootLogin prohibit-password']),
        `PasswordAuthentication ${options.password !== undefined ? 'yes' : 'no'}`,
        ...(options.password !== undefined ? ['PermitRootLogin yes'] : []),
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        `MaxSessions ${options.maxSessions ?? 50}`,
        'MaxStartups 50',
        `LogLevel ${options.logLevel ?? 'ERROR'}`,
        'Subsystem sftp internal-sftp',
        '',
      ].join('\n'),
    );
    let shadow = '';
    if (options.password !== undefined) {
      shadow = join(dir, 'etc', 'shadow');
      const hash = (await mustExec('openssl', ['passwd', '-6', '-stdin'], { input: `${options.password}\n` })).trim();
      const current = await readFile('/etc/shadow', 'utf8');
      await writeFile(shadow, current.replace(/^root:[^:]*:/m, `root:${hash}:`), { mode: 0o600 });
    }
    // Extra login users exist on this host only: a private /etc/passwd.
    let passwd = '';
    if (options.users?.length) {
      passwd = join(dir, 'etc', 'passwd');
      const extra = options.users.map((user, index) => `${user}:x:${2000 + index}:65534::/tmp:/bin/sh`).join('\n');
      await writeFile(passwd, `${(await readFile('/etc/passwd', 'utf8')).trimEnd()}\n${extra}\n`);
      // sshd reads authorized_keys as the logging-in user.
      for (const path of [this.dir, dir, join(dir, 'etc')]) await chmod(path, 0o755);
      await chmod(join(dir, 'etc', 'authorized_keys'), 0o644);
    }
    // root's home is the host's own, empty one: the runner's shell start-up
    // files (a pyenv init, say) stay out of every remote command, and a
    // command killed at teardown cannot leave a lock behind in the real one.
    const home = join(dir, 'root');
    await mkdir(home, { mode: 0o700 });
    const script =
      'mount --bind "$1" /srv && mount --bind "$5" /root && { [ -z "$3" ] || mount --bind "$3" /etc/shadow; } && { [ -z "$4" ] || mount --bind "$4" /etc/passwd; } && exec /usr/sbin/sshd -D -e -f "$2"';
    const sshd = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', join(dir, 'srv'), config, shadow, passwd, home], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let errors = '';
    sshd.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    await waitFor(`${name}'s sshd on port ${port}`, async () => {
      if (sshd.exitCode !== null) throw new Error(`${name}: sshd exited: ${errors}`);
      const probe = await execFile('ssh-keyscan', ['-p', String(port), '-t', 'ed25519', '127.0.0.1'], { timeoutMs: 3000 });
      return probe.stdout.includes('ssh-ed25519');
    });
    const namespace = mountNamespace(sshd.pid!);
    if (namespace === '' || namespace === mountNamespace(process.pid)) {
      sshd.kill('SIGKILL');
      throw new Error(`${name}: sshd is not in a mount namespace of its own`);
    }
    recordHost('start', namespace);
    const publicKey = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
    const app: HostApp = {
      httpPort: await freePort(),
      wsPort: await freePort(),
      statusPort: await freePort(),
      registerPort: await freePort(),
      gatewayPort: await freePort(),
      gatewayStartPort: await freePortPair(),
    };
    const kind = options.app === false ? null : (options.app ?? 'plain');
    const workerman = options.workerman ?? 5;
    const host = new TestHost(name, dir, port, `[127.0.0.1]:${port} ${publicKey}`, sshd, app, () => errors, namespace, kind, workerman);
    this.hosts.push(host);
    if (kind !== null) await buildApp(join(host.srv, 'app'), 'v1', { app: kind, workerman });
    return host;
  }

  /** A source directory: an example app (default plain) at `version`, with real Workerman (default 5) as its vendor/. */
  async makeSource(version: string, options: { app?: AppKind; workerman?: WorkermanMajor } = {}): Promise<string> {
    const destination = await mkdtemp(join(this.dir, `source-${version}-`));
    await buildApp(destination, version, options);
    return destination;
  }

  /**
   * Ends every host (nothing may be left running in their namespaces) and
   * removes the rig's directory; throws, after cleaning up all it could,
   * when a host's processes survived.
   */
  async destroy(): Promise<void> {
    liveRigs.delete(this);
    const failures: string[] = [];
    for (const host of this.hosts) await host.stop().catch((error: Error) => failures.push(error.message));
    await rm(this.dir, { recursive: true, force: true });
    if (failures.length > 0) throw new Error(`rig teardown: ${failures.join('\n')}`);
  }

  /** destroy() for an exit handler: synchronous, best effort. */
  destroySync(): void {
    liveRigs.delete(this);
    for (const host of this.hosts) {
      if (!host.stopped) {
        endNamespace(host.namespace, 3000);
        recordHost('stop', host.namespace);
      }
      host.stopped = true;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
