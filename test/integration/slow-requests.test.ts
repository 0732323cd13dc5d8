// A client that trickles its request (slowloris) is answered 408 and cut off once the request
// timeout passes, and stores nothing; other senders are served meanwhile.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend, onPostgres } from '../support/backend.js';
import { count } from '../support/db.js';
import { stytchEvent } from '../support/directory.js';
import { sendStytch, startTestServer, stytchRequest, type TestServer } from '../support/server.js';
import { budget } from '../support/time.js';

interface Trickled {
  /** Everything the server sent back. */
  response: string;
  /** Bytes of the request we had sent when the server closed the connection. */
  sent: number;
}

/** Sends `prefix` at once, then `rest` a byte at a time, until the server closes the connection. */
function trickle(url: string, prefix: Buffer, rest: Buffer, tickMs = 100): Promise<Trickled> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname);
    let response = '';
    let sent = 0;
    let timer: NodeJS.Timeout | undefined;
    socket.on('data', (d: Buffer) => (response += d.toString()));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // The server may reset the connection while we are still writing.
      if (error.code !== 'ECONNRESET' && error.code !== 'EPIPE') reject(error);
    });
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ response, sent });
    });
    socket.on('connect', () => {
      socket.write(prefix);
      sent = prefix.length;
      let next = 0;
      timer = setInterval(() => {
        // Never finish: a slowloris holds on for as long as it is let.
        if (next >= rest.length - 1) return;
        socket.write(rest.subarray(next, next + 1));
        next += 1;
        sent += 1;
      }, tickMs);
    });
  });
}

// Connection handling in the HTTP layer, before any statement: the same whatever the
// database, so the Postgres pass has nothing to add.
describe.skipIf(onPostgres)(`slow requests (${backend})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ requestTimeoutMs: budget(1500) });
  });
  afterAll(() => server?.close());

  const signedRequest = () => {
    const r = stytchRequest(
      server.stytchSecret,
      stytchEvent('organization', 'CREATE', 'organization-test-slow', { organization_id: 'organization-test-slow', organization_name: 'Slow' }),
    );
    const head = [
      'POST /webhooks/stytch HTTP/1.1',
      `Host: ${new URL(server.url).host}`,
      ...Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`),
      `Content-Length: ${Buffer.byteLength(r.body)}`,
      '',
      '',
    ].join('\r\n');
    return { head: Buffer.from(head), body: Buffer.from(r.body) };
  };

  it('answers a body that trickles in with 408, closes the connection, and stores nothing', async () => {
    const { head, body } = signedRequest();
    const before = await count(server.database, 'deliveries');
    // Headers at once, then the body a byte every 100 ms: it would take a minute to finish.
    const slow = trickle(server.url, head, body);
    // Others are served meanwhile.
    const other = stytchEvent('organization', 'CREATE', 'organization-test-fast', {
      organization_id: 'organization-test-fast',
      organization_name: 'Fast',
    });
    expect((await sendStytch(server, other)).status).toBe(200);

    const { response, sent } = await slow;
    expect(response).toMatch(/^HTTP\/1\.1 408 /);
    expect(sent).toBeLessThan(head.length + body.length - 1);
    expect(await count(server.database, 'deliveries')).toBe(before + 1);
  });

  it('answers headers that trickle in with 408 too', async () => {
    const { head, body } = signedRequest();
    const { response, sent } = await trickle(server.url, Buffer.alloc(0), Buffer.concat([head, body]));
    expect(response).toMatch(/^HTTP\/1\.1 408 /);
    expect(sent).toBeLessThan(head.length);
  });
});
