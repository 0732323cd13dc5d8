// An HTTP forwarder that notes what a sender was answered. A sender we do not control (the real
// Polis library) posts here; each request goes on unchanged to the service, and its answer comes
// back unchanged. Tests read `exchanges` to assert what the service answered, which the sender
// itself only logs. It holds no logic of ours: it forwards bytes and writes down statuses.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Exchange {
  method: string;
  path: string;
  status: number;
  /** The request body as sent. */
  body: string;
  /** The service's answer, as text. */
  answer: string;
}

export interface HttpRecorder {
  /** Base URL to give the sender in place of the service's. */
  url: string;
  exchanges: Exchange[];
  /**
   * While true, requests are answered 200 and never reach the service: what a sender sees
   * when its webhooks are pointed at the wrong place (recorded with status 0).
   */
  dropping: boolean;
  close(): Promise<void>;
}

// Hop-by-hop headers and those fetch computes itself.
const NOT_FORWARDED = new Set(['host', 'connection', 'content-length', 'transfer-encoding', 'keep-alive']);

export async function startHttpRecorder(target: string): Promise<HttpRecorder> {
  const exchanges: Exchange[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(req.headers)) {
        if (value !== undefined && !NOT_FORWARDED.has(name)) headers[name] = Array.isArray(value) ? value.join(', ') : value;
      }
      const method = req.method ?? 'GET';
      if (recorder.dropping) {
        exchanges.push({ method, path: req.url ?? '/', status: 0, body: body.toString('utf8'), answer: '' });
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        return;
      }
      fetch(new URL(req.url ?? '/', target), {
        method,
        headers,
        body: method === 'GET' || method === 'HEAD' ? undefined : body,
      })
        .then(async (response) => {
          const answer = await response.text();
          exchanges.push({ method, path: req.url ?? '/', status: response.status, body: body.toString('utf8'), answer });
          res.writeHead(response.status, { 'content-type': response.headers.get('content-type') ?? 'text/plain' });
          res.end(answer);
        })
        .catch((error: unknown) => {
          // The service did not answer at all: the sender sees a 502, and the test sees why.
          const answer = error instanceof Error ? error.message : String(error);
          exchanges.push({ method, path: req.url ?? '/', status: 502, body: body.toString('utf8'), answer });
          res.writeHead(502, { 'content-type': 'text/plain' });
          res.end(answer);
        });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const recorder: HttpRecorder = {
    url: `http://127.0.0.1:${port}`,
    exchanges,
    dropping: false,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return recorder;
}
