import type { CompressionAlgorithm } from 'ssh2';
import ssh2PacketWriters from 'ssh2/lib/protocol/zlib.js';

/**
 * The transport compression asked for when it is wanted: zlib@openssh.com,
 * which starts only after authentication (plain zlib would compress the
 * password too, and OpenSSH has not offered it since 7.4). A host whose sshd
 * says `Compression no` gets none.
 */
export const COMPRESSION: readonly CompressionAlgorithm[] = ['zlib@openssh.com', 'none'];

/**
 * From this many files in the source, a host's connection is compressed.
 * rsync compresses file data but never its file list, and with --checksum
 * that list (about 27 bytes a file) is most of what a deploy that changes
 * little sends: zlib shrinks it to about a third. But ssh2 compresses every
 * packet on the action's one thread, and sshd on the host, each poll and
 * each rsync round included: about 30 ms of CPU per host and rollout,
 * measured on 4 hosts. At 2,000 files the list saves about 36 KB a host,
 * some 30 ms on a 10 Mbit/s link: below that, compressing costs more than it
 * saves.
 */
export const COMPRESS_FROM_FILES = 2_000;

/** Whether a source of this many files is worth a compressed connection. */
export function worthCompressing(sourceFiles: number): boolean {
  return sourceFiles >= COMPRESS_FROM_FILES;
}

/**
 * ssh2 drops a packet sent after its connection was torn down: the freed
 * cipher writes nothing. Its compressing writer throws instead ("Invalid Zlib
 * instance", mscdex/ssh2#1178), from inside a stream callback where nothing
 * can catch it. A channel that closes after its connection, as the jump
 * host's forward does once the host's connection over it ends, would crash
 * the action. With this, a packet of a torn-down connection goes
 * uncompressed to the freed cipher, which drops it as it drops every other;
 * on a live connection (a key re-exchange swapping writers included) the
 * writer is ssh2's own.
 */
export function dropPacketsAfterTeardown(writer: typeof ssh2PacketWriters.ZlibPacketWriter): void {
  const finalize = writer.prototype.finalize;
  if (typeof finalize !== 'function')
    throw new Error("ssh2's compressing packet writer has no finalize(): this ssh2 is not the one ssh-compression.ts was written for");
  writer.prototype.finalize = function (this: InstanceType<typeof writer>, payload: Buffer, force?: boolean): Buffer {
    return this._protocol._destruct === undefined ? payload : finalize.call(this, payload, force);
  };
}

dropPacketsAfterTeardown(ssh2PacketWriters.ZlibPacketWriter);
