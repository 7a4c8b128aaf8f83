import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { openSshShell, tcpOptions } from '../../src/adapters/ssh-session.js';
import { StepError } from '../../src/engine/ports.js';

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
