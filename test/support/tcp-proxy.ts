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
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream?: net.Socket;
}

export async function startProxy(targetHost: string, targetPort: number): Promise<Proxy> {
  let partitioned = false;
  const pairs = new Set<Pair>();

  const forward = (pair: Pair) => {
    const upstream = net.connect(targetPort, targetHost);
    pair.upstream = upstream;
    upstream.on('error', () => drop(pair)).on('close', () => drop(pair));
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
