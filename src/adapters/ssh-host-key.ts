import { NodeSSH, type Config } from 'node-ssh';
import type { HostSpec } from '../engine/inputs/host-spec.js';
import { algorithmsForKeyType, keyTypesOfAlgorithms, type KeyTypeMismatch } from '../engine/inputs/known-hosts.js';
import type { SshOptions } from './ssh-connect.js';

/**
 * Host-key diagnosis: when a host offers no key of a pinned type, which keys
 * it does have, read without ever authenticating, so the error can say what
 * to pin (engine/inputs/known-hosts.ts words it). Used by ssh-connect.ts only.
 */

export type Stream = NonNullable<Config['sock']>;
export type HostKeyAlgorithmList = NonNullable<NonNullable<Config['algorithms']>['serverHostKey']>;

/** ssh2's words when the host offers no host key of a type we asked for. */
export const NO_MATCHING_KEY_FORMAT = /no matching host key format/i;
/** ssh2's debug line with the host's own list of host key algorithms (its KEXINIT). */
export const REMOTE_KEY_FORMATS = /^Handshake: \(remote\) Host key format: (.*)$/;
/** Types to try when the host's list is unknown. */
const EVERY_KEY_TYPE = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'ssh-rsa'];

/**
 * The host's own keys, one connection per key type it offers, each asking
 * for that type only and refusing the key once seen: no credentials are ever
 * sent on these connections.
 */
export async function readOfferedKeys(
  host: HostSpec,
  options: SshOptions,
  formats: readonly string[] | undefined,
  openSock?: () => Promise<Stream>,
): Promise<KeyTypeMismatch> {
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
