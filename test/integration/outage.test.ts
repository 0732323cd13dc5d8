// With the database unavailable, webhooks answer 503 (so the sender retries) and nothing is
// acknowledged that was not stored; when it returns, the service recovers without a restart.
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/db/open.js';
import { backend, createPostgresDatabase, onPostgres, openTestDatabase } from '../support/backend.js';
import { query } from '../support/db.js';
import { findViolations } from '../support/invariants.js';
import { post, startTestServer, stytchRequest, type StytchRequest, type TestServer } from '../support/server.js';
import { eventually } from '../support/live.js';
import { proxyFor, type Proxy } from '../support/tcp-proxy.js';
import { budget } from '../support/time.js';

const memberEvent = (n: number, at = Date.now()) => ({
  action: 'CREATE',
  id: `member-outage-${n}`,
  object_type: 'member',
  source: 'SCIM',
  timestamp: new Date(at - 60_000 + n).toISOString(),
  vertical: 'B2B',
  member: { member_id: `member-outage-${n}`, organization_id: 'org-outage', email_address: `m${n}@outage.example`, status: 'active' },
});

async function storedKeys(database: DatabaseHandle): Promise<Set<string>> {
  const rows = await query(database, sql`select key from delivery_keys`);
  return new Set(rows.map((r) => String(r.key)));
}

async function waitUntilReady(url: string): Promise<void> {
  await eventually(async () => (await fetch(`${url}/readyz`).catch(() => undefined))?.status === 200, 20_000, 'the service to be ready again');
}

/** How long a delivery may wait for the database before it is answered 503. */
const STORE_TIMEOUT_MS = budget(1500);

describe.runIf(onPostgres)(`Postgres unavailable (${backend})`, () => {
  let server: TestServer;
  let proxy: Proxy;
  let direct: DatabaseHandle;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const created = await createPostgresDatabase();
    drop = created.drop;
    const route = await proxyFor(created.url);
    proxy = route.proxy;
    const viaProxy = route.url;
    // The test reads the database directly, around the proxy.
    direct = await openDatabase({ databaseUrl: created.url, poolSize: 2 });
    server = await startTestServer({
      database: { handle: await openDatabase({ databaseUrl: viaProxy, poolSize: 8 }), url: viaProxy, dispose: async () => {} },
      storeTimeoutMs: STORE_TIMEOUT_MS,
    });
  });
  afterAll(async () => {
    await server?.close();
    await server?.database.close();
    await direct?.close();
    await proxy?.close();
    await drop?.();
  });

  const send = (r: StytchRequest) => post(`${server.url}/webhooks/stytch`, r.body, r.headers);

  it('answers 503 with Retry-After while the database is gone, stores nothing, and recovers', async () => {
    const before = Array.from({ length: 5 }, (_, i) => stytchRequest(server.stytchSecret, memberEvent(i)));
    for (const r of before) expect((await send(r)).status).toBe(200);

    await proxy.refuse();
    const during = Array.from({ length: 5 }, (_, i) => stytchRequest(server.stytchSecret, memberEvent(100 + i)));
    for (const r of during) {
      const response = await fetch(`${server.url}/webhooks/stytch`, { method: 'POST', body: r.body, headers: r.headers });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('5');
      expect(((await response.json()) as { error: string }).error).toMatch(/database unavailable/);
    }
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);

    const keys = await storedKeys(direct);
    for (const r of before) expect(keys.has(`svix:${r.id}`)).toBe(true);
    for (const r of during) expect(keys.has(`svix:${r.id}`)).toBe(false);

    await proxy.restore();
    await waitUntilReady(server.url);
    // The sender's retries now land.
    for (const r of during) expect((await send(r)).body.status).toBe('applied');
  });

  it('never acknowledges a delivery it did not store when the database drops mid-stream', async () => {
    // Sixteen senders, each sending one delivery after another, so that whenever the database
    // goes, deliveries are in flight at every stage. It goes once some are acknowledged, and
    // comes back once some were refused; sending stops once more are acknowledged after that.
    const results: { r: StytchRequest; reply: Awaited<ReturnType<typeof send>> }[] = [];
    let next = 1000;
    let stop = false;
    const senders = Array.from({ length: 16 }, async () => {
      while (!stop) {
        const r = stytchRequest(server.stytchSecret, memberEvent(next++));
        const reply = await send(r);
        results.push({ r, reply });
        // A sender backs off after a 503 before it goes on.
        if (reply.status === 503) await sleep(50);
      }
    });
    const answered = (status: number) => results.filter((x) => x.reply.status === status).length;
    try {
      await eventually(() => answered(200) >= 20, 30_000, 'deliveries acknowledged before the cut');
      await proxy.refuse();
      await eventually(() => answered(503) >= 10, 30_000, 'deliveries answered 503 during the cut');
      await proxy.restore();
      const ackedBefore = answered(200);
      await eventually(() => answered(200) >= ackedBefore + 20, 60_000, 'deliveries acknowledged after the database returned');
    } finally {
      stop = true;
      await Promise.all(senders);
    }
    const requests = results.map((x) => x.r);

    const statuses = new Set(results.map((x) => x.reply.status));
    for (const status of statuses) expect([200, 503]).toContain(status);
    expect(results.some((x) => x.reply.status === 503), 'the cut happened mid-stream').toBe(true);
    expect(results.some((x) => x.reply.status === 200)).toBe(true);

    const keys = await storedKeys(direct);
    for (const { r, reply } of results) {
      if (reply.status === 200) expect(keys.has(`svix:${r.id}`), `acknowledged ${r.id} is stored`).toBe(true);
    }

    // The sender retries every 503: afterwards each delivery is stored exactly once.
    await waitUntilReady(server.url);
    for (const { r, reply } of results) {
      if (reply.status !== 200) expect(['applied', 'duplicate']).toContain((await send(r)).body.status);
    }
    const after = await storedKeys(direct);
    expect(requests.filter((r) => after.has(`svix:${r.id}`))).toHaveLength(requests.length);
    const [deliveries] = await query(direct, sql`select count(*)::int as n from deliveries`);
    const [keyRows] = await query(direct, sql`select count(*)::int as n from delivery_keys`);
    expect(deliveries!.n).toBe(keyRows!.n);
    // Nothing half-applied by a transaction the cut interrupted.
    expect(await findViolations(direct)).toEqual([]);
  });

  it('answers 503 within its deadline when the network to the database goes silent', async () => {
    await waitUntilReady(server.url);
    const requests = Array.from({ length: 6 }, (_, i) => stytchRequest(server.stytchSecret, memberEvent(50_000 + i)));
    proxy.partition();
    const started = Date.now();
    // Answered at all while the partition lasts: without the deadline these would wait for it
    // to end (the test would time out). And answered by the deadline, not by a failure that
    // came first: not before the deadline was up.
    const replies = await Promise.all(requests.map((r) => send(r)));
    const elapsed = Date.now() - started;
    expect(replies.map((r) => r.status)).toEqual(requests.map(() => 503));
    expect(replies.map((r) => r.body.error)).toEqual(requests.map(() => expect.stringMatching(/database unavailable/)));
    expect(elapsed).toBeGreaterThanOrEqual(STORE_TIMEOUT_MS - 50);
    await proxy.restore();

    // Held-back transactions may commit once the network heals: the sender's retries then
    // find them as duplicates. Either way each delivery is stored exactly once.
    await waitUntilReady(server.url);
    for (const r of requests) expect(['applied', 'duplicate']).toContain((await send(r)).body.status);
    const keys = await storedKeys(direct);
    expect(requests.filter((r) => keys.has(`svix:${r.id}`))).toHaveLength(requests.length);
  });
});

describe.runIf(!onPostgres)(`embedded database closed (${backend})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ database: await openTestDatabase() });
  });
  afterAll(() => server?.close());

  it('answers 503, not 500, and readiness fails', async () => {
    const ok = stytchRequest(server.stytchSecret, memberEvent(1));
    expect((await post(`${server.url}/webhooks/stytch`, ok.body, ok.headers)).status).toBe(200);
    await server.database.close();
    const r = stytchRequest(server.stytchSecret, memberEvent(2));
    const reply = await post(`${server.url}/webhooks/stytch`, r.body, r.headers);
    expect(reply.status).toBe(503);
    expect(reply.body.error).toMatch(/database unavailable/);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(503);
  });
});

