import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { checkHostKey, fingerprint, hostKeyAlgorithms, parseKnownHosts, pinsFor } from '../../src/engine/inputs/known-hosts.js';

const keyA = Buffer.concat([Buffer.from('\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20', 'latin1'), randomBytes(32)]);
const keyB = Buffer.concat([Buffer.from('\x00\x00\x00\x0bssh-ed25519\x00\x00\x00\x20', 'latin1'), randomBytes(32)]);
const b64 = (key: Buffer) => key.toString('base64');

function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

test('plain, [host]:port, wildcard and hashed entries match by the OpenSSH name rule', () => {
  const pins = parseKnownHosts(
    [
      `# comment`,
      `web1.example.com ssh-ed25519 ${b64(keyA)}`,
      `[127.0.0.1]:2222 ssh-ed25519 ${b64(keyA)} host comment`,
      `*.internal,!db.internal ssh-ed25519 ${b64(keyB)}`,
      `${hashed('[10.0.0.5]:2200')} ssh-ed25519 ${b64(keyB)}`,
    ].join('\n'),
  );
  assert.equal(pins.length, 4);
  assert.equal(pinsFor(pins, 'web1.example.com', 22).length, 1);
  assert.equal(pinsFor(pins, 'web1.example.com', 2222).length, 0, 'port 2222 needs a [host]:port entry');
  assert.equal(pinsFor(pins, '127.0.0.1', 2222).length, 1);
  assert.equal(pinsFor(pins, 'app.internal', 22).length, 1);
  assert.equal(pinsFor(pins, 'db.internal', 22).length, 0, 'negated pattern');
  assert.equal(pinsFor(pins, '10.0.0.5', 2200).length, 1, 'hashed entry');
  assert.equal(pinsFor(pins, '10.0.0.5', 22).length, 0);
});

test('a matching key passes; a different key fails naming offered and pinned fingerprints', () => {
  const pins = parseKnownHosts(`[127.0.0.1]:2222 ssh-ed25519 ${b64(keyA)}`);
  assert.deepEqual(checkHostKey(pins, '127.0.0.1', 2222, keyA), { ok: true });
  const bad = checkHostKey(pins, '127.0.0.1', 2222, keyB);
  assert.equal(bad.ok, false);
  if (bad.ok) return;
  assert.equal(bad.offered, fingerprint(keyB));
  assert.deepEqual(bad.pinned, [`ssh-ed25519 ${fingerprint(keyA)}`]);
  const unknown = checkHostKey(pins, '127.0.0.1', 2223, keyA);
  assert.equal(unknown.ok, false);
  assert.match(unknown.ok ? '' : unknown.reason, /no key for \[127\.0\.0\.1\]:2223/);
});

test('@revoked refuses the key even when another line pins it', () => {
  const pins = parseKnownHosts(`@revoked * ssh-ed25519 ${b64(keyA)}\nweb1 ssh-ed25519 ${b64(keyA)}`);
  assert.equal(checkHostKey(pins, 'web1', 22, keyA).ok, false);
});

test('fingerprints are printed the OpenSSH way', () => {
  assert.match(fingerprint(keyA), /^SHA256:[A-Za-z0-9+/]{43}$/);
});

test('malformed lines are refused with their line number', () => {
  assert.throws(() => parseKnownHosts('web1 ssh-ed25519'), /line 1: expected/);
  assert.throws(() => parseKnownHosts(`\nweb1 ssh-foo ${b64(keyA)}`), /line 2: expected/);
  assert.throws(() => parseKnownHosts('web1 ssh-ed25519 not-base64!'), /not valid base64/);
  assert.throws(() => parseKnownHosts(`@cert-authority * ssh-ed25519 ${b64(keyA)}`), /not supported/);
});

test('only the pinned key types are asked for, and names match case-insensitively as in OpenSSH', () => {
  const pins = parseKnownHosts(`${hashed('web1.example.com')} ssh-rsa ${b64(keyA)}\nweb1.example.com ecdsa-sha2-nistp256 ${b64(keyB)}`);
  assert.deepEqual(hostKeyAlgorithms(pins, 'WEB1.example.com', 22), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa', 'ecdsa-sha2-nistp256']);
  assert.deepEqual(hostKeyAlgorithms(pins, 'web2.example.com', 22), []);
});
