import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync, constants } from 'node:zlib';
import ssh2PacketWriters from 'ssh2/lib/protocol/zlib.js';
import '../../src/adapters/ssh-compression.js';

/** Just what ssh2's writer asks of its connection: no key exchange under way, a cipher that makes room for a packet, and whether it was torn down. */
function connection(): { _kexinit: undefined; _cipher: { allocPacket: (length: number) => Buffer }; _destruct?: () => void } {
  return { _kexinit: undefined, _cipher: { allocPacket: (length: number) => Buffer.alloc(5 + length) }, _destruct: () => undefined };
}

const payload = Buffer.from('a channel close, or any other packet '.repeat(4));

test("ssh2's compressing writer: a packet is compressed while its connection lives, and passed on untouched once it is torn down, where ssh2 itself threw", () => {
  const protocol = connection();
  const writer = new ssh2PacketWriters.ZlibPacketWriter(protocol);
  const packet = writer.finalize(payload);
  const inflated = inflateSync(packet.subarray(5), { finishFlush: constants.Z_SYNC_FLUSH });
  assert.deepEqual(inflated, payload);
  assert.ok(packet.length - 5 < payload.length, 'compressed');

  // What ssh2's teardown does: the writer's zlib is closed, and the protocol marks itself done.
  writer.cleanup();
  protocol._destruct = undefined;
  assert.equal(writer.finalize(payload), payload);
  assert.equal(writer.finalize(payload, true), payload, 'a forced packet (a disconnect) too');
});

test('on a live connection a writer with its zlib closed is left to ssh2: a packet never goes out uncompressed on a compressed stream', () => {
  const writer = new ssh2PacketWriters.ZlibPacketWriter(connection());
  writer.cleanup();
  assert.throws(() => writer.finalize(payload), /Invalid Zlib instance/);
});
