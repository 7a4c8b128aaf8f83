// A TCP relay on loopback in front of a host's sshd that counts what crosses
// it: bytes each way and connections. Whatever deploys through it (the
// action, rsync, tar over ssh) is measured the same way, on the wire.
import { connect, createServer, type Socket } from 'node:net';

export interface Counts {
  /** Client to host. */
  up: number;
  /** Host to client. */
  down: number;
  connections: number;
}

export interface Relay {
  readonly port: number;
  /** The counts since the relay started or was last reset. */
  readonly counts: Readonly<Counts>;
  reset(): void;
  close(): Promise<void>;
}

export async function startRelay(targetPort: number): Promise<Relay> {
  let counts: Counts = { up: 0, down: 0, connections: 0 };
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    // A reset on either side ends the pair; the deploy sees its connection drop.
    socket.on('error', () => undefined);
  };
  const server = createServer((client) => {
    counts.connections++;
    const host = connect(targetPort, '127.0.0.1');
    track(client);
    track(host);
    client.on('data', (chunk: Buffer) => (counts.up += chunk.length));
    host.on('data', (chunk: Buffer) => (counts.down += chunk.length));
    client.pipe(host);
    host.pipe(client);
    client.on('close', () => host.destroy());
    host.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  if (typeof address !== 'object' || address === null) throw new Error('the relay has no port');
  return {
    port: address.port,
    get counts() {
      return counts;
    },
    reset() {
      counts = { up: 0, down: 0, connections: 0 };
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
