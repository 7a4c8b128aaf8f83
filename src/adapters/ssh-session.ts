import { NodeSSH } from 'node-ssh';
import pRetry, { AbortError } from 'p-retry';
import type { HostSpec } from '../engine/host-spec.js';
import { checkHostKey, describeHostKeyFailure, type HostKeyCheck, type HostKeyPin } from '../engine/known-hosts.js';
import { RemoteCommandTimeout, StepError, type CommandResult, type RemoteShell } from '../engine/ports.js';
import type { Credentials } from '../engine/settings.js';

export interface SshOptions {
  readonly pins: readonly HostKeyPin[];
  readonly credentials: Credentials;
  readonly connectTimeoutMs: number;
  readonly retries?: number;
}

/** Errors that another attempt cannot fix. */
function isPermanent(message: string): boolean {
  return /authentication|host denied|verification failed|privatekey|passphrase|unsupported key|no matching|handshake failed/i.test(message);
}

/**
 * A RemoteShell over one SSH connection (node-ssh), reused for every command
 * of the rollout: polls cost one channel, not one handshake. The host key is
 * checked against the pins before authentication, so a wrong host never sees
 * the credentials or a byte of code.
 */
export async function openSshShell(host: HostSpec, options: SshOptions): Promise<RemoteShell> {
  const ssh = await pRetry(
    async () => {
      let rejected: Exclude<HostKeyCheck, { ok: true }> | undefined;
      const client = new NodeSSH();
      try {
        await client.connect({
          host: host.host,
          port: host.port,
          username: host.username,
          privateKey: options.credentials.privateKey,
          ...(options.credentials.passphrase !== undefined ? { passphrase: options.credentials.passphrase } : {}),
          readyTimeout: options.connectTimeoutMs,
          keepaliveInterval: 10_000,
          tryKeyboard: false,
          hostVerifier: (key: Buffer) => {
            const check = checkHostKey(options.pins, host.host, host.port, key);
            if (!check.ok) rejected = check;
            return check.ok;
          },
        });
        return client;
      } catch (error) {
        client.dispose();
        if (rejected) throw new AbortError(new StepError('host-key', `${host.label}: ${describeHostKeyFailure(rejected)}`));
        const message = (error as Error).message ?? String(error);
        if (/authentication/i.test(message)) {
          throw new AbortError(new StepError('auth', `${host.label}: authentication as ${host.username} failed (${message}); check private-key and the host's authorized_keys`));
        }
        if (/privatekey|passphrase|encrypted/i.test(message)) {
          throw new AbortError(new StepError('auth', `${host.label}: cannot use private-key (${message}); check the key and passphrase`));
        }
        const stepError = new StepError('connect', `${host.label}: cannot connect to ${host.host}:${host.port} (${message})`, { cause: error });
        if (isPermanent(message)) throw new AbortError(stepError);
        throw stepError;
      }
    },
    { retries: options.retries ?? 2, minTimeout: 500, factor: 2 },
  );
  return new SshShell(ssh);
}

class SshShell implements RemoteShell {
  constructor(private readonly ssh: NodeSSH) {}

  async run(command: string, options: { timeoutMs?: number } = {}): Promise<CommandResult> {
    let channel: { close(): void } | undefined;
    let timer: NodeJS.Timeout | undefined;
    const execution = this.ssh.execCommand(command, { onChannel: (opened) => (channel = opened) });
    execution.catch(() => undefined);
    const timeout =
      options.timeoutMs === undefined
        ? null
        : new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
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
  }
}
