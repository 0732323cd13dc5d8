// Replay: stored deliveries re-read by today's adapters and applied in place. A rejected
// delivery becomes applied once the reader can read it (the "fixed reader" is a test seam: the
// real Polis adapter with the payload corrected before it reads it, as a newer version of the
// adapter would); replay is idempotent, keeps the ordering guard, and feeds only real changes.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../src/db/open.js';
import { createDirectoryStore } from '../../src/directory/store.js';
import { replayDeliveries, type ReplayFilter } from '../../src/replay.js';
import { workosSample } from '../../src/samples/events.js';
import { createPolisSource } from '../../src/sources/polis/index.js';
import type { SourceAdapter } from '../../src/sources/types.js';
import { backend, onPostgres } from '../support/backend.js';
import { query } from '../support/db.js';
import { gql, sendPolis, sendWorkos, startTestServer, tenantKey, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const tenant = { tenant: 'replay', product: 'portal' };
/** A user whose id travels under `uid`: unreadable today (no id), readable by the fixed reader. */
const renamedUser = (id: string, email: string) => ({
  event: 'user.created',
  ...tenant,
  directory_id: 'dir-replay',
  data: { uid: id, email, first_name: 'R', last_name: id, active: true },
});

/** Today's Polis adapter, and one "fixed" to read `data.uid` as the id. */
const today = () => createPolisSource({ secrets: [server.polisSecret], toleranceSeconds: 300 });
function fixedReader(): SourceAdapter {
  const polis = today();
  const fix = (item: unknown): unknown => {
    const e = item as { data?: { uid?: string; id?: string } };
    return e?.data?.uid ? { ...e, data: { ...e.data, id: e.data.uid } } : item;
  };
  return { ...polis, parse: (payload, verified) => polis.parse(Array.isArray(payload) ? payload.map(fix) : fix(payload), verified) };
}

const feedRows = async (deliveryId: string) =>
  Number((await query(server.database, sql`select count(*)::int as n from changes where delivery_id = ${deliveryId}`))[0]!.n);
const member = async (externalId: string) =>
  (await query(server.database, sql`select email, deleted_at from members where external_id = ${externalId}`))[0];
const delivery = async (id: string) =>
  (await query(server.database, sql`select status, reason, event_types from deliveries where id = ${id}`))[0];

const replay = (sources: SourceAdapter[], filter: ReplayFilter) =>
  replayDeliveries(server.database.db, createDirectoryStore(server.database.db), sources, filter);

describe(`replay (${backend})`, () => {
  it('a rejected delivery is applied once the reader can read it, in place, then changes nothing on a second replay', async () => {
    const sent = await sendPolis(server, renamedUser('usr-replay-1', 'one@replay.example'));
    expect(sent.body).toMatchObject({ status: 'rejected', applied: 0 });
    const id = sent.body.deliveryId as string;

    // Today's reader still cannot read it: replay leaves it as it was.
    const unchanged = await replay([today()], { deliveryId: id });
    expect(unchanged).toMatchObject({ matched: 1, replayed: 1, applied: 0, stillRejected: 1, transitions: { 'rejected -> rejected': 1 } });
    expect(await member('usr-replay-1')).toBeUndefined();

    const fixed = await replay([fixedReader()], { status: 'rejected', source: 'polis' });
    expect(fixed.transitions['rejected -> applied']).toBeGreaterThanOrEqual(1);
    expect(await member('usr-replay-1')).toEqual({ email: 'one@replay.example', deleted_at: null });
    expect(await delivery(id)).toMatchObject({ status: 'applied', reason: null, event_types: ['user.created'] });
    const rows = await feedRows(id);
    expect(rows).toBeGreaterThan(0);

    // Again: the same versions meet the same state; nothing new reaches the feed.
    const again = await replay([fixedReader()], { deliveryId: id });
    expect(again).toMatchObject({ replayed: 1, applied: 0, transitions: { 'applied -> unchanged': 1 } });
    expect(await feedRows(id)).toBe(rows);
    // Still one delivery: replay never stores a new one.
    expect((await query(server.database, sql`select count(*)::int as n from deliveries where id = ${id}`))[0]!.n).toBe(1);
  });

  it('keeps the ordering guard: a replayed old event does not overwrite what a newer one set', async () => {
    const t = Date.now() - 60_000;
    const old = await sendPolis(server, renamedUser('usr-replay-2', 'old@replay.example'), t);
    expect(old.body.status).toBe('rejected');
    const newer = { ...renamedUser('usr-replay-2', 'new@replay.example'), data: { id: 'usr-replay-2', email: 'new@replay.example', active: true } };
    expect((await sendPolis(server, newer, t + 10_000)).body.status).toBe('applied');

    const report = await replay([fixedReader()], { deliveryId: old.body.deliveryId as string });
    expect(report.transitions).toEqual({ 'rejected -> stale': 1 });
    expect(await member('usr-replay-2')).toEqual({ email: 'new@replay.example', deleted_at: null });
    expect(await feedRows(old.body.deliveryId as string)).toBe(0);
  });

  it('a batch: its rejected item applied, the items applied before unchanged', async () => {
    const good = { ...renamedUser('usr-replay-3a', 'a@replay.example'), data: { id: 'usr-replay-3a', email: 'a@replay.example' } };
    const sent = await sendPolis(server, [good, renamedUser('usr-replay-3b', 'b@replay.example')]);
    expect(sent.body).toMatchObject({ status: 'rejected', rejected: 1 });
    const before = await feedRows(sent.body.deliveryId as string);
    await replay([fixedReader()], { deliveryId: sent.body.deliveryId as string });
    expect(await member('usr-replay-3b')).toEqual({ email: 'b@replay.example', deleted_at: null });
    expect(await delivery(sent.body.deliveryId as string)).toMatchObject({ status: 'applied' });
    // Only the newly read member (and its changes) were added to the feed.
    expect(await feedRows(sent.body.deliveryId as string)).toBeGreaterThan(before);
  });

  it('concurrent replays of the same deliveries, beside live traffic, apply each change once', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 10; i++) {
      const r = await sendPolis(server, renamedUser(`usr-replay-c${i}`, `c${i}@replay.example`));
      ids.push(r.body.deliveryId as string);
    }
    // On Postgres the second replayer has a connection pool of its own, as another instance would.
    const other = onPostgres ? await openDatabase({ databaseUrl: server.databaseUrl!, poolSize: 4 }) : server.database;
    try {
      const filter: ReplayFilter = { status: 'rejected', source: 'polis' };
      const live = Array.from({ length: 10 }, (_, i) =>
        sendPolis(server, { event: 'user.created', ...tenant, directory_id: 'dir-replay', data: { id: `usr-replay-live${i}`, email: `l${i}@replay.example` } }),
      );
      const [a, b] = await Promise.all([
        replay([fixedReader()], filter),
        replayDeliveries(other.db, createDirectoryStore(other.db), [fixedReader()], filter),
        ...live,
      ]);
      expect((a as { replayed: number }).replayed + (b as { replayed: number }).replayed).toBeGreaterThanOrEqual(10);
    } finally {
      if (other !== server.database) await other.close();
    }
    for (const [i, id] of ids.entries()) {
      expect(await member(`usr-replay-c${i}`)).toEqual({ email: `c${i}@replay.example`, deleted_at: null });
      expect(await delivery(id)).toMatchObject({ status: expect.stringMatching(/^(applied|unchanged)$/) });
      // Exactly one CREATED for the member, whichever replayer got there first.
      const created = await query(
        server.database,
        sql`select count(*)::int as n from changes c join members m on m.id = c.entity_id where m.external_id = ${`usr-replay-c${i}`} and c.action = 'CREATED'`,
      );
      expect(created[0]!.n).toBe(1);
    }
  });
});

describe(`the replayDeliveries mutation (${backend})`, () => {
  const REPLAY = `mutation ($id: ID, $filter: ReplayFilter, $dryRun: Boolean) {
    replayDeliveries(id: $id, filter: $filter, dryRun: $dryRun) { matched replayed applied stillRejected transitions { from to count } } }`;

  it('replays for an admin over HTTP: a dry run first, then for real; one delivery by its id', async () => {
    const sent = await sendPolis(server, renamedUser('usr-replay-m1', 'm1@replay.example'));
    const deliveryId = sent.body.deliveryId as string;
    // The newest rejected delivery is the one just sent; its global id is what clients have.
    const listed = await gql(server, `{ deliveries(first: 1, filter: { status: "rejected" }) { edges { node { id } } } }`);
    const globalId = (listed.data!.deliveries as { edges: { node: { id: string } }[] }).edges[0]!.node.id;
    expect(Buffer.from(globalId, 'base64url').toString()).toBe(`Delivery:${deliveryId}`);

    const dry = await gql(server, REPLAY, { id: globalId, dryRun: true });
    expect(dry.errors).toBeUndefined();
    expect(dry.data!.replayDeliveries).toEqual({ matched: 1, replayed: 0, applied: 0, stillRejected: 1, transitions: [{ from: 'rejected', to: 'rejected', count: 1 }] });

    const real = await gql(server, REPLAY, { filter: { status: 'rejected', source: 'polis' } });
    expect(real.errors).toBeUndefined();
    const report = real.data!.replayDeliveries as { replayed: number; transitions: { from: string; to: string }[] };
    expect(report.replayed).toBeGreaterThanOrEqual(1);
    expect(report.transitions.every((t) => t.from === 'rejected' && t.to === 'rejected')).toBe(true);
    expect(await delivery(deliveryId)).toMatchObject({ status: 'rejected' });
  });

  it('is admin only, and says what is wrong with its arguments', async () => {
    const [row] = await query(server.database, sql`select id from tenants limit 1`);
    const key = await tenantKey(server, String(row!.id), 'replay tenant key');
    const forbidden = await gql(server, REPLAY, {}, key);
    expect(forbidden.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    expect(forbidden.errors?.[0]?.message).toMatch(/admin API key/);
    const badId = await gql(server, REPLAY, { id: 'not-an-id' });
    expect(badId.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: 'id is not a Delivery id' });
    const badStatus = await gql(server, REPLAY, { filter: { status: 'lost' } });
    expect(badStatus.errors?.[0]?.message).toMatch(/filter\.status must be one of rejected/);
    const badSource = await gql(server, REPLAY, { filter: { source: 'okta' } });
    expect(badSource.errors?.[0]).toMatchObject({ extensions: { code: 'BAD_USER_INPUT' }, message: 'filter.source must be polis, stytch or workos' });
  });

  it('takes every source the service accepts webhooks from, WorkOS too', async () => {
    const sent = await sendWorkos(server, workosSample('dsync.user.created')!);
    expect(sent.status).toBe(200);
    const dry = await gql(server, REPLAY, { filter: { status: 'all', source: 'workos' }, dryRun: true });
    expect(dry.errors).toBeUndefined();
    const report = dry.data!.replayDeliveries as { matched: number; replayed: number };
    expect(report.matched).toBeGreaterThanOrEqual(1);
    expect(report.replayed).toBe(0);
    const real = await gql(server, REPLAY, { filter: { status: 'all', source: 'workos' } });
    expect(real.errors).toBeUndefined();
    expect((real.data!.replayDeliveries as { replayed: number }).replayed).toBe(report.matched);
  });
});
