// Retention against a running service, on both backends. Deliveries and changes are made
// through the real webhook path and then aged by moving their timestamps back (the only thing
// a test cannot wait for); a round of pruning runs while webhooks keep arriving. What must go
// goes, what must stay stays whole, the idempotency keys still catch a sender's late retry, an
// unreplayed rejected delivery is kept until a replay reads it, and a cursor older than the
// kept feed is refused with CURSOR_EXPIRED over HTTP and WebSocket instead of skipping changes.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectoryStore } from '../../src/directory/store.js';
import { replayDeliveries } from '../../src/replay.js';
import { createPolisSource } from '../../src/sources/polis/index.js';
import type { SourceAdapter } from '../../src/sources/types.js';
import { backend } from '../support/backend.js';
import { query } from '../support/db.js';
import { stytchEvent } from '../support/directory.js';
import { cursorSeq, subscribe } from '../support/live.js';
import { gql, gqlData, sendPolis, sendStytch, startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    env: {
      DELIVERY_RETENTION_DAYS: '1',
      DELIVERY_KEY_RETENTION_DAYS: '3',
      CHANGES_RETENTION_DAYS: '5',
      // Tiny batches, so a round is many statements interleaved with the live traffic.
      RETENTION_BATCH: '3',
      METRICS_PORT: '0',
    },
  });
});
afterAll(() => server?.close());

const tag = randomBytes(5).toString('hex');
const org = `organization-test-retention-${tag}`;
const memberEvent = (i: number | string) =>
  stytchEvent('member', 'CREATE', `member-test-${tag}-${i}`, {
    member_id: `member-test-${tag}-${i}`,
    organization_id: org,
    email_address: `m${i}.${tag}@example.test`,
    status: 'active',
  });

async function send(i: number | string, id = `msg_${tag}_${i}`): Promise<string> {
  const reply = await sendStytch(server, memberEvent(i), { id });
  expect(reply.status).toBe(200);
  expect(reply.body.status).toBe('applied');
  return reply.body.deliveryId as string;
}

/** Moves deliveries (and the changes they made) `days` into the past. */
async function age(deliveryIds: string[], days: number): Promise<void> {
  const ids = sql.join(deliveryIds.map((id) => sql`${id}::uuid`), sql`, `);
  await query(server.database, sql`update deliveries set received_at = received_at - make_interval(days => ${days}) where id in (${ids})`);
  await query(server.database, sql`update changes set recorded_at = recorded_at - make_interval(days => ${days}) where delivery_id in (${ids})`);
}

const deliveryRow = async (id: string) =>
  (await query(server.database, sql`select status, body is not null as has_body, outcomes is not null as has_outcomes, pruned_at from deliveries where id = ${id}`))[0];
const keysOf = async (id: string) =>
  Number((await query(server.database, sql`select count(*)::int as n from delivery_keys where delivery_id = ${id}`))[0]!.n);
const changesOf = async (ids: string[]) =>
  (await query(server.database, sql`select seq::int as seq from changes where delivery_id in (${sql.join(ids.map((id) => sql`${id}::uuid`), sql`, `)}) order by seq`)).map((r) => Number(r.seq));

async function scrapeValue(name: string, labels: string): Promise<number> {
  const text = await (await fetch(server.server.metricsUrl!)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(' ').pop()) : 0;
}

const CHANGES = `query ($after: String) { changes(first: 100, after: $after) { edges { cursor } } }`;

describe(`retention (${backend})`, () => {
  const old: string[] = [];
  const middle: string[] = [];
  const recent: string[] = [];
  let rejectedId: string;
  let expiredCursor: string;
  let keptCursor: string;

  it('prunes under live traffic: old changes and deliveries go, bodies past their days go, nothing kept is lost', async () => {
    for (let i = 0; i < 8; i++) old.push(await send(`old-${i}`));
    // A Polis user whose id travels under `uid`: rejected today, readable by a fixed reader.
    const rejected = await sendPolis(server, {
      event: 'user.created',
      tenant: `retention-${tag}`,
      product: 'portal',
      directory_id: 'dir-retention',
      data: { uid: `usr-${tag}`, email: `r.${tag}@example.test`, first_name: 'R', last_name: 'R', active: true },
    });
    expect(rejected.body.status).toBe('rejected');
    rejectedId = rejected.body.deliveryId as string;
    for (let i = 0; i < 5; i++) middle.push(await send(`middle-${i}`));
    for (let i = 0; i < 3; i++) recent.push(await send(`recent-${i}`));

    // Cursors: the first old change (to expire) and the last middle change (kept).
    const [oldSeqs, middleSeqs] = [await changesOf(old), await changesOf(middle)];
    expect(oldSeqs.length).toBeGreaterThanOrEqual(old.length);
    const page = await gqlData<{ changes: { edges: { cursor: string }[] } }>(server, CHANGES);
    const cursorAt = (seq: number) => page.changes.edges.find((e) => cursorSeq(e.cursor) === seq)?.cursor;
    expiredCursor = cursorAt(oldSeqs[0]!)!;
    keptCursor = cursorAt(middleSeqs[middleSeqs.length - 1]!)!;
    expect(expiredCursor && keptCursor).toBeTruthy();

    await age([...old, rejectedId], 10);
    await age(middle, 2);

    // A live subscriber, and webhooks arriving all through the round.
    const live = subscribe<{ memberChanged: { member: { externalId: string } } }>(
      server.url,
      server.adminKey,
      `subscription { memberChanged(tenantId: null) { member { externalId } } }`,
    );
    await expect.poll(() => server.server.app.ws.stats().subscriptions).toBe(1);
    const during: string[] = [];
    let pruning = true;
    const traffic = (async () => {
      for (let i = 0; pruning || i < 5; i++) during.push(await send(`during-${i}`));
    })();
    // The round starts once traffic is flowing, and traffic goes on until it ends.
    await expect.poll(() => during.length).toBeGreaterThanOrEqual(2);
    const report = await server.server.retention.runOnce().finally(() => (pruning = false));
    await traffic;

    expect(report.skipped).toBe(false);
    // The old changes (and only those) went, and the horizon is the last of them.
    expect(report.changesDeleted).toBe(oldSeqs.length + (await changesOf([rejectedId])).length);
    expect(await changesOf(old)).toEqual([]);
    expect(report.horizon).toBe(Math.max(...oldSeqs));
    expect((await changesOf(middle)).length).toBe(middleSeqs.length);
    // Old deliveries are gone with their keys; middle ones lost body and outcomes but kept keys.
    for (const id of old) {
      expect(await deliveryRow(id)).toBeUndefined();
      expect(await keysOf(id)).toBe(0);
    }
    for (const id of middle) {
      expect(await deliveryRow(id)).toMatchObject({ status: 'applied', has_body: false, has_outcomes: false });
      expect(await keysOf(id)).toBe(1);
    }
    expect(report.deliveriesDeleted).toBe(old.length);
    expect(report.deliveriesStripped).toBe(middle.length);
    // Recent and concurrent deliveries are whole; the rejected one is whole although it is old.
    for (const id of [...recent, ...during]) expect(await deliveryRow(id)).toMatchObject({ has_body: true, pruned_at: null });
    expect(await deliveryRow(rejectedId)).toMatchObject({ status: 'rejected', has_body: true, pruned_at: null });
    // Every member is still there, and the subscriber saw every change made during the round.
    const members = await query(server.database, sql`select count(*)::int as n from members where external_id like ${`member-test-${tag}-%`} and deleted_at is null`);
    expect(Number(members[0]!.n)).toBe(old.length + middle.length + recent.length + during.length);
    const seen = await live.waitFor(during.length);
    expect(seen.map((e) => e.memberChanged.member.externalId)).toEqual(during.map((_, i) => `member-test-${tag}-during-${i}`));
    await live.close();

    // The metrics say what the round did.
    expect(await scrapeValue('directory_retention_pruned_rows_total', 'table="changes"')).toBe(report.changesDeleted);
    expect(await scrapeValue('directory_retention_pruned_rows_total', 'table="deliveries"')).toBe(old.length);
    expect(await scrapeValue('directory_retention_pruned_rows_total', 'table="delivery_bodies"')).toBe(middle.length);
    expect(await scrapeValue('directory_retention_runs_total', 'outcome="completed"')).toBeGreaterThanOrEqual(1);
  });

  it('a late retry of a pruned delivery is still a duplicate, and GraphQL shows the delivery as pruned', async () => {
    const reply = await sendStytch(server, memberEvent('middle-0'), { id: `msg_${tag}_middle-0` });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({ status: 'duplicate', deliveryId: middle[0] });
    const listed = await gqlData<{ deliveries: { edges: { node: { body: unknown; outcomes: unknown; prunedAt: string | null; duplicates: number } }[] } }>(
      server,
      `{ deliveries(first: 50, filter: { source: "stytch" }) { edges { node { body outcomes prunedAt duplicates } } } }`,
    );
    const pruned = listed.deliveries.edges.filter((e) => e.node.prunedAt !== null);
    expect(pruned.length).toBe(middle.length);
    expect(pruned.every((e) => e.node.body === null && e.node.outcomes === null)).toBe(true);
    expect(pruned.some((e) => e.node.duplicates === 1)).toBe(true);
  });

  it('a cursor older than the kept feed is CURSOR_EXPIRED over HTTP and WebSocket; a kept one reads on', async () => {
    const expired = await gql(server, CHANGES, { after: expiredCursor });
    expect(expired.data).toBeNull();
    expect(expired.errors?.[0]?.extensions?.code).toBe('CURSOR_EXPIRED');
    expect(expired.errors?.[0]?.message).toMatch(/older than the feed keeps.*Reload/s);

    const kept = await gqlData<{ changes: { edges: unknown[] } }>(server, CHANGES, { after: keptCursor });
    expect(kept.changes.edges.length).toBeGreaterThan(0);

    const live = subscribe(server.url, server.adminKey, `subscription ($after: String) { memberChanged(after: $after) { cursor } }`, { after: expiredCursor });
    await live.done;
    expect(live.events).toEqual([]);
    expect(live.errors).toMatchObject([{ extensions: { code: 'CURSOR_EXPIRED' } }]);
    await live.close();

    const resumed = subscribe<{ memberChanged: { cursor: string } }>(server.url, server.adminKey, `subscription ($after: String) { memberChanged(after: $after) { cursor } }`, { after: keptCursor });
    // Replays what followed the kept cursor: the recent and concurrent members.
    expect((await resumed.waitFor(recent.length)).length).toBeGreaterThanOrEqual(recent.length);
    expect(resumed.errors).toEqual([]);
    await resumed.close();
  });

  it('a rejected delivery is kept until a replay reads it; then it ages like any other', async () => {
    // A newer reader reads `uid` as the id, as a fixed adapter version would.
    const polis = createPolisSource({ secrets: [server.polisSecret], toleranceSeconds: 300 });
    const fix = (e: unknown): unknown => {
      const item = e as { data?: { uid?: string } };
      return item?.data?.uid ? { ...item, data: { ...item.data, id: item.data.uid } } : e;
    };
    const fixed: SourceAdapter = { ...polis, parse: (payload, verified) => polis.parse(fix(payload), verified) };
    const again = await server.server.retention.runOnce();
    expect(again.deliveriesStripped + again.deliveriesDeleted).toBe(0);
    expect(await deliveryRow(rejectedId)).toMatchObject({ status: 'rejected', has_body: true });

    const report = await replayDeliveries(server.database.db, createDirectoryStore(server.database.db), [fixed], { deliveryId: rejectedId });
    expect(report.transitions).toEqual({ 'rejected -> applied': 1 });
    // Its change is new (recorded now), so the row stays for it while its body goes.
    await server.server.retention.runOnce();
    expect(await deliveryRow(rejectedId)).toMatchObject({ status: 'applied', has_body: false });
  });

  it("old reconciliation runs go with their deliveries, but each tenant's newest successful run stays", async () => {
    const run = async (tenant: string, status: string, days: number) =>
      String(
        (
          await query(
            server.database,
            sql`insert into reconcile_runs (source, tenant_external_id, product, status, trigger, started_at, finished_at)
                values ('polis', ${tenant}, 'portal', ${status}, 'cli', now() - make_interval(days => ${days}), now() - make_interval(days => ${days}))
                returning id::text as id`,
          )
        )[0]!.id,
      );
    const t = `runs-${tag}`;
    const oldest = await run(t, 'succeeded', 30);
    const newestOld = await run(t, 'succeeded', 20);
    const failed = await run(t, 'failed', 10);
    const recent = await run(t, 'failed', 0);
    const report = await server.server.retention.runOnce();
    expect(report.runsDeleted).toBe(2);
    const left = (await query(server.database, sql`select id::text as id from reconcile_runs where tenant_external_id = ${t}`)).map((r) => String(r.id));
    expect(left.sort()).toEqual([newestOld, recent].sort());
    expect(left).not.toContain(oldest);
    expect(left).not.toContain(failed);
    expect(await scrapeValue('directory_retention_pruned_rows_total', 'table="reconcile_runs"')).toBe(2);
  });

  it('a rejected delivery older than REJECTED_RETENTION_DAYS (90 by default) goes; a younger one stays', async () => {
    const rejected = async (tag: string) =>
      (await sendPolis(server, { event: 'user.created', tenant: `rejected-${tag}`, product: 'portal', directory_id: 'dir-r', data: { uid: `usr-${tag}` } })).body
        .deliveryId as string;
    const [ancient, recentOne] = [await rejected(`${tag}-old`), await rejected(`${tag}-new`)];
    await age([ancient], 100);
    await age([recentOne], 30);
    const report = await server.server.retention.runOnce();
    expect(report.rejectedDeleted).toBe(1);
    expect(await deliveryRow(ancient)).toBeUndefined();
    expect(await deliveryRow(recentOne)).toMatchObject({ status: 'rejected', has_body: true });
    expect(await scrapeValue('directory_retention_pruned_rows_total', 'table="rejected_deliveries"')).toBe(1);
  });
});
