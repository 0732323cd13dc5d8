// dynalite, a local DynamoDB (the npm package, in memory), to run Polis on its DynamoDB store.
//
// dynalite lacks one operation Polis calls when it creates its tables: UpdateTimeToLive (it turns
// on expiry for short-lived records, which no test waits for). A front on the endpoint answers
// that one as DynamoDB documents it (the specification back, 200) and hands everything else to
// dynalite unchanged.
import { createRequire } from 'node:module';
import http, { type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

type Dynalite = (options: { createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }) => Server;
const dynalite = createRequire(import.meta.url)('dynalite') as Dynalite;

export interface LocalDynamo {
  /** The endpoint, as Polis's `DB_URL` takes it. */
  url: string;
  close(): Promise<void>;
}

const listen = (server: Server) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });

export async function startDynalite(): Promise<LocalDynamo> {
  // Tables are ready at once, as a test wants (the real service takes seconds).
  const inner = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const innerPort = await listen(inner);
  const front = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (String(req.headers['x-amz-target'] ?? '').endsWith('.UpdateTimeToLive')) {
        const asked = JSON.parse(body.toString() || '{}') as { TimeToLiveSpecification?: unknown };
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' });
        res.end(JSON.stringify({ TimeToLiveSpecification: asked.TimeToLiveSpecification }));
        return;
      }
      const forward = http.request({ host: '127.0.0.1', port: innerPort, method: req.method, path: req.url, headers: req.headers }, (reply) => {
        res.writeHead(reply.statusCode ?? 500, reply.headers);
        reply.pipe(res);
      });
      forward.on('error', (error) => {
        res.writeHead(502);
        res.end(String(error));
      });
      forward.end(body);
    });
  });
  const port = await listen(front);
  const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));
  return {
    url: `http://127.0.0.1:${port}`,
    close: async () => {
      front.closeAllConnections();
      await close(front);
      await close(inner);
    },
  };
}
