// A TCP proxy between the service and Postgres that a test can break in the two ways databases
// go away: refused (the server is down: connections are reset and refused) and partitioned
// (the network drops everything silently: nothing is refused, nothing answers).
import net from 'node:net';

export interface Proxy {
  port: number;
  /** Resets open connections and refuses new ones, as a stopped Postgres does. */
  refuse(): Promise<void>;
  /** Stops forwarding anything in either direction, without closing anything. */
  partition(): void;
  /** Back to normal; a partition delivers what was held back. */
  restore(): Promise<void>;
  /**
   * Breaks the next connection whose client sends bytes containing `marker`, before they reach
   * Postgres, the way `how` says; resolves once it has. With `thenRefuse`, new connections are
   * refused from that moment (restore() accepts them again).
   */
  cutOn(marker: string, how: CutKind, options?: { thenRefuse?: boolean }): Promise<void>;
  close(): Promise<void>;
}

/**
 * How a connection is broken: `reset` (RST, the client reads ECONNRESET), `close` (a plain
 * FIN, no error), or `terminate` (Postgres's own FATAL 57P01, as from pg_terminate_backend or a
 * server shutting down, then FIN).
 */
export type CutKind = 'reset' | 'close' | 'terminate';

/** A FATAL ErrorResponse as Postgres sends it when a backend is terminated. */
function terminationMessage(): Buffer {
  const fields = [
    ['S', 'FATAL'],
    ['V', 'FATAL'],
    ['C', '57P01'],
    ['M', 'terminating connection due to administrator command'],
  ];
  const body = Buffer.concat([...fields.map(([k, v]) => Buffer.from(`${k}${v}\0`)), Buffer.from([0])]);
  const head = Buffer.alloc(5);
  head.write('E', 0);
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

interface Cut {
  marker: Buffer;
  how: CutKind;
  thenRefuse: boolean;
  done: () => void;
}

interface Pair {
  client: net.Socket;
  upstream?: net.Socket;
}

export async function startProxy(targetHost: string, targetPort: number): Promise<Proxy> {
  let partitioned = false;
  const pairs = new Set<Pair>();
  let cut: Cut | undefined;

  const forward = (pair: Pair) => {
    const upstream = net.connect(targetPort, targetHost);
    pair.upstream = upstream;
    upstream.on('error', () => drop(pair)).on('close', () => drop(pair));
    // Ahead of the pipe, so a chunk that triggers a cut never reaches Postgres.
    pair.client.prependListener('data', (chunk: Buffer) => {
      if (!cut || !chunk.includes(cut.marker)) return;
      const { how, thenRefuse, done } = cut;
      cut = undefined;
      pair.client.unpipe();
      // Quietly: its close must not destroy the client before the cut's last bytes are out.
      upstream.removeAllListeners();
      upstream.on('error', () => {});
      upstream.destroy();
      if (thenRefuse) void stopListening();
      if (how === 'reset') pair.client.resetAndDestroy();
      else if (how === 'terminate') pair.client.end(terminationMessage());
      else pair.client.end();
      pairs.delete(pair);
      done();
    });
    pair.client.pipe(upstream);
    upstream.pipe(pair.client);
    pair.client.resume();
  };
  const drop = (pair: Pair) => {
    pair.client.destroy();
    pair.upstream?.destroy();
    pairs.delete(pair);
  };

  const server = net.createServer((client) => {
    const pair: Pair = { client };
    pairs.add(pair);
    client.on('error', () => drop(pair)).on('close', () => drop(pair));
    if (partitioned) client.pause();
    else forward(pair);
  });
  const listen = (port: number) =>
    new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  await listen(0);
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('proxy has no port');
  const port = address.port;
  let listening = true;

  const stopListening = () =>
    new Promise<void>((resolve) => {
      if (!listening) return resolve();
      listening = false;
      server.close(() => resolve());
      for (const pair of [...pairs]) drop(pair);
    });

  return {
    port,
    refuse: stopListening,
    partition: () => {
      partitioned = true;
      for (const { client, upstream } of pairs) {
        client.unpipe();
        upstream?.unpipe();
        client.pause();
        upstream?.pause();
      }
    },
    restore: async () => {
      if (partitioned) {
        partitioned = false;
        for (const pair of pairs) {
          if (!pair.upstream) forward(pair);
          else {
            pair.client.pipe(pair.upstream);
            pair.upstream.pipe(pair.client);
            pair.client.resume();
            pair.upstream.resume();
          }
        }
      }
      if (!listening) {
        await listen(port);
        listening = true;
      }
    },
    cutOn: (marker, how, options = {}) =>
      new Promise<void>((done) => {
        cut = { marker: Buffer.from(marker), how, thenRefuse: options.thenRefuse ?? false, done };
      }),
    close: stopListening,
  };
}

/** A proxy in front of the Postgres of `url`, and the URL that goes through it. */
export async function proxyFor(url: string): Promise<{ proxy: Proxy; url: string }> {
  const target = new URL(url);
  const proxy = await startProxy(target.hostname, Number(target.port || 5432));
  const viaProxy = new URL(url);
  viaProxy.host = `127.0.0.1:${proxy.port}`;
  return { proxy, url: viaProxy.toString() };
}
