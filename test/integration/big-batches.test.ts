// One sender's big batch cannot hold up the others: a signed Polis batch of thousands of events
// is applied in parts, and a Stytch delivery sent while it is being applied is answered before
// it ends. A batch past WEBHOOK_MAX_EVENTS is kept whole as rejected; a delivery a stopped
// process left half applied is finished by the next one. Nothing signed is lost in any of them.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectoryStore } from '../../src/directory/store.js';
import { createSources } from '../../src/sources/index.js';
import { loadConfig } from '../../src/config.js';
import { backend, onPostgres } from '../support/backend.js';
import { query } from '../support/db.js';
import { budget } from '../support/time.js';
import { stytchEvent } from '../support/directory.js';
import { polisRequest, post, sendStytch, startTestServer, type TestServer } from '../support/server.js';

const BIG = 3000;
let server: TestServer;
const logs: string[] = [];
beforeAll(async () => {
  server = await startTestServer({ env: { LOG_LEVEL: 'info', WEBHOOK_MAX_EVENTS: '5000' }, logs });
});
afterAll(() => server?.close());

/** A Polis batch of `n` user.created events in one directory, each user its own. */
function polisBatch(n: number, tag: string): unknown[] {
  return Array.from({ length: n }, (_, i) => ({
    event: 'user.created',
    tenant: `big-${tag}`,
    product: 'portal',
    directory_id: `dir-big-${tag}`,
    data: { id: `usr-${tag}-${i}`, email: `u${i}.${tag}@big.example`, first_name: 'Big', last_name: `User ${i}`, active: true },
  }));
}

const statusOf = async (id: string) => (await query(server.database, sql`select status from deliveries where id = ${id}::uuid`))[0]?.status;

describe(`big batches (${backend})`, () => {
  it(`a ${BIG}-event Polis batch is applied whole, and another sender's delivery sent meanwhile is answered before it ends`, async () => {
    const tag = randomBytes(4).toString('hex');
    const signed = polisRequest(server.polisSecret, polisBatch(BIG, tag));
    let polisAnswered = false;
    const big = post(`${server.url}/webhooks/polis`, signed.body, signed.headers).then((reply) => {
      polisAnswered = true;
      return reply;
    });
    // Once it is stored and being applied in parts...
    await expect
      .poll(async () => (await query(server.database, sql`select count(*)::int as n from deliveries where status = 'applying' and source = 'polis'`))[0]!.n, {
        message: 'the batch to be applying',
      })
      .toBe(1);
    // ...a Stytch delivery goes through between two of its parts.
    const member = `member-test-big-${tag}`;
    const stytch = await sendStytch(server, stytchEvent('member', 'CREATE', member, { member_id: member, organization_id: `organization-test-big-${tag}`, email_address: `${tag}@other.example`, status: 'active' }));
    expect(stytch.status).toBe(200);
    expect(stytch.body.status).toBe('applied');
    expect(polisAnswered).toBe(false);

    const reply = await big;
    expect(reply.status).toBe(200);
    const id = reply.body.deliveryId as string;
    // On a machine slow enough that its parts outlast the answer's deadline, it is answered as
    // stored and still applying (never 503: it is the sender's no longer), and finishes after.
    if (reply.body.status === 'applying') {
      await expect.poll(() => statusOf(id), { message: 'the batch answered "applying" to finish' }).toBe('applied');
    } else {
      expect(reply.body).toMatchObject({ status: 'applied', applied: expect.any(Number), rejected: 0 });
    }
    expect(await statusOf(id)).toBe('applied');
    const [row] = await query(server.database, sql`select jsonb_array_length(outcomes) as outcomes, cardinality(event_types) as types from deliveries where id = ${id}::uuid`);
    expect(row).toEqual({ outcomes: BIG, types: BIG });
    const [members] = await query(server.database, sql`select count(*)::int as n from members where external_id like ${`usr-${tag}-%`} and deleted_at is null`);
    expect(members!.n).toBe(BIG);
    // Sent again, it is the same delivery.
    expect((await post(`${server.url}/webhooks/polis`, signed.body, signed.headers)).body.status).toBe('duplicate');
    // What it logged of it is a line, not the batch.
    const stored = logs.filter((l) => l.includes(id));
    expect(stored.length).toBeGreaterThan(0);
    for (const line of stored) expect(line.length).toBeLessThan(2000);
  });

  it.runIf(onPostgres)('a batch stored whole whose parts outlast the answer\'s deadline is answered 200 "applying", never 503, and finishes', async () => {
    // Its parts held up for as long as the test likes: a lock on members that their writes wait for.
    const holder = postgres(server.databaseUrl!, { max: 1, onnotice: () => {} });
    const hurried = await startTestServer({ database: { handle: server.database, url: server.databaseUrl, dispose: async () => {} }, storeTimeoutMs: budget(2000), logs, env: { LOG_LEVEL: 'info' } });
    const tag = randomBytes(4).toString('hex');
    let release = () => {};
    try {
      const released = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const holding = holder.begin(async (tx) => {
        await tx`lock table members in share row exclusive mode`;
        locked();
        await released;
      });
      await isLocked;
      const signed = polisRequest(hurried.polisSecret, polisBatch(250, tag));
      const reply = await post(`${hurried.url}/webhooks/polis`, signed.body, signed.headers);
      expect(reply.status).toBe(200);
      expect(reply.body.status).toBe('applying');
      const id = reply.body.deliveryId as string;
      expect(await statusOf(id)).toBe('applying');
      release();
      await holding;
      await expect.poll(() => statusOf(id), { message: 'the parts to finish' }).toBe('applied');
      const [members] = await query(server.database, sql`select count(*)::int as n from members where external_id like ${`usr-${tag}-%`} and deleted_at is null`);
      expect(members!.n).toBe(250);
      // The sender's retry is the same delivery.
      expect((await post(`${hurried.url}/webhooks/polis`, signed.body, signed.headers)).body.status).toBe('duplicate');
      await expect.poll(() => logs.some((l) => l.includes(id) && l.includes('answered \\"applying\\" is applied')), { message: 'the log to say it finished' }).toBe(true);
    } finally {
      // The lock first: the service's close waits for the parts it holds up.
      release();
      await holder.end();
      await hurried.close();
    }
  });

  it('a batch past WEBHOOK_MAX_EVENTS is kept whole as rejected, saying so in a bounded log line', async () => {
    const small = await startTestServer({ env: { WEBHOOK_MAX_EVENTS: '50', LOG_LEVEL: 'info' }, logs });
    try {
      const tag = randomBytes(4).toString('hex');
      const signed = polisRequest(small.polisSecret, polisBatch(60, tag));
      const reply = await post(`${small.url}/webhooks/polis`, signed.body, signed.headers);
      expect(reply.status).toBe(200);
      expect(reply.body.status).toBe('rejected');
      const [row] = await query(small.database, sql`select status, reason, jsonb_array_length(body) as items from deliveries where id = ${reply.body.deliveryId as string}::uuid`);
      expect(row).toMatchObject({ status: 'rejected', items: 60 });
      expect(String(row!.reason)).toMatch(/60 events in one delivery .*more than the 50 taken \(WEBHOOK_MAX_EVENTS\)/);
      const [members] = await query(small.database, sql`select count(*)::int as n from members where external_id like ${`usr-${tag}-%`}`);
      expect(members!.n).toBe(0);
      const warned = logs.filter((l) => l.includes('webhook events rejected') && l.includes(reply.body.deliveryId as string));
      expect(warned).toHaveLength(1);
      expect(warned[0]!.length).toBeLessThan(2000);
    } finally {
      await small.close();
    }
  });

  it('a delivery a stopped process left half applied is finished by the next process on the database', async () => {
    const tag = randomBytes(4).toString('hex');
    const events = polisBatch(250, tag);
    const signed = polisRequest(server.polisSecret, events);
    // What a process that stopped after storing it left: the delivery, kept whole, nothing of it applied.
    const [polis] = createSources(loadConfig({ POLIS_WEBHOOK_SECRET: server.polisSecret }));
    const verified = polis!.verify({ headers: Object.fromEntries(Object.entries(signed.headers).map(([k, v]) => [k.toLowerCase(), v])), body: Buffer.from(signed.body), now: new Date() });
    if (!verified.ok) throw new Error(verified.reason);
    const delivery = polis!.parse(JSON.parse(signed.body), verified.verified);
    const opened = await createDirectoryStore(server.database.db).ingest({ ...delivery, opensParts: true });
    expect(await statusOf(opened.deliveryId)).toBe('applying');
    // Old enough that no live process can still be applying it (on Postgres, several may be).
    await query(server.database, sql`update deliveries set received_at = received_at - interval '1 hour' where id = ${opened.deliveryId}::uuid`);

    const next = await startTestServer({ database: { handle: server.database, url: server.databaseUrl, dispose: async () => {} } });
    try {
      await expect.poll(() => statusOf(opened.deliveryId), { message: 'the next process to finish it' }).toBe('applied');
      const [members] = await query(server.database, sql`select count(*)::int as n from members where external_id like ${`usr-${tag}-%`} and deleted_at is null`);
      expect(members!.n).toBe(250);
      // A retry from the sender is still a duplicate of it.
      expect((await post(`${server.url}/webhooks/polis`, signed.body, signed.headers)).body.status).toBe('duplicate');
    } finally {
      await next.close();
    }
    void onPostgres;
  });
});
