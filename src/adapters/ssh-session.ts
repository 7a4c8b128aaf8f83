import type { EventEmitter } from 'node:events';
import { connect as connectTcp, type TcpNetConnectOpts } from 'node:net';
import { Duplex, type Readable } from 'node:stream';
import { NodeSSH, type Config } from 'node-ssh';
import pRetry, { AbortError } from 'p-retry';
import type { HostSpec } from '../engine/host-spec.js';
import {
  algorithmsForKeyType,
  checkHostKey,
  describeHostKeyFailure,
  describeKeyTypeMismatch,
  hostKeyAlgorithms,
  keyTypesOfAlgorithms,
  type HostKeyCheck,
  type KeyTypeMismatch,
} from '../engine/known-hosts.js';
import {
  DEFAULT_MAX_OUTPUT_BYTES,
  RemoteCommandTimeout,
  RemoteConnectionLost,
  RemoteOutputTooLarge,
  StepError,
  type CommandResult,
  type RemoteShell,
  type RemoteStream,
  type RunOptions,
} from '../engine/ports.js';
import type { Credentials, HostTrust } from '../engine/settings.js';
import { COMPRESSION } from './ssh-compression.js';

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

type Stream = NonNullable<Config['sock']>;
type HostKeyAlgorithmList = NonNullable<NonNullable<Config['algorithms']>['serverHostKey']>;

/** ssh2's words when the host offers no host key of a type we asked for. */
const NO_MATCHING_KEY_FORMAT = /no matching host key format/i;
/** ssh2's debug line with the host's own list of host key algorithms (its KEXINIT). */
const REMOTE_KEY_FORMATS = /^Handshake: \(remote\) Host key format: (.*)$/;
/** Types to try when the host's list is unknown. */
const EVERY_KEY_TYPE = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa'];

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
  const { credentials } = options;
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
      ...(credentials.privateKey !== undefined ? { privateKey: credentials.privateKey } : {}),
      ...(credentials.passphrase !== undefined ? { passphrase: credentials.passphrase } : {}),
      ...(credentials.password !== undefined ? { password: credentials.password } : {}),
      ...(credentials.agentSocket !== undefined ? { agent: credentials.agentSocket } : {}),
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
      throw new AbortError(new StepError('auth', `${where}authentication as ${host.username} failed (${message}); check the credentials and the host's authorized_keys`));
    }
    if (/privatekey|passphrase|encrypted|unsupported key/i.test(message)) {
      throw new AbortError(new StepError('auth', `${where}cannot use private-key (${message}); check the key and passphrase`));
    }
    throw new StepError('connect', `${where}cannot connect to ${host.host}:${host.port} (${message})`, { cause: error });
  }
}

/**
 * The host's own keys, one connection per key type it offers, each asking
 * for that type only and refusing the key once seen: no credentials are ever
 * sent on these connections.
 */
async function readOfferedKeys(host: HostSpec, options: SshOptions, formats: readonly string[] | undefined, openSock?: () => Promise<Stream>): Promise<KeyTypeMismatch> {
  const types = formats ? keyTypesOfAlgorithms(formats) : EVERY_KEY_TYPE;
  const keys: Buffer[] = [];
  const problems: string[] = [];
  for (const type of types) {
    const algorithms = algorithmsForKeyType(type).filter((algorithm) => !formats || formats.includes(algorithm));
    if (algorithms.length === 0) continue;
    try {
      const key = await readHostKey(host, options, algorithms, openSock);
      if (key && !keys.some((known) => known.equals(key))) keys.push(key);
    } catch (error) {
      const message = (error as Error).message ?? String(error);
      // Guessed types the host does not have are no problem.
      if (!formats && NO_MATCHING_KEY_FORMAT.test(message)) continue;
      problems.push(`${type}: ${message}`);
    }
  }
  return {
    offeredTypes: formats ? types : undefined,
    offeredKeys: keys,
    ...(problems.length > 0 ? { unreadable: `could not read ${problems.join('; ')}` } : {}),
  };
}

async function readHostKey(host: HostSpec, options: SshOptions, algorithms: readonly string[], openSock?: () => Promise<Stream>): Promise<Buffer | undefined> {
  let seen: Buffer | undefined;
  const probe = new NodeSSH();
  try {
    const sock = openSock ? await openSock() : undefined;
    await probe.connect({
      host: host.host,
      port: host.port,
      username: host.username,
      ...(sock ? { sock } : {}),
      algorithms: { serverHostKey: [...algorithms] as HostKeyAlgorithmList },
      readyTimeout: options.connectTimeoutMs,
      tryKeyboard: false,
      hostVerifier: (key: Buffer) => {
        seen = Buffer.from(key);
        return false;
      },
    });
  } catch (error) {
    if (!seen) throw error;
  } finally {
    probe.dispose();
  }
  return seen;
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

/** The part of an ssh2 session channel a command needs. */
export interface CommandChannel extends EventEmitter {
  readonly stderr: EventEmitter;
  signal(name: string): unknown;
  close(): unknown;
  end(): unknown;
}

/** The part of an ssh2 Client a shell needs. */
export interface CommandConnection {
  exec(command: string, callback: (error: Error | undefined, channel: CommandChannel) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

/** Bytes of one stream, up to a limit. */
class BoundedBuffer {
  private readonly chunks: Buffer[] = [];
  private size = 0;

  constructor(private readonly limit: number) {}

  /** False once the stream passed the limit; nothing past it is kept. */
  add(chunk: Buffer): boolean {
    if (this.size + chunk.length > this.limit) return false;
    this.chunks.push(chunk);
    this.size += chunk.length;
    return true;
  }

  /** Decoded once, so a character split across two packets stays whole; trimmed, as node-ssh's execCommand was. */
  text(): string {
    return Buffer.concat(this.chunks, this.size).toString('utf8').trim();
  }
}

/** Ends a remote command: SIGKILL first, as closing the channel alone can leave it running. */
function killChannel(target: CommandChannel | undefined): void {
  try {
    target?.signal('KILL');
  } catch {
    // A server that refuses signal requests still gets the close.
  }
  try {
    target?.close();
  } catch {
    // Already closed.
  }
}

/**
 * The most channels a host's rollout opens at once on its one connection:
 * the resident probe, rsync, one command, and the lock's heartbeat.
 */
export const CHANNELS_AT_ONCE = 4;

/**
 * What a refused channel means. OpenSSH answers "open failed" when a
 * connection already has MaxSessions channels open (its default is 10),
 * which ssh2 reports as "(SSH) Channel open failure: open failed".
 */
export function channelRefusal(message: string): string {
  if (!/channel open failure/i.test(message)) return `the host did not start a remote command (${message})`;
  return (
    `the host refused to open another SSH channel (${message}): its sshd allows fewer sessions per connection than the rollout uses. ` +
    `Set MaxSessions to ${CHANNELS_AT_ONCE} or more in the host's sshd_config (the default is 10): a rollout opens up to ${CHANNELS_AT_ONCE} at once (the status probe, rsync, a command, the lock's heartbeat)`
  );
}

/** After the connection closes, how long a command's own channel gets to report before it counts as lost. */
const LOST_GRACE_MS = 50;

/**
 * Commands over one ssh2 connection, each on its own channel, with bounded
 * output: every stream is kept up to `maxOutputBytes` (DEFAULT_MAX_OUTPUT_BYTES),
 * and a command past it, or past its timeout, is sent SIGKILL and its channel
 * closed (closing alone can leave the remote command running). A command that
 * ends without an exit status is never "exit null": a signal is named in
 * `signal`, a lost connection rejects with RemoteConnectionLost.
 */
export class SshShell implements RemoteShell {
  /** Why the connection is gone, once it is. */
  private lost: string | undefined;
  private lastError: string | undefined;
  private readonly running = new Set<() => void>();

  constructor(
    private readonly connection: CommandConnection | null,
    private readonly dispose: () => void = () => undefined,
    /** A jump host's connection: its loss is this connection's loss. */
    via?: CommandConnection | null,
  ) {
    if (!connection) {
      this.lost = 'the connection was already closed';
      return;
    }
    // node-ssh stops listening for errors once connected: an error with no listener would end the process.
    connection.on('error', (error) => (this.lastError = error.message));
    connection.on('close', () => this.connectionClosed());
    via?.on('error', (error) => (this.lastError = `jump host: ${error.message}`));
  }

  private connectionClosed(): void {
    this.lost ??= this.lastError ?? 'the connection closed';
    // Channels normally report first; any that did not, after a moment, were cut off.
    setTimeout(() => {
      for (const abandon of [...this.running]) abandon();
    }, LOST_GRACE_MS).unref();
  }

  run(command: string, options: RunOptions = {}): Promise<CommandResult> {
    const limit = options.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
    return new Promise<CommandResult>((resolve, reject) => {
      const stdout = new BoundedBuffer(limit);
      const stderr = new BoundedBuffer(limit);
      let channel: CommandChannel | undefined;
      let exit: { code: number | null; signal: string | undefined } | undefined;
      let timer: NodeJS.Timeout | undefined;
      let settled = false;

      const settle = (outcome: { error: Error } | { result: CommandResult }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.running.delete(abandon);
        if ('error' in outcome) reject(outcome.error);
        else resolve(outcome.result);
      };
      const kill = killChannel;
      const stop = (error: Error) => {
        if (settled) return;
        kill(channel);
        settle({ error });
      };
      const ended = () => {
        if (exit) {
          settle({
            result: {
              stdout: stdout.text(),
              stderr: stderr.text(),
              code: exit.code,
              ...(exit.code === null && exit.signal ? { signal: exit.signal } : {}),
            },
          });
        } else {
          const why = this.lost ?? "the host closed the command's channel without an exit status";
          settle({ error: new RemoteConnectionLost(command, why) });
        }
      };
      const abandon = () => ended();

      if (this.lost !== undefined || !this.connection) {
        settle({ error: new RemoteConnectionLost(command, this.lost ?? 'no connection') });
        return;
      }
      this.running.add(abandon);
      if (options.timeoutMs !== undefined) {
        const timeoutMs = options.timeoutMs;
        timer = setTimeout(() => stop(new RemoteCommandTimeout(command, timeoutMs)), timeoutMs);
      }
      try {
        this.connection.exec(command, (error, opened) => {
          if (error) {
            settle({ error: this.notStarted(command, error) });
            return;
          }
          channel = opened;
          // A command already given up on (timed out before its channel opened) is not left running.
          if (settled) {
            kill(opened);
            return;
          }
          opened.on('data', (chunk: Buffer) => {
            if (!settled && !stdout.add(chunk)) stop(new RemoteOutputTooLarge(command, limit, 'stdout'));
          });
          opened.stderr.on('data', (chunk: Buffer) => {
            if (!settled && !stderr.add(chunk)) stop(new RemoteOutputTooLarge(command, limit, 'stderr'));
          });
          opened.on('exit', (code: number | null, signal?: string) => {
            exit = { code: typeof code === 'number' ? code : null, signal: signal ?? undefined };
          });
          opened.on('error', (channelError: Error) => (this.lastError = channelError.message));
          opened.on('close', ended);
          // No input: a command that reads stdin gets end of file, not a hang.
          opened.end();
        });
      } catch (error) {
        // ssh2 throws "Not connected" synchronously once the socket is gone.
        settle({ error: new RemoteConnectionLost(command, this.lost ?? (error as Error).message, { cause: error }) });
      }
    });
  }

  stream(command: string): Promise<RemoteStream> {
    return new Promise<RemoteStream>((resolve, reject) => {
      if (this.lost !== undefined || !this.connection) {
        reject(new RemoteConnectionLost(command, this.lost ?? 'no connection'));
        return;
      }
      try {
        this.connection.exec(command, (error, opened) => {
          if (error) {
            reject(this.notStarted(command, error));
            return;
          }
          if (!(opened instanceof Duplex)) {
            killChannel(opened);
            reject(new Error('the SSH channel is not a stream'));
            return;
          }
          resolve({ io: opened, stderr: opened.stderr as Readable, ended: this.channelEnd(opened), close: () => killChannel(opened) });
        });
      } catch (error) {
        reject(new RemoteConnectionLost(command, this.lost ?? (error as Error).message, { cause: error }));
      }
    });
  }

  /** Why a command's channel did not open: the connection went, or the host refused one more channel. */
  private notStarted(command: string, error: Error): Error {
    if (this.lost) return new RemoteConnectionLost(command, this.lost, { cause: error });
    return new Error(`${channelRefusal(error.message)}: ${command.slice(0, 120)}`, { cause: error });
  }

  /** How a streaming command ended: its exit status, or the reason its connection went away. */
  private channelEnd(channel: CommandChannel): RemoteStream['ended'] {
    return new Promise((settle) => {
      let exit: { code: number | null; signal?: string } | undefined;
      const ended = () => {
        this.running.delete(ended);
        settle(exit ?? { code: null, lost: this.lost ?? "the host closed the command's channel without an exit status" });
      };
      this.running.add(ended);
      channel.on('exit', (code: number | null, signal?: string) => {
        exit = { code: typeof code === 'number' ? code : null, ...(signal ? { signal } : {}) };
      });
      channel.on('error', (channelError: Error) => (this.lastError = channelError.message));
      channel.on('close', ended);
    });
  }

  async close(): Promise<void> {
    this.dispose();
  }
}
