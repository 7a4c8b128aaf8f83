import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { COMPRESSION, worthCompressing } from '../../src/adapters/ssh-compression.js';
import { openSshShell, sshAlgorithms, tcpOptions } from '../../src/adapters/ssh-connect.js';
import { StepError } from '../../src/engine/step-error.js';

const OPTIONS = { trust: { pins: [], ignoreHostKeys: true }, credentials: { password: 'unused' }, connectTimeoutMs: 1_000, retries: 0 };

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));
}

test("the connection to a host is made with Nagle's algorithm off: every rollout step is a small request and a small answer", () => {
  assert.deepEqual(tcpOptions({ host: '127.0.0.1', port: 2222 }), { host: '127.0.0.1', port: 2222, noDelay: true });
});

test('a port nobody listens on fails as a connect step naming host and port', async () => {
  const server = createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  const error = await openSshShell({ label: 'closed', host: '127.0.0.1', port, username: 'deploy' }, OPTIONS).catch((e: unknown) => e);
  assert.ok(error instanceof StepError, String(error));
  assert.equal(error.step, 'connect');
  assert.match(error.message, new RegExp(`cannot connect to 127\\.0\\.0\\.1:${port} \\(.*ECONNREFUSED`));
});

test('a host that answers with something other than SSH fails as a connect step, and its socket is closed', async () => {
  let closedByClient: Promise<void> | undefined;
  const server = createServer((socket) => {
    closedByClient = new Promise((resolve) => socket.on('close', () => resolve()));
    // Read what the client sends, or its end is never seen.
    socket.resume();
    socket.write('HTTP/1.1 400 Bad Request\r\n\r\n');
  });
  const port = await listen(server);
  try {
    const error = await openSshShell({ label: 'http', host: '127.0.0.1', port, username: 'deploy' }, OPTIONS).catch((e: unknown) => e);
    assert.ok(error instanceof StepError, String(error));
    assert.equal(error.step, 'connect');
    assert.ok(closedByClient, 'the client connected');
    await closedByClient;
  } finally {
    server.close();
  }
});

test('the algorithms asked for: compression when wanted, the pinned host key types when there are pins', () => {
  assert.deepEqual(sshAlgorithms([], true), { compress: ['zlib@openssh.com', 'none'] });
  assert.deepEqual(sshAlgorithms(['ssh-ed25519'], true), { compress: COMPRESSION, serverHostKey: ['ssh-ed25519'] });
  assert.deepEqual(sshAlgorithms(['ssh-ed25519'], false), { compress: ['none'], serverHostKey: ['ssh-ed25519'] });
});

test('a compressed connection pays from 2,000 files in the source', () => {
  assert.equal(worthCompressing(1_999), false);
  assert.equal(worthCompressing(2_000), true);
});

/** The name-lists of the first binary packet (KEXINIT, RFC 4253 7.1) in what a client sent after its version line. */
function kexinitNameLists(bytes: Buffer): string[] | undefined {
  const packet = bytes.indexOf('\r\n') + 2;
  if (packet < 2 || bytes.length < packet + 5 || bytes.length < packet + 4 + bytes.readUInt32BE(packet)) return undefined;
  assert.equal(bytes[packet + 5], 20, 'SSH_MSG_KEXINIT');
  const lists: string[] = [];
  for (let at = packet + 6 + 16; lists.length < 10;) {
    const length = bytes.readUInt32BE(at);
    lists.push(bytes.subarray(at + 4, at + 4 + length).toString('latin1'));
    at += 4 + length;
  }
  return lists;
}

/** The compression lists (to the host, from it) of the client's first key exchange, read by a peer that then hangs up. */
async function offeredCompression(compress: boolean): Promise<[string, string]> {
  let offered: (lists: string[]) => void;
  const lists = new Promise<string[]>((resolve) => (offered = resolve));
  const server = createServer((socket) => {
    let received = Buffer.alloc(0);
    socket.on('error', () => undefined);
    socket.write('SSH-2.0-graceful-reload-test\r\n');
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      const names = kexinitNameLists(received);
      if (names) {
        offered(names);
        socket.destroy();
      }
    });
  });
  const port = await listen(server);
  try {
    const connecting = openSshShell({ label: 'kexinit', host: '127.0.0.1', port, username: 'deploy' }, { ...OPTIONS, compress }).catch((e: unknown) => e);
    const [, , , , , , toHost, fromHost] = await lists;
    assert.ok((await connecting) instanceof StepError);
    return [toHost!, fromHost!];
  } finally {
    server.close();
  }
}

test("the client's first key exchange offers compression after authentication both ways when asked to, with none as the last resort; else none", async () => {
  assert.deepEqual(await offeredCompression(true), ['zlib@openssh.com,none', 'zlib@openssh.com,none']);
  assert.deepEqual(await offeredCompression(false), ['none', 'none']);
});
