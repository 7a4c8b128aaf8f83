import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  algorithmsForKeyType,
  describeKeyTypeMismatch,
  fingerprint,
  hostKeyAlgorithms,
  keyTypeOfAlgorithm,
  keyTypeOfBlob,
  keyTypesOfAlgorithms,
  parseKnownHosts,
} from '../../src/engine/inputs/known-hosts.js';

function blob(type: string, body = randomBytes(32)): Buffer {
  const name = Buffer.from(type, 'latin1');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(name.length);
  return Buffer.concat([length, name, body]);
}

const hostEd25519 = blob('ssh-ed25519');
const pinnedRsa = blob('ssh-rsa', randomBytes(256));
const pins = parseKnownHosts(`[127.0.0.1]:2222 ssh-rsa ${pinnedRsa.toString('base64')}\nother.example ssh-ed25519 ${blob('ssh-ed25519').toString('base64')}`);

test('host key algorithms map to key types: every RSA signature algorithm is an ssh-rsa key', () => {
  assert.equal(keyTypeOfAlgorithm('rsa-sha2-512'), 'ssh-rsa');
  assert.equal(keyTypeOfAlgorithm('rsa-sha2-256'), 'ssh-rsa');
  assert.equal(keyTypeOfAlgorithm('ssh-ed25519'), 'ssh-ed25519');
  assert.deepEqual(keyTypesOfAlgorithms(['rsa-sha2-512', 'rsa-sha2-256', 'ecdsa-sha2-nistp256', 'ssh-ed25519']), [
    'ssh-rsa',
    'ecdsa-sha2-nistp256',
    'ssh-ed25519',
  ]);
  assert.deepEqual(algorithmsForKeyType('ssh-rsa'), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  assert.deepEqual(algorithmsForKeyType('ssh-ed25519-cert-v01@openssh.com'), []);
  assert.deepEqual(hostKeyAlgorithms(pins, '127.0.0.1', 2222), ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
});

test('the type inside a key blob', () => {
  assert.equal(keyTypeOfBlob(hostEd25519), 'ssh-ed25519');
  assert.equal(keyTypeOfBlob(pinnedRsa), 'ssh-rsa');
  assert.equal(keyTypeOfBlob(Buffer.from([0, 0, 0])), undefined);
  assert.equal(keyTypeOfBlob(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2])), undefined);
});

test('an RSA pin for an ed25519-only host: names both types, both fingerprints, and says nothing was sent', () => {
  const message = describeKeyTypeMismatch(pins, '127.0.0.1', 2222, { offeredTypes: ['ssh-ed25519'], offeredKeys: [hostEd25519] });
  assert.equal(
    message,
    `known-hosts pins only ssh-rsa key(s) for [127.0.0.1]:2222, but the host offers ssh-ed25519 host keys, so its key cannot match: ` +
      `offered ssh-ed25519 ${fingerprint(hostEd25519)}; pinned: ssh-rsa ${fingerprint(pinnedRsa)}. ` +
      `Pin a key of a type the host offers (ssh-keyscan -t ssh-ed25519), or configure the host to offer the pinned type. Nothing was sent to this host.`,
  );
});

test('types whose key could not be read are still named, with why', () => {
  const ecdsa = blob('ecdsa-sha2-nistp256');
  const message = describeKeyTypeMismatch(pins, '127.0.0.1', 2222, {
    offeredTypes: ['ecdsa-sha2-nistp256', 'ssh-ed25519'],
    offeredKeys: [ecdsa],
    unreadable: 'could not read ssh-ed25519: timed out',
  });
  assert.match(message, /host offers ecdsa-sha2-nistp256, ssh-ed25519 host keys/);
  assert.match(
    message,
    new RegExp(
      `offered ecdsa-sha2-nistp256 ${fingerprint(ecdsa).replace(/[+/]/g, '\\$&')}, ssh-ed25519 \\(key not read\\) \\(could not read ssh-ed25519: timed out\\); pinned: ssh-rsa`,
    ),
  );
});

test("when the host's list is unknown, the types come from the keys read", () => {
  const message = describeKeyTypeMismatch(pins, '127.0.0.1', 2222, { offeredTypes: undefined, offeredKeys: [hostEd25519] });
  assert.match(message, /the host offers ssh-ed25519 host keys/);
});

test('a pin whose key type field does not match its key is pointed out', () => {
  const mislabelled = parseKnownHosts(`[127.0.0.1]:2222 ssh-rsa ${hostEd25519.toString('base64')}`);
  const message = describeKeyTypeMismatch(mislabelled, '127.0.0.1', 2222, { offeredTypes: ['ssh-ed25519'], offeredKeys: [hostEd25519] });
  assert.match(message, /The pinned line labelled ssh-rsa holds the host's ssh-ed25519 key: fix its key type field\./);
});
