// A Postgres connection that breaks while postgres.js is still setting it up. Its first
// statement on every new connection is its own array-type query (fetch_types); a connection
// lost during that query used to reject a promise nobody held: an unhandled rejection, which
// under Node's default ends the process, and (for a terminated backend) the old server's error
// replayed onto the first query of the next connection. Each way a connection can break is
// injected exactly there by a proxy that watches for that query.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isUnavailable } from '../../src/db/errors.js';
import { openDatabase, type DatabaseHandle } from '../../src/db/open.js';
import { backend, createPostgresDatabase, onPostgres } from '../support/backend.js';
import { eventually } from '../support/live.js';
import { proxyFor, type CutKind, type Proxy } from '../support/tcp-proxy.js';

/** Text only postgres.js's array-type query sends. */
const ARRAY_TYPE_QUERY = 'pg_catalog.pg_type';

/** Lets every pending rejection surface: Node reports unhandled ones after the microtask queue drains. */
const settle = async () => {
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
};

describe.runIf(onPostgres)(`a connection lost while it is being set up (${backend})`, () => {
  let proxy: Proxy;
  let viaProxy: string;
  let drop: () => Promise<void>;
  const stray: unknown[] = [];
  const onStray = (reason: unknown) => stray.push(reason);
  const opened: DatabaseHandle[] = [];

  beforeAll(async () => {
    const created = await createPostgresDatabase();
    drop = created.drop;
    ({ proxy, url: viaProxy } = await proxyFor(created.url));
    process.on('unhandledRejection', onStray);
  });
  afterEach(async () => {
    await proxy.restore();
    for (const database of opened.splice(0)) await database.close();
  });
  afterAll(async () => {
    process.off('unhandledRejection', onStray);
    await proxy?.close();
    await drop?.();
  });

  /** A fresh pool through the proxy: migrated, and with no connection of its own open yet. */
  const freshPool = async () => {
    const database = await openDatabase({ databaseUrl: viaProxy, poolSize: 2 });
    opened.push(database);
    return database;
  };

  const outcome = (database: DatabaseHandle) => database.ping().then(() => 'answered' as const, (error: unknown) => error);

  const cases: { how: CutKind; thenRefuse: boolean; what: string }[] = [
    { how: 'reset', thenRefuse: false, what: 'reset (ECONNRESET)' },
    { how: 'reset', thenRefuse: true, what: 'reset, and the server is gone' },
    { how: 'close', thenRefuse: false, what: 'closed' },
    { how: 'close', thenRefuse: true, what: 'closed, and the server is gone (ECONNREFUSED on reconnect)' },
    { how: 'terminate', thenRefuse: false, what: 'terminated by the server (57P01)' },
    { how: 'terminate', thenRefuse: true, what: 'terminated, and the server is gone' },
  ];

  for (const { how, thenRefuse, what } of cases) {
    it(`${what}: no unhandled rejection, a clean outcome for the query, and the pool recovers`, async () => {
      stray.length = 0;
      const database = await freshPool();
      const cut = proxy.cutOn(ARRAY_TYPE_QUERY, how, { thenRefuse });
      const first = await outcome(database);
      await cut;
      // The query that opened the connection either got through on a reconnect or failed with
      // an error the service reads as "database unavailable" (503, retried by the sender).
      if (first !== 'answered') expect(isUnavailable(first), `${String(first)}`).toBe(true);
      if (thenRefuse) expect(first).not.toBe('answered');
      // Closed or terminated with the server still there: postgres.js reconnects and runs it.
      if (!thenRefuse && how !== 'reset') expect(first).toBe('answered');

      await proxy.restore();
      await eventually(async () => (await outcome(database)) === 'answered', 30_000, 'the pool to answer again');
      // The next connection's first query is not failed with the broken connection's error.
      const fresh = await freshPool();
      expect(await outcome(fresh)).toBe('answered');
      await settle();
      expect(stray.map(String)).toEqual([]);
    });
  }
});
