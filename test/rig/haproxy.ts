import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from './process.js';
import { freePort, suiteTag } from './rig.js';

/**
 * A real HAProxy (Debian's haproxy) on loopback in front of rig hosts: one
 * frontend, one backend `app` with servers web1, web2... in the order given,
 * and an admin socket a drain command talks to with socat. No retries and no
 * redispatch: a request sent to a host that stopped fails, as it would
 * without a drain, so only a real drain keeps the count at zero.
 */
export class HaProxy {
  private constructor(
    private readonly dir: string,
    private readonly child: ChildProcess,
    readonly port: number,
    readonly adminSocket: string,
  ) {}

  static async start(backendPorts: readonly number[]): Promise<HaProxy> {
    const dir = await mkdtemp(join(tmpdir(), `gr-rig-${suiteTag()}haproxy-`));
    const port = await freePort();
    const adminSocket = join(dir, 'admin.sock');
    const servers = backendPorts.map((backend, index) => `  server web${index + 1} 127.0.0.1:${backend}`);
    const config = [
      'global',
      `  stats socket ${adminSocket} mode 600 level admin`,
      'defaults',
      '  mode http',
      '  timeout connect 2s',
      '  timeout client 10s',
      '  timeout server 10s',
      '  retries 0',
      '  option httpclose',
      'frontend web',
      `  bind 127.0.0.1:${port}`,
      '  default_backend app',
      'backend app',
      '  balance roundrobin',
      ...servers,
      '',
    ].join('\n');
    const configFile = join(dir, 'haproxy.cfg');
    await writeFile(configFile, config);
    const child = spawn('haproxy', ['-db', '-f', configFile], { stdio: ['ignore', 'ignore', 'pipe'] });
    let said = '';
    child.stderr?.on('data', (chunk: Buffer) => (said = `${said}${chunk.toString()}`.slice(-2000)));
    const proxy = new HaProxy(dir, child, port, adminSocket);
    for (let attempt = 0; ; attempt++) {
      if (child.exitCode !== null) throw new Error(`haproxy exited at start (${child.exitCode}): ${said}`);
      if ((await proxy.admin('show info').catch(() => '')).includes('Name: HAProxy')) return proxy;
      if (attempt > 200) throw new Error(`haproxy's admin socket did not answer: ${said}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** One admin-socket command through socat, as a drain command would send it. */
  async admin(command: string): Promise<string> {
    const result = await execFile('sh', ['-c', `printf '%s\\n' "$1" | socat stdio unix-connect:"$2"`, 'admin', command, this.adminSocket]);
    if (result.code !== 0) throw new Error(`haproxy admin "${command}": ${result.stderr}`);
    return result.stdout;
  }

  /** The shell command that sets server web<GRACEFUL_RELOAD_HOST_INDEX> to `state` (maint, ready), for drain-command and undrain-command. */
  stateCommand(state: 'maint' | 'ready' | 'drain'): string {
    return `echo "set server app/web\${GRACEFUL_RELOAD_HOST_INDEX} state ${state}" | socat stdio unix-connect:${this.adminSocket}`;
  }

  /** The shell command that appends `show servers state app` to `file`, headed by the host's index. */
  recordStateCommand(file: string): string {
    return `{ echo "host \${GRACEFUL_RELOAD_HOST_INDEX}"; echo "show servers state app" | socat stdio unix-connect:${this.adminSocket}; } >> ${file}`;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGTERM');
      await exited;
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Server name -> srv_admin_state from `show servers state` output (bit 0x01: forced maintenance). */
export function adminStates(output: string): Map<string, number> {
  const lines = output.split('\n').filter((line) => line.trim() !== '');
  const header =
    lines
      .find((line) => line.startsWith('# '))
      ?.slice(2)
      .split(' ') ?? [];
  const name = header.indexOf('srv_name');
  const admin = header.indexOf('srv_admin_state');
  const states = new Map<string, number>();
  if (name < 0 || admin < 0) return states;
  for (const line of lines.filter((candidate) => !candidate.startsWith('#') && candidate.includes(' '))) {
    const fields = line.split(' ');
    states.set(fields[name]!, Number(fields[admin]));
  }
  return states;
}
