import type { CompressionAlgorithm } from 'ssh2';
import ssh2PacketWriters from 'ssh2/lib/protocol/zlib.js';

/**
 * The transport compression asked for, most wanted first. rsync compresses
 * file data but never its file list, and with --checksum the list is most of
 * what a deploy that changes little sends (about 27 bytes a file); zlib on
 * the connection shrinks it to about a third. zlib@openssh.com starts only
 * after authentication; a host whose sshd says `Compression no` gets none.
 */
export const COMPRESSION: readonly CompressionAlgorithm[] = ['zlib@openssh.com', 'zlib', 'none'];

/** The part of ssh2's compressing packet writer the guard below touches. */
export interface CompressingWriter {
  _zlib?: { _handle: unknown };
  finalize(payload: Buffer, force?: boolean): Buffer;
}

/**
 * ssh2 drops a packet sent after its connection was torn down: the freed
 * cipher writes nothing. Its compressing writer throws instead ("Invalid Zlib
 * instance", mscdex/ssh2#1178), from inside a stream callback where nothing
 * can catch it. A channel that closes after its connection, as the jump
 * host's forward does once the host's connection over it ends, would crash
 * the action. With this, such a packet goes uncompressed to the freed cipher,
 * which drops it as it drops every other.
 */
export function dropPacketsAfterTeardown(writer: { prototype: CompressingWriter }): void {
  const finalize = writer.prototype.finalize;
  writer.prototype.finalize = function (this: CompressingWriter, payload: Buffer, force?: boolean): Buffer {
    return this._zlib?._handle ? finalize.call(this, payload, force) : payload;
  };
}

dropPacketsAfterTeardown(ssh2PacketWriters.ZlibPacketWriter);
