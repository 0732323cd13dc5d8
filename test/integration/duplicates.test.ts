// Retries and replays apply once: one delivery row, one feed row, every repeat acknowledged.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { count, query } from '../support/db.js';
import { stytchSeed, uniquify } from '../support/fixtures.js';
import { polisRequest, post, startTestServer, stytchRequest, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const memberCreated = () =>
  uniquify(stytchSeed.find((f) => f.title === 'Member created via SCIM')!.event) as { id: string };
const userCreated = (id: string) => ({
  event: 'user.created',
  tenant: 'initech',
  product: 'portal',
  directory_id: 'dir-initech',
  data: { id, email: `${id}@initech.example`, first_name: 'Peter', last_name: 'Gibbons', active: true },
});

async function feedRowsFor(externalId: string, table: 'members'): Promise<number> {
  const [row] = await query(
    server.database,
    sql`select count(*)::int as n from changes c join ${sql.identifier(table)} m on m.id = c.entity_id where m.external_id = ${externalId}`,
  );
  return Number(row!.n);
}

/** A Polis delivery signed `secondsLater` after now (Polis orders its events by the signing time). */
const signedPolis = (payload: unknown, secondsLater: number): [string, Record<string, string>] => {
  const request = polisRequest(server.polisSecret, payload, Date.now() + secondsLater * 1000);
  return [request.body, request.headers];
};

async function deliveryOf(id: unknown) {
  const [row] = await query(server.database, sql`select * from deliveries where id = ${id as string}`);
  return row!;
}

describe(`duplicate deliveries (${backend})`, () => {
  it('the same svix-id twice: applied once, the repeat acknowledged and counted', async () => {
    const event = memberCreated();
    const request = stytchRequest(server.stytchSecret, event);
    const first = await post(`${server.url}/webhooks/stytch`, request.body, request.headers);
    const second = await post(`${server.url}/webhooks/stytch`, request.body, request.headers);
    expect(first).toMatchObject({ status: 200, body: { status: 'applied', applied: 1 } });
    expect(second).toMatchObject({ status: 200, body: { status: 'duplicate', applied: 0 } });
    expect(second.body.deliveryId).toBe(first.body.deliveryId);
    expect(await feedRowsFor(event.id, 'members')).toBe(1);
    expect((await deliveryOf(first.body.deliveryId)).duplicates).toBe(1);
  });

  it('the same svix-id ten times at once: one applies, nine are duplicates', async () => {
    const event = memberCreated();
    const request = stytchRequest(server.stytchSecret, event);
    const deliveriesBefore = await count(server.database, 'deliveries');
    const replies = await Promise.all(
      Array.from({ length: 10 }, () => post(`${server.url}/webhooks/stytch`, request.body, request.headers)),
    );
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(replies.filter((r) => r.body.status === 'applied')).toHaveLength(1);
    expect(replies.filter((r) => r.body.status === 'duplicate')).toHaveLength(9);
    expect((await count(server.database, 'deliveries')) - deliveriesBefore).toBe(1);
    expect(await feedRowsFor(event.id, 'members')).toBe(1);
  });

  it('the same svix-id under the unbranded webhook-* header names is still a duplicate', async () => {
    const request = stytchRequest(server.stytchSecret, memberCreated());
    const first = await post(`${server.url}/webhooks/stytch`, request.body, request.headers);
    const unbranded: Record<string, string> = {};
    for (const [k, v] of Object.entries(request.headers)) unbranded[k.replace(/^svix-/, 'webhook-')] = v;
    const second = await post(`${server.url}/webhooks/stytch`, request.body, unbranded);
    expect(first.body.status).toBe('applied');
    expect(second.body).toMatchObject({ status: 'duplicate', deliveryId: first.body.deliveryId });
  });

  it('the same event under a new svix-id is a new delivery that changes nothing', async () => {
    const event = memberCreated();
    const first = await post(`${server.url}/webhooks/stytch`, ...args(stytchRequest(server.stytchSecret, event)));
    const resent = await post(`${server.url}/webhooks/stytch`, ...args(stytchRequest(server.stytchSecret, event)));
    expect(first.body.status).toBe('applied');
    expect(resent.body.status).toBe('unchanged');
    expect(resent.body.deliveryId).not.toBe(first.body.deliveryId);
    expect(await feedRowsFor(event.id, 'members')).toBe(1);
  });

  it('a Polis retry (same headers, same body) applies once', async () => {
    const request = polisRequest(server.polisSecret, userCreated('usr-retry'));
    const first = await post(`${server.url}/webhooks/polis`, request.body, request.headers);
    const retry = await post(`${server.url}/webhooks/polis`, request.body, request.headers);
    expect(first.body.status).toBe('applied');
    expect(retry.body).toMatchObject({ status: 'duplicate', deliveryId: first.body.deliveryId });
    expect(await feedRowsFor('usr-retry', 'members')).toBe(1);
  });

  it('a Polis replay that drops one of its two signature headers is still a duplicate', async () => {
    const request = polisRequest(server.polisSecret, userCreated('usr-replay'));
    const first = await post(`${server.url}/webhooks/polis`, request.body, request.headers);
    const { 'BoxyHQ-Signature': _boxy, ...onlyOry } = request.headers;
    const { 'Ory-Polis-Signature': _ory, ...onlyBoxy } = request.headers;
    const replayOry = await post(`${server.url}/webhooks/polis`, request.body, onlyOry);
    const replayBoxy = await post(`${server.url}/webhooks/polis`, request.body, onlyBoxy);
    expect(first.body.status).toBe('applied');
    expect(replayOry.body).toMatchObject({ status: 'duplicate', deliveryId: first.body.deliveryId });
    expect(replayBoxy.body).toMatchObject({ status: 'duplicate', deliveryId: first.body.deliveryId });
  });

  it("a Polis replay that moves a header's value under the other name is a duplicate and moves no version", async () => {
    const t = Date.now();
    const request = polisRequest(server.polisSecret, userCreated('usr-moved'), t);
    const first = await post(`${server.url}/webhooks/polis`, request.body, request.headers);
    const later = request.headers['BoxyHQ-Signature']!; // signed at t + 1
    const replays: Record<string, string>[] = [
      { 'content-type': 'application/json', 'Ory-Polis-Signature': later },
      { 'content-type': 'application/json', 'Ory-Polis-Signature': later, 'BoxyHQ-Signature': later },
      { 'content-type': 'application/json', 'Ory-Signature': request.headers['Ory-Polis-Signature']! },
      { 'content-type': 'application/json', 'BoxyHQ-Signature': request.headers['Ory-Polis-Signature']!, 'Ory-Polis-Signature': later },
    ];
    const before = await count(server.database, 'deliveries');
    for (const headers of replays) {
      const replay = await post(`${server.url}/webhooks/polis`, request.body, headers);
      expect(replay.body).toMatchObject({ status: 'duplicate', deliveryId: first.body.deliveryId });
    }
    expect(await count(server.database, 'deliveries')).toBe(before);
    const [member] = await query(server.database, sql`select live_version from members where external_id = 'usr-moved'`);
    expect(member!.live_version).toBe(`${(BigInt(t) * 1_000_000n).toString().padStart(20, '0')}.000000`);
  });

  it('the same Polis body one millisecond later is a new delivery, though its headers overlap the first', async () => {
    // Polis signs its two headers separately: (t, t+1), then (t+1, t+2) for the next send.
    const body = userCreated('usr-overlap');
    const t = Date.now();
    const first = await post(`${server.url}/webhooks/polis`, ...args(polisRequest(server.polisSecret, body, t)));
    const next = await post(`${server.url}/webhooks/polis`, ...args(polisRequest(server.polisSecret, body, t + 1)));
    expect(first.body.status).toBe('applied');
    expect(next.body.status).toBe('unchanged');
    expect(next.body.deliveryId).not.toBe(first.body.deliveryId);
    const [member] = await query(server.database, sql`select live_version from members where external_id = 'usr-overlap'`);
    expect(member!.live_version).toBe(`${(BigInt(t + 1) * 1_000_000n).toString().padStart(20, '0')}.000000`);
  });

  it('the same Polis body signed at another time is a new delivery (sso.deactivated twice is real)', async () => {
    const body = userCreated('usr-twice');
    const t = Date.now();
    const first = await post(`${server.url}/webhooks/polis`, ...args(polisRequest(server.polisSecret, body, t)));
    const later = await post(`${server.url}/webhooks/polis`, ...args(polisRequest(server.polisSecret, body, t + 5000)));
    expect(first.body.status).toBe('applied');
    expect(later.body.status).toBe('unchanged');
    expect(later.body.deliveryId).not.toBe(first.body.deliveryId);
  });

  it('the same data again in a newer event changes nothing a reader sees, not even updatedAt; a real change moves it', async () => {
    const id = `usr-same-${Date.now().toString(36)}`;
    const first = await post(`${server.url}/webhooks/polis`, ...signedPolis(userCreated(id), 1));
    expect(first.body.status).toBe('applied');
    const stamp = async () => (await query(server.database, sql`select updated_at, live_version, data_version from members where external_id = ${id}`))[0]!;
    const before = await stamp();
    // A later event with the same user: newer versions, the same data.
    const again = await post(`${server.url}/webhooks/polis`, ...signedPolis({ ...userCreated(id), event: 'user.updated' }, 5));
    expect(again.body.status).toBe('unchanged');
    const after = await stamp();
    expect(after.live_version).not.toBe(before.live_version);
    expect(after.updated_at).toEqual(before.updated_at);
    expect(await feedRowsFor(id, 'members')).toBe(1);
    // A real change moves it.
    const renamed = await post(`${server.url}/webhooks/polis`, ...signedPolis({ ...userCreated(id), event: 'user.updated', data: { ...userCreated(id).data, first_name: 'Pete' } }, 9));
    expect(renamed.body.status).toBe('applied');
    expect((await stamp()).updated_at).not.toEqual(before.updated_at);
  });
});

function args(r: { body: string; headers: Record<string, string> }): [string, Record<string, string>] {
  return [r.body, r.headers];
}
