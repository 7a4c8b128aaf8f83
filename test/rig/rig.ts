import { chmod, cp, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { spawn, type ChildProcess } from 'node:child_process';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { execFile, mustExec } from './process.js';

/**
 * The test rig: every host is a real OpenSSH sshd on its own loopback port,
 * started inside its own mount namespace (unshare -m) with /srv bind-mounted
 * from a per-host directory, so every host has the same target path
 * (/srv/app) the way a real fleet does. Processes started over SSH, or with
 * `host.shell()` (nsenter into the namespace), see that host's /srv.
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

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export interface HostApp {
  readonly httpPort: number;
  readonly wsPort: number;
  /** Port of the example status worker, when the master is started with it. */
  readonly statusPort: number;
}

export class TestHost {
  readonly app: HostApp;
  constructor(
    readonly name: string,
    readonly dir: string,
    readonly port: number,
    readonly hostKeyLine: string,
    private readonly sshd: ChildProcess,
    app: HostApp,
    private readonly log: () => string,
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
    if (!pid) throw new Error(`${this.name}: sshd is not running`);
    const assignments = Object.entries(env).map(([k, v]) => `${k}=${v}`);
    return mustExec('nsenter', ['-t', String(pid), '-m', '--', 'env', ...assignments, 'sh', '-c', script]);
  }

  /** Starts the test master from /srv/app, as an operator would over SSH. */
  async startMaster(options: { version?: 4 | 5; statusWorker?: boolean } = {}): Promise<void> {
    await this.shell(`cd ${TARGET} && php start.php start -d >/dev/null 2>&1`, {
      APP_HTTP_PORT: String(this.app.httpPort),
      APP_WS_PORT: String(this.app.wsPort),
      WORKERMAN_STUB_VERSION: String(options.version ?? 5),
      ...(options.statusWorker ? { APP_STATUS_PORT: String(this.app.statusPort) } : {}),
    });
    await waitFor(`${this.name}'s app to answer`, async () => (await this.get('/').catch(() => null)) !== null);
  }

  async masterPid(): Promise<number | null> {
    const text = await readFile(join(this.srv, 'app', 'workerman.start.php.pid'), 'utf8').catch(() => '');
    const pid = Number(text.trim());
    return pid > 0 && (await processAlive(pid)) ? pid : null;
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
    const workers = await childProcesses(pid);
    for (const worker of workers) signal(worker.pid, 'SIGKILL');
    signal(pid, 'SIGKILL');
    await waitFor(`${this.name}'s master and workers to exit`, async () => {
      for (const id of [pid, ...workers.map((worker) => worker.pid)]) if (await processAlive(id)) return false;
      return true;
    });
    await rm(join(this.srv, 'app', 'workerman.start.php.pid'), { force: true });
  }

  /**
   * Ends the host: every process in its mount namespace is killed, which takes
   * in the master, orphaned workers, and remote commands a test left hanging.
   */
  async stop(): Promise<void> {
    const pid = this.sshd.pid;
    const namespace = pid ? await readlink(`/proc/${pid}/ns/mnt`).catch(() => '') : '';
    if (namespace !== '') {
      for (const entry of await readdir('/proc')) {
        if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
        if ((await readlink(`/proc/${entry}/ns/mnt`).catch(() => '')) === namespace) signal(Number(entry), 'SIGKILL');
      }
    }
    this.sshd.kill('SIGKILL');
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

async function processAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    return !/\) Z /.test(stat);
  } catch {
    return false;
  }
}

/** Copies examples/app plus the test master (as the app's vendor/) into a directory. */
export async function buildApp(destination: string, version: string): Promise<void> {
  await cp(join(REPO, 'examples/app'), destination, { recursive: true });
  await cp(join(REPO, 'test/workerman-stub'), join(destination, 'vendor/workerman-stub'), { recursive: true });
  await cp(join(REPO, 'test/workerman-stub/vendor-autoload.php'), join(destination, 'vendor/autoload.php'));
  await writeFile(join(destination, 'src/version.php'), `<?php return '${version}';\n`);
}

export class Rig {
  readonly hosts: TestHost[] = [];
  private constructor(
    readonly dir: string,
    readonly clientKeyFile: string,
    readonly clientKey: string,
  ) {}

  static async create(): Promise<Rig> {
    const dir = await mkdtemp(join(tmpdir(), 'gr-rig-'));
    const clientKeyFile = join(dir, 'client_key');
    await mustExec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'graceful-reload-test', '-f', clientKeyFile]);
    await mkdir('/run/sshd', { recursive: true });
    return new Rig(dir, clientKeyFile, await readFile(clientKeyFile, 'utf8'));
  }

  /**
   * Starts one host: its own sshd and host key, and (unless told otherwise)
   * app v1 in /srv/app. `password` gives root that password on this host only
   * (a private /etc/shadow is bind-mounted in its namespace); `logLevel`
   * raises sshd's logging, which `host.sshdLog` collects.
   */
  async addHost(name: string, options: { app?: boolean; password?: string; logLevel?: string; users?: readonly string[] } = {}): Promise<TestHost> {
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
        'MaxSessions 50',
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
    const script =
      'mount --bind "$1" /srv && { [ -z "$3" ] || mount --bind "$3" /etc/shadow; } && { [ -z "$4" ] || mount --bind "$4" /etc/passwd; } && exec /usr/sbin/sshd -D -e -f "$2"';
    const sshd = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', script, 'sh', join(dir, 'srv'), config, shadow, passwd], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let errors = '';
    sshd.stderr!.on('data', (chunk: Buffer) => (errors += chunk.toString()));
    await waitFor(`${name}'s sshd on port ${port}`, async () => {
      if (sshd.exitCode !== null) throw new Error(`${name}: sshd exited: ${errors}`);
      const probe = await execFile('ssh-keyscan', ['-p', String(port), '-t', 'ed25519', '127.0.0.1'], { timeoutMs: 3000 });
      return probe.stdout.includes('ssh-ed25519');
    });
    const publicKey = (await readFile(`${hostKey}.pub`, 'utf8')).trim().split(/\s+/).slice(0, 2).join(' ');
    const app = { httpPort: await freePort(), wsPort: await freePort(), statusPort: await freePort() };
    const host = new TestHost(name, dir, port, `[127.0.0.1]:${port} ${publicKey}`, sshd, app, () => errors);
    this.hosts.push(host);
    if (options.app !== false) await buildApp(join(host.srv, 'app'), 'v1');
    return host;
  }

  async makeSource(version: string): Promise<string> {
    const destination = await mkdtemp(join(this.dir, `source-${version}-`));
    await buildApp(destination, version);
    return destination;
  }

  async destroy(): Promise<void> {
    await Promise.all(this.hosts.map((host) => host.stop().catch(() => undefined)));
    await rm(this.dir, { recursive: true, force: true });
  }
}
