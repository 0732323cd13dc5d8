// One sender cannot grow storage without bound by sending what cannot be read: each sender and
// tenant keeps at most REJECTED_MAX_PER_SENDER rejected deliveries. Past it, a delivery with an
// unreadable event is not acknowledged (503, nothing stored, so the sender still holds it and retries),
// while a repeat of a stored one is still a duplicate, readable deliveries of the same tenant
// are taken, and other tenants and senders keep their own allowance.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { query } from '../support/db.js';
import { stytchEvent } from '../support/directory.js';
import { polisRequest, post, sendStytch, startTestServer, type TestServer } from '../support/server.js';

const BOUND = 3;
const logs: string[] = [];
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ env: { REJECTED_MAX_PER_SENDER: String(BOUND), METRICS_PORT: '0', LOG_LEVEL: 'info' }, logs });
});
afterAll(() => server?.close());

const tag = randomBytes(4).toString('hex');

/** A Polis batch whose items carry no data.id: each is rejected, the whole kept. */
const unreadable = (tenant: string, n: number) =>
  Array.from({ length: 3 }, (_, i) => ({ event: 'user.created', tenant, product: 'portal', directory_id: `dir-${tenant}`, data: { email: `x${n}.${i}@bound.example` } }));
const readable = (tenant: string, id: string) => ({
  event: 'user.created',
  tenant,
  product: 'portal',
  directory_id: `dir-${tenant}`,
  data: { id, email: `${id}@bound.example`, first_name: 'Bound', last_name: 'Reader', active: true },
});

const sendPolis = (payload: unknown) => {
  const signed = polisRequest(server.polisSecret, payload);
  return { signed, reply: post(`${server.url}/webhooks/polis`, signed.body, signed.headers) };
};

const kept = async (tenant: string) =>
  (await query(server.database, sql`select count(*)::int as n from deliveries where status = 'rejected' and sender = ${`polis:${tenant}/portal`}`))[0]!.n;

const members = async (externalId: string) => (await query(server.database, sql`select count(*)::int as n from members where external_id = ${externalId}`))[0]!.n;

describe(`rejected deliveries bounded per sender and tenant (${backend})`, () => {
  const tenantA = `bound-a-${tag}`;
  const tenantB = `bound-b-${tag}`;
  let first: ReturnType<typeof sendPolis>['signed'];
  let firstId = '';

  it(`keeps ${BOUND} rejected deliveries of one tenant, each answered 200 "rejected"`, async () => {
    for (let n = 0; n < BOUND; n++) {
      const { signed, reply } = sendPolis(unreadable(tenantA, n));
      if (n === 0) first = signed;
      const answer = await reply;
      expect(answer.status).toBe(200);
      expect(answer.body.status).toBe('rejected');
      if (n === 0) firstId = answer.body.deliveryId as string;
    }
    expect(await kept(tenantA)).toBe(BOUND);
  });

  it('past the bound, an unreadable delivery is not acknowledged and nothing of it is stored', async () => {
    const before = (await query(server.database, sql`select count(*)::int as n from deliveries`))[0]!.n;
    const good = `usr-mixed-${tag}`;
    for (const payload of [unreadable(tenantA, 99), [readable(tenantA, good), ...unreadable(tenantA, 100)]]) {
      const signed = polisRequest(server.polisSecret, payload);
      const response = await fetch(`${server.url}/webhooks/polis`, { method: 'POST', headers: signed.headers, body: signed.body });
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('3600');
      expect(((await response.json()) as { error: string }).error).toMatch(/3 rejected deliveries are kept for this sender already \(REJECTED_MAX_PER_SENDER\)/);
    }
    // The mixed batch is all or nothing: its readable user waits with it at the sender.
    expect(await members(good)).toBe(0);
    expect((await query(server.database, sql`select count(*)::int as n from deliveries`))[0]!.n).toBe(before);
    expect(await kept(tenantA)).toBe(BOUND);
    expect(logs.some((l) => l.includes('its sender keeps too many rejected deliveries'))).toBe(true);
  });

  it("a repeat of a kept one is still a duplicate, and the tenant's readable deliveries are taken", async () => {
    const again = await post(`${server.url}/webhooks/polis`, first.body, first.headers);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('duplicate');

    const id = `usr-readable-${tag}`;
    const { reply } = sendPolis([readable(tenantA, id)]);
    const answer = await reply;
    expect(answer.status).toBe(200);
    expect(answer.body.status).toBe('applied');
    expect(await members(id)).toBe(1);
  });

  it('another tenant and another provider keep their own allowance', async () => {
    const { reply } = sendPolis(unreadable(tenantB, 0));
    expect((await reply).body.status).toBe('rejected');
    expect(await kept(tenantB)).toBe(1);

    // A Stytch event without a timestamp is rejected, for the organization its member names.
    const organization = `organization-test-bound-${tag}`;
    const member = `member-test-bound-${tag}`;
    const event = stytchEvent('member', 'CREATE', member, { member_id: member, organization_id: organization, email_address: `s.${tag}@bound.example`, status: 'active' });
    delete event.timestamp;
    const stytch = await sendStytch(server, event);
    expect(stytch.status).toBe(200);
    expect(stytch.body.status).toBe('rejected');
    const [row] = await query(server.database, sql`select sender from deliveries where id = ${stytch.body.deliveryId as string}::uuid`);
    expect(row!.sender).toBe(`stytch:${organization}`);
  });

  it('the kept count is a metric, and room made (a replay or retention) lets the sender in again', async () => {
    const scrape = await (await fetch(server.server.metricsUrl!)).text();
    const line = scrape.split('\n').find((l) => l.startsWith('directory_webhook_rejected_deliveries{source="polis"}'));
    expect(Number(line?.split(' ')[1])).toBe(BOUND + 1);

    // What retention does to an old rejected delivery.
    await query(server.database, sql`delete from deliveries where id = ${firstId}::uuid`);
    const { reply } = sendPolis(unreadable(tenantA, 200));
    expect((await reply).status).toBe(200);
    expect(await kept(tenantA)).toBe(BOUND);
  });
});
