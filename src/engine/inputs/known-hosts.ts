import { createHash, createHmac } from 'node:crypto';
import { knownHostsName } from './host-spec.js';

export interface HostKeyPin {
  readonly patterns: readonly string[];
  readonly keyType: string;
  readonly key: Buffer;
  readonly revoked: boolean;
  /** The line as given, for messages that show exactly what the user pinned. */
  readonly line: string;
}

const KEY_TYPE = /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp(256|384|521)|sk-(ssh-ed25519|ecdsa-sha2-nistp256)@openssh\.com)$/;

/** Parses known_hosts text; comments and blank lines are skipped, anything else malformed is an error. */
export function parseKnownHosts(text: string): HostKeyPin[] {
  const pins: HostKeyPin[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0]!.startsWith('@')) {
      const marker = fields.shift()!;
      if (marker === '@revoked') revoked = true;
      else if (marker === '@cert-authority') {
        throw new Error(`known-hosts line ${index + 1}: @cert-authority lines are not supported; pin the host keys themselves`);
      } else throw new Error(`known-hosts line ${index + 1}: unknown marker ${marker}`);
    }
    const [patterns, keyType, keyText] = fields;
    if (!patterns || !keyType || !keyText || !KEY_TYPE.test(keyType)) {
      throw new Error(`known-hosts line ${index + 1}: expected "host[,host...] key-type base64-key" as printed by ssh-keyscan, got "${line.slice(0, 80)}"`);
    }
    const key = Buffer.from(keyText, 'base64');
    if (key.length < 16 || key.toString('base64').replace(/=+$/, '') !== keyText.replace(/=+$/, '')) {
      throw new Error(`known-hosts line ${index + 1}: the key is not valid base64`);
    }
    pins.push({ patterns: patterns.split(','), keyType, key, revoked, line });
  });
  return pins;
}

/** The fingerprint OpenSSH prints: `SHA256:` and unpadded base64. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

function globToRegExp(glob: string): RegExp {
  const body = glob
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${body}$`, 'i');
}

function patternMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
    return digest === hash;
  }
  return globToRegExp(pattern).test(name);
}

function pinMatchesName(pin: HostKeyPin, name: string): boolean {
  let matched = false;
  for (const pattern of pin.patterns) {
    if (pattern.startsWith('!')) {
      if (patternMatches(pattern.slice(1), name)) return false;
    } else if (patternMatches(pattern, name)) {
      matched = true;
    }
  }
  return matched;
}

/** The pins that apply to a host, by the same name rule OpenSSH uses, so a known_hosts line means here what it means to ssh. */
export function pinsFor(pins: readonly HostKeyPin[], host: string, port: number): HostKeyPin[] {
  // OpenSSH lowercases the name before it looks it up (and before hashing it).
  const name = knownHostsName(host.toLowerCase(), port);
  return pins.filter((pin) => pinMatchesName(pin, name));
}

export type HostKeyCheck =
  { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly offered: string; readonly pinned: readonly string[] };

export function checkHostKey(pins: readonly HostKeyPin[], host: string, port: number, offered: Buffer): HostKeyCheck {
  const applicable = pinsFor(pins, host, port);
  const offeredPrint = fingerprint(offered);
  const pinned = applicable.filter((pin) => !pin.revoked).map((pin) => `${pin.keyType} ${fingerprint(pin.key)}`);
  const name = knownHostsName(host, port);
  if (applicable.some((pin) => pin.revoked && pin.key.equals(offered))) {
    return { ok: false, reason: `the host key offered by ${name} is marked @revoked`, offered: offeredPrint, pinned };
  }
  if (applicable.some((pin) => !pin.revoked && pin.key.equals(offered))) return { ok: true };
  const reason = pinned.length === 0 ? `known-hosts has no key for ${name}` : `the host key offered by ${name} matches none of its pinned keys`;
  return { ok: false, reason, offered: offeredPrint, pinned };
}

export function describeHostKeyFailure(check: Exclude<HostKeyCheck, { ok: true }>): string {
  const pinned = check.pinned.length === 0 ? 'none' : check.pinned.join(', ');
  return `${check.reason}: offered ${check.offered}; pinned: ${pinned}. Nothing was sent to this host.`;
}

/** SSH host key algorithms that can present a key of each pinned type. */
const ALGORITHMS: Record<string, readonly string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
  'ssh-dss': ['ssh-dss'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
};

/**
 * The host key algorithms to offer a host: only those of its pinned keys, so a
 * host pinned by its RSA key is asked for that key, not for an ed25519 key it
 * also has but nobody pinned. Empty when nothing usable is pinned.
 */
export function hostKeyAlgorithms(pins: readonly HostKeyPin[], host: string, port: number): string[] {
  const types = pinsFor(pins, host, port)
    .filter((pin) => !pin.revoked)
    .map((pin) => pin.keyType);
  return [...new Set(types.flatMap((type) => ALGORITHMS[type] ?? []))];
}

/** The key type a host key algorithm presents: `rsa-sha2-512` is an `ssh-rsa` key. */
export function keyTypeOfAlgorithm(algorithm: string): string {
  return /^(rsa-sha2-(256|512)|ssh-rsa)$/.test(algorithm) ? 'ssh-rsa' : algorithm;
}

/** The key types behind a host's list of host key algorithms, in its order, each once. */
export function keyTypesOfAlgorithms(algorithms: readonly string[]): string[] {
  return [...new Set(algorithms.map(keyTypeOfAlgorithm))];
}

/** The host key algorithms that ask a host for a key of this type (empty when this client cannot read it). */
export function algorithmsForKeyType(keyType: string): readonly string[] {
  return ALGORITHMS[keyType] ?? [];
}

/** The type named inside an SSH public key blob (its first string), or undefined when the blob is malformed. */
export function keyTypeOfBlob(key: Buffer): string | undefined {
  if (key.length < 4) return undefined;
  const length = key.readUInt32BE(0);
  if (length === 0 || length > 64 || key.length < 4 + length) return undefined;
  return key.subarray(4, 4 + length).toString('latin1');
}

export interface KeyTypeMismatch {
  /** Key types the host offers (from its host key algorithm list), when known. */
  readonly offeredTypes: readonly string[] | undefined;
  /** The host's keys that could be read by asking for each offered type. */
  readonly offeredKeys: readonly Buffer[];
  /** Why some or all of the host's keys could not be read, if so. */
  readonly unreadable?: string;
}

/**
 * The failure when the host offers no key of a pinned type, so the handshake
 * cannot even start (ssh2: "no matching host key format"): which types the
 * host offers, with the fingerprints of its keys where they could be read,
 * and which are pinned. A host key failure, not a connection problem: trying
 * again cannot help.
 */
export function describeKeyTypeMismatch(pins: readonly HostKeyPin[], host: string, port: number, mismatch: KeyTypeMismatch): string {
  const name = knownHostsName(host, port);
  const applicable = pinsFor(pins, host, port).filter((pin) => !pin.revoked);
  const pinnedTypes = [...new Set(applicable.map((pin) => pin.keyType))];
  const pinned = applicable.map((pin) => `${pin.keyType} ${fingerprint(pin.key)}`);
  const readTypes = mismatch.offeredKeys.map((key) => keyTypeOfBlob(key) ?? 'unknown');
  const offeredTypes = mismatch.offeredTypes ?? [...new Set(readTypes)];
  const offered = [
    ...mismatch.offeredKeys.map((key, index) => `${readTypes[index]} ${fingerprint(key)}`),
    // Types whose key could not be read are still named.
    ...offeredTypes.filter((type) => !readTypes.includes(type)).map((type) => `${type} (key not read)`),
  ];
  const offeredText = offeredTypes.length === 0 ? 'no type this client knows' : offeredTypes.join(', ');
  const matchingBlob = applicable.find((pin) => mismatch.offeredKeys.some((key) => key.equals(pin.key)));
  const hint =
    matchingBlob ?
      ` The pinned line labelled ${matchingBlob.keyType} holds the host's ${keyTypeOfBlob(matchingBlob.key) ?? 'other'} key: fix its key type field.`
    : ` Pin a key of a type the host offers (ssh-keyscan -t ${offeredTypes.join(',') || 'ed25519'}), or configure the host to offer the pinned type.`;
  return (
    `known-hosts pins only ${pinnedTypes.join(', ') || 'no'} key(s) for ${name}, but the host offers ${offeredText} host keys, so its key cannot match: ` +
    `offered ${offered.join(', ') || 'none'}${mismatch.unreadable ? ` (${mismatch.unreadable})` : ''}; pinned: ${pinned.join(', ') || 'none'}.${hint} Nothing was sent to this host.`
  );
}
