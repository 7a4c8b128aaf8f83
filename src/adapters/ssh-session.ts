import { NodeSSH, type Config } from 'node-ssh';
import pRetry, { AbortError } from 'p-retry';
import type { HostSpec } from '../engine/host-spec.js';
import { checkHostKey, describeHostKeyFailure, hostKeyAlgorithms, type HostKeyCheck } from '../engine/known-hosts.js';
import { RemoteCommandTimeout, StepError, type CommandResult, type RemoteShell } from '../engine/ports.js';
import type { Credentials, HostTrust } from '../engine/settings.js';

export interface SshOptions {
  readonly trust: HostTrust;
  readonly credentials: Credentials;
  readonly connectTimeoutMs: number;
  /** A bastion to go through; its host key is checked against the same pins. */
  readonly jumpHost?: HostSpec;
  readonly retries?: number;
}

type Stream = NonNullable<Config['sock']>;

/**
 * Connects to one host (through `via` when given). The host key is checked
 * against the pins before authentication, so a wrong host never sees the
 * credentials or a byte of code. Failures say which step: connect, host-key
 * or auth.
 */
/** `asJump` when connecting to the bastion itself: its failures are named so. */
async function connectOnce(host: HostSpec, options: SshOptions, asJump: boolean, sock?: Stream): Promise<NodeSSH> {
  let rejected: Exclude<HostKeyCheck, { ok: true }> | undefined;
  const client = new NodeSSH();
  const { credentials } = options;
  const algorithms = options.trust.ignoreHostKeys ? [] : hostKeyAlgorithms(options.trust.pins, host.host, host.port);
  try {
    await client.connect({
      ...(algorithms.length > 0 ? { algorithms: { serverHostKey: algorithms as NonNullable<NonNullable<Config['algorithms']>['serverHostKey']> } } : {}),
      host: host.host,
      port: host.port,
      username: host.username,
      ...(sock ? { sock } : {}),
      ...(credentials.privateKey !== undefined ? { privateKey: credentials.privateKey } : {}),
      ...(credentials.passphrase !== undefined ? { passphrase: credentials.passphrase } : {}),
      ...(credentials.password !== undefined ? { password: credentials.password } : {}),
      ...(credentials.agentSocket !== undefined ? { agent: credentials.agentSocket } : {}),
      readyTimeout: options.connectTimeoutMs,
      keepaliveInterval: 10_000,
      tryKeyboard: false,
      hostVerifier: (key: Buffer) => {
        if (options.trust.ignoreHostKeys) return true;
        const check = checkHostKey(options.trust.pins, host.host, host.port, key);
        if (!check.ok) rejected = check;
        return check.ok;
      },
    });
    return client;
  } catch (error) {
    client.dispose();
    // The report names the target host; only the bastion needs naming here.
    const where = asJump ? `jump host ${host.label}: ` : '';
    if (rejected) throw new AbortError(new StepError('host-key', `${where}${describeHostKeyFailure(rejected)}`));
    const message = (error as Error).message ?? String(error);
    if (/authentication/i.test(message)) {
      throw new AbortError(new StepError('auth', `${where}authentication as ${host.username} failed (${message}); check the credentials and the host's authorized_keys`));
    }
    if (/privatekey|passphrase|encrypted|unsupported key/i.test(message)) {
      throw new AbortError(new StepError('auth', `${where}cannot use private-key (${message}); check the key and passphrase`));
    }
    throw new StepError('connect', `${where}cannot connect to ${host.host}:${host.port} (${message})`, { cause: error });
  }
}

function forward(jump: NodeSSH, host: HostSpec, jumpHost: HostSpec, timeoutMs: number): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const cannot = (why: string) => new StepError('connect', `jump host ${jumpHost.label} cannot reach ${host.host}:${host.port} (${why})`);
    const timer = setTimeout(() => reject(cannot(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
    jump.connection!.forwardOut('127.0.0.1', 0, host.host, host.port, (error, stream) => {
      clearTimeout(timer);
      if (error) reject(cannot(error.message));
      else resolve(stream as unknown as Stream);
    });
  });
}

/**
 * A RemoteShell over one SSH connection (node-ssh), reused for every command
 * of the rollout: polls cost one channel, not one handshake. Transient
 * connection errors are retried; host key and auth failures never are.
 */
export async function openSshShell(host: HostSpec, options: SshOptions): Promise<RemoteShell> {
  return pRetry(
    async () => {
      if (!options.jumpHost) return new SshShell(await connectOnce(host, options, false));
      const jump = await connectOnce(options.jumpHost, options, true);
      try {
        const target = await connectOnce(host, options, false, await forward(jump, host, options.jumpHost, options.connectTimeoutMs));
        return new SshShell(target, jump);
      } catch (error) {
        jump.dispose();
        throw error;
      }
    },
    { retries: options.retries ?? 2, minTimeout: 500, factor: 2 },
  );
}

class SshShell implements RemoteShell {
  constructor(
    private readonly ssh: NodeSSH,
    private readonly jump?: NodeSSH,
  ) {}

  async run(command: string, options: { timeoutMs?: number } = {}): Promise<CommandResult> {
    let channel: { close(): void; signal(name: string): void } | undefined;
    let timer: NodeJS.Timeout | undefined;
    const execution = this.ssh.execCommand(command, { onChannel: (opened) => (channel = opened) });
    execution.catch(() => undefined);
    const timeout =
      options.timeoutMs === undefined
        ? null
        : new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              // Closing the channel alone can leave the remote command running.
              try {
                channel?.signal('KILL');
              } catch {
                // Servers that refuse signal requests still get the close.
              }
              channel?.close();
              reject(new RemoteCommandTimeout(command, options.timeoutMs!));
            }, options.timeoutMs);
          });
    try {
      const result = await (timeout ? Promise.race([execution, timeout]) : execution);
      return { stdout: result.stdout, stderr: result.stderr, code: result.code };
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.ssh.dispose();
    this.jump?.dispose();
  }
}
