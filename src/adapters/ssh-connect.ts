import { connect as connectTcp, type TcpNetConnectOpts } from 'node:net';
import { NodeSSH, type Config } from 'node-ssh';
import pRetry, { AbortError } from 'p-retry';
import type { HostSpec } from '../engine/inputs/host-spec.js';
import { checkHostKey, describeHostKeyFailure, describeKeyTypeMismatch, hostKeyAlgorithms, type HostKeyCheck } from '../engine/inputs/known-hosts.js';
import { type RemoteShell } from '../engine/ports.js';
import { StepError } from '../engine/step-error.js';
import type { Credentials, HostTrust } from '../engine/inputs/settings.js';
import { COMPRESSION } from './ssh-compression.js';
import { NO_MATCHING_KEY_FORMAT, readOfferedKeys, REMOTE_KEY_FORMATS, type HostKeyAlgorithmList, type Stream } from './ssh-host-key.js';
import { SshShell } from './ssh-shell.js';

/**
 * Connecting to a host over SSH: directly or through a jump host, with the
 * host key checked against the pins before any credential is sent, and
 * transient failures retried. Hands back an SshShell (ssh-shell.ts); when no
 * pinned key type matches, ssh-host-key.ts reads what the host offers.
 */

export interface SshOptions {
  readonly trust: HostTrust;
  readonly credentials: Credentials;
  readonly connectTimeoutMs: number;
  /** A bastion to go through; its host key is checked against the same pins. */
  readonly jumpHost?: HostSpec;
  readonly retries?: number;
  /** zlib on the connection to the host (worthCompressing). */
  readonly compress?: boolean;
}

/**
 * ssh2's algorithm lists: the host key types the pins allow (ssh2's own when
 * there are none), and compression when `compress` (ssh-compression.ts).
 */
export function sshAlgorithms(hostKeyAlgorithms: readonly string[], compress: boolean): NonNullable<Config['algorithms']> {
  return {
    compress: compress ? [...COMPRESSION] : ['none'],
    ...(hostKeyAlgorithms.length > 0 ? { serverHostKey: [...hostKeyAlgorithms] as HostKeyAlgorithmList } : {}),
  };
}

/**
 * A TCP connection with Nagle's algorithm off. Every step of a rollout is a
 * short request and a short answer (a channel open, an rsync round, a probe
 * poll): with Nagle on, each small packet sent while another is unacknowledged
 * waits for the peer's delayed ACK, about 40 ms a round trip on Linux.
 */
export function tcpOptions(host: Pick<HostSpec, 'host' | 'port'>): TcpNetConnectOpts {
  return { host: host.host, port: host.port, noDelay: true };
}

/** The credentials given, in node-ssh's words: a key (and its passphrase), a password, an agent. */
function credentialOptions(credentials: SshOptions['credentials']): { privateKey?: string; passphrase?: string; password?: string; agent?: string } {
  return {
    ...(credentials.privateKey !== undefined ? { privateKey: credentials.privateKey } : {}),
    ...(credentials.passphrase !== undefined ? { passphrase: credentials.passphrase } : {}),
    ...(credentials.password !== undefined ? { password: credentials.password } : {}),
    ...(credentials.agentSocket !== undefined ? { agent: credentials.agentSocket } : {}),
  };
}

/**
 * Connects to one host (through a stream from `openSock` when given). The
 * host key is checked against the pins before authentication, so a wrong host
 * never sees the credentials or a byte of code. Failures say which step:
 * connect, host-key or auth. `asJump` when connecting to the bastion itself:
 * its failures are named so.
 */
async function connectOnce(host: HostSpec, options: SshOptions, asJump: boolean, openSock?: () => Promise<Stream>): Promise<NodeSSH> {
  let rejected: Exclude<HostKeyCheck, { ok: true }> | undefined;
  let remoteKeyFormats: string[] | undefined;
  const client = new NodeSSH();
  const algorithms = options.trust.ignoreHostKeys ? [] : hostKeyAlgorithms(options.trust.pins, host.host, host.port);
  // The report names the target host; only the bastion needs naming here.
  const where = asJump ? `jump host ${host.label}: ` : '';
  const direct = openSock ? undefined : connectTcp(tcpOptions(host));
  const sock = direct ?? (await openSock!());
  try {
    await client.connect({
      // Never to a jump host: its connection only carries the host's, compressed already when it is.
      algorithms: sshAlgorithms(algorithms, options.compress === true && !asJump),
      host: host.host,
      port: host.port,
      username: host.username,
      ...(sock ? { sock } : {}),
      ...credentialOptions(options.credentials),
      readyTimeout: options.connectTimeoutMs,
      keepaliveInterval: 10_000,
      tryKeyboard: false,
      // Only to learn which host key types the host offers, should none match the pinned ones.
      debug: (line: string) => {
        if (remoteKeyFormats) return;
        const formats = REMOTE_KEY_FORMATS.exec(line)?.[1];
        if (formats !== undefined) remoteKeyFormats = formats.split(',').filter((format) => format !== '');
      },
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
    direct?.destroy();
    if (rejected) throw new AbortError(new StepError('host-key', `${where}${describeHostKeyFailure(rejected)}`));
    const message = (error as Error).message ?? String(error);
    if (algorithms.length > 0 && NO_MATCHING_KEY_FORMAT.test(message)) {
      // The host has no key of any pinned type: a host key failure, which no retry can fix.
      const mismatch = await readOfferedKeys(host, options, remoteKeyFormats, openSock);
      throw new AbortError(new StepError('host-key', `${where}${describeKeyTypeMismatch(options.trust.pins, host.host, host.port, mismatch)}`));
    }
    if (/authentication/i.test(message)) {
      throw new AbortError(
        new StepError('auth', `${where}authentication as ${host.username} failed (${message}); check the credentials and the host's authorized_keys`),
      );
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
    if (!jump.connection) {
      clearTimeout(timer);
      reject(cannot('the connection to the jump host was lost'));
      return;
    }
    jump.connection.forwardOut('127.0.0.1', 0, host.host, host.port, (error, stream) => {
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
      if (!options.jumpHost) {
        const ssh = await connectOnce(host, options, false);
        return new SshShell(ssh.connection, () => ssh.dispose());
      }
      const jumpHost = options.jumpHost;
      const jump = await connectOnce(jumpHost, options, true);
      try {
        const target = await connectOnce(host, options, false, () => forward(jump, host, jumpHost, options.connectTimeoutMs));
        return new SshShell(
          target.connection,
          () => {
            target.dispose();
            jump.dispose();
          },
          jump.connection,
        );
      } catch (error) {
        jump.dispose();
        throw error;
      }
    },
    { retries: options.retries ?? 2, minTimeout: 500, factor: 2 },
  );
}
