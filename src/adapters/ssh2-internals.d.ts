// ssh2's compressing packet writer: not part of its typed API, guarded by ssh-compression.ts.
declare module 'ssh2/lib/protocol/zlib.js' {
  interface ZlibPacketWriter {
    /** ssh2's protocol instance: its `_destruct` is cleared once the connection is torn down. */
    _protocol: { _destruct?: unknown };
    cleanup(): void;
    finalize(payload: Buffer, force?: boolean): Buffer;
  }
  const writers: { ZlibPacketWriter: { new (protocol: unknown): ZlibPacketWriter; prototype: ZlibPacketWriter } };
  export default writers;
}
