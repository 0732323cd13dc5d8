// Connections that only sit there are let go: a WebSocket that never sends connection_init and
// then ignores the server's 4408 close, and an idle keep-alive HTTP connection. Both are raw
// TCP here, so nothing on the client side answers or closes anything. Before: about 33 s and
// 72 s. Each bound below is a timer against a much longer timer, not a speed budget.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend, onPostgres } from '../support/backend.js';
import { startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

/** Opens a raw connection, writes `request`, and resolves when the server ends it. */
function rawConnection(request: string): { received: () => string; closed: Promise<number> } {
  const url = new URL(server.url);
  const socket = net.connect(Number(url.port), url.hostname);
  let data = '';
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
  socket.on('error', () => {});
  const opened = Date.now();
  socket.on('connect', () => socket.write(request));
  const closed = new Promise<number>((resolve) => socket.on('close', () => resolve(Date.now() - opened)));
  return { received: () => data, closed };
}

// Connection handling in the HTTP layer, before any statement: the same whatever the
// database, so the Postgres pass has nothing to add.
describe.skipIf(onPostgres)(`idle connections (${backend})`, () => {
  it('a WebSocket that never sends connection_init and ignores the close is cut off within seconds', async () => {
    const ws = rawConnection(
      [
        'GET /graphql HTTP/1.1',
        `Host: ${new URL(server.url).host}`,
        'Upgrade: websocket',
        'Connection: Upgrade',
        'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==',
        'Sec-WebSocket-Version: 13',
        'Sec-WebSocket-Protocol: graphql-transport-ws',
        '',
        '',
      ].join('\r\n'),
    );
    const heldMs = await ws.closed;
    expect(ws.received()).toMatch(/^HTTP\/1\.1 101/);
    // The close frame with 4408 (0x11 0x38) was sent, then the socket dropped: 3 s for
    // connection_init, 3 s of grace, against ws's own 30 s wait for a close reply.
    expect(ws.received()).toContain('\u0011\u0038');
    expect(heldMs).toBeLessThan(25_000);
  });

  it('an idle keep-alive connection is closed after HTTP_KEEP_ALIVE_SECONDS, not 72 s', async () => {
    const http = rawConnection(`GET /healthz HTTP/1.1\r\nHost: ${new URL(server.url).host}\r\nConnection: keep-alive\r\n\r\n`);
    const heldMs = await http.closed;
    expect(http.received()).toMatch(/^HTTP\/1\.1 200/);
    expect(heldMs).toBeLessThan(30_000);
  });
});
