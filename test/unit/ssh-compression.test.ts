import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync, constants } from 'node:zlib';
import ssh2PacketWriters from 'ssh2/lib/protocol/zlib.js';
import '../../src/adapters/ssh-compression.js';

/** Just what ssh2's writer asks of its connection: no key exchange under way, and a cipher that makes room for a packet. */
const protocol = { _kexinit: undefined, _cipher: { allocPacket: (length: number) => Buffer.alloc(5 + length) } };

test("ssh2's compressing writer: a packet is compressed while its connection lives, and passed on untouched once it is torn down, where ssh2 itself threw", () => {
  const writer = new ssh2PacketWriters.ZlibPacketWriter(protocol);
  const payload = Buffer.from('a channel close, or any other packet '.repeat(4));
  const packet = writer.finalize(payload);
  const inflated = inflateSync(packet.subarray(5), { finishFlush: constants.Z_SYNC_FLUSH });
  assert.deepEqual(inflated, payload);
  assert.ok(packet.length - 5 < payload.length, 'compressed');

  writer.cleanup();
  assert.equal(writer.finalize(payload), payload);
});
