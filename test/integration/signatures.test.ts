// Secret rotation and every header form the providers use; the feed's NOTIFY; events that are
// only recorded.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FEED_CHANNEL } from '../../src/directory/feed.js';
import { backend } from '../support/backend.js';
import { query } from '../support/db.js';
import { eventually } from '../support/live.js';
import { polisRequest, post, startTestServer, stytchRequest, type TestServer } from '../support/server.js';
import { newPolisSecret, newStytchSecret, polisHeaderValue } from '../support/sign.js';

const polisOld = newPolisSecret();
const polisNew = newPolisSecret();
const stytchOld = newStytchSecret();
const stytchNew = newStytchSecret();
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({
    env: {
      // Polis's own variable name and ours, merged; Svix secrets separated by a space.
      POLIS_WEBHOOK_SECRET: polisOld,
      WEBHOOK_SECRET: polisNew,
      STYTCH_WEBHOOK_SECRET: `${stytchOld} ${stytchNew}`,
    },
  });
});
afterAll(() => server?.close());

const member = (id: string) => ({
  action: 'CREATE',
  id,
  object_type: 'member',
  source: 'DIRECT',
  timestamp: new Date().toISOString(),
  vertical: 'B2B',
  member: { member_id: id, organization_id: 'org-sig', email_address: `${id}@sig.example`, status: 'active' },
});
const user = (id: string) => ({
  event: 'user.created',
  tenant: 'sig',
  product: 'p',
  directory_id: 'dir-sig',
  data: { id, email: `${id}@sig.example`, active: true },
});

describe(`signatures (${backend})`, () => {
  it('accepts Stytch deliveries signed with any configured secret (rotation)', async () => {
    for (const [n, secret] of [stytchOld, stytchNew].entries()) {
      const r = stytchRequest(secret, member(`member-rot-${n}`));
      expect((await post(`${server.url}/webhooks/stytch`, r.body, r.headers)).body.status).toBe('applied');
    }
  });

  it('accepts a Svix header holding several signatures when one matches', async () => {
    // One message, signed with an unknown key and the new one, as during a rotation.
    const at = new Date();
    const payload = member('member-multi');
    const old = stytchRequest(newStytchSecret(), payload, { at });
    const fresh = stytchRequest(stytchNew, payload, { id: old.id, at });
    expect(fresh.body).toBe(old.body);
    const headers = { ...old.headers, 'svix-signature': `${old.headers['svix-signature']} ${fresh.headers['svix-signature']}` };
    expect((await post(`${server.url}/webhooks/stytch`, old.body, headers)).body.status).toBe('applied');
  });

  it('accepts Polis deliveries signed with any configured secret, under each header name', async () => {
    let n = 0;
    for (const secret of [polisOld, polisNew]) {
      for (const name of ['BoxyHQ-Signature', 'Ory-Polis-Signature', 'Ory-Signature']) {
        const body = JSON.stringify(user(`usr-rot-${n++}`));
        const headers = { 'content-type': 'application/json', [name]: polisHeaderValue(secret, Date.now(), body) };
        const reply = await post(`${server.url}/webhooks/polis`, body, headers);
        expect(reply.body.status, `${name}`).toBe('applied');
      }
    }
  });

  it('accepts a Polis request whose first header is stale if another is valid', async () => {
    const r = polisRequest(polisNew, user('usr-mixed'));
    r.headers['BoxyHQ-Signature'] = polisHeaderValue(polisNew, Date.now() - 3_600_000, r.body);
    expect((await post(`${server.url}/webhooks/polis`, r.body, r.headers)).body.status).toBe('applied');
  });

  it('notifies the feed channel with the highest seq of each committed delivery', async () => {
    const payloads: string[] = [];
    const unlisten = await server.database.listen(FEED_CHANNEL, (p) => payloads.push(p));
    try {
      const r = polisRequest(polisNew, [user('usr-notify-1'), user('usr-notify-2')]);
      const reply = await post(`${server.url}/webhooks/polis`, r.body, r.headers);
      expect(reply.body.applied).toBe(2);
      const rows = await query(
        server.database,
        sql`select max(seq)::int as seq from changes where delivery_id = ${reply.body.deliveryId as string}`,
      );
      await eventually(() => payloads.length > 0, 5000, 'the notification');
      expect(payloads).toEqual([String(rows[0]!.seq)]);

      // Nothing applied, nothing announced: a later delivery's notification, which Postgres
      // sends in commit order, is the next one to arrive.
      const again = polisRequest(polisNew, [user('usr-notify-1')]);
      expect((await post(`${server.url}/webhooks/polis`, again.body, again.headers)).body.status).toBe('unchanged');
      const fence = polisRequest(polisNew, [user('usr-notify-3')]);
      const fenced = await post(`${server.url}/webhooks/polis`, fence.body, fence.headers);
      expect(fenced.body.applied).toBe(1);
      const [fenceRow] = await query(
        server.database,
        sql`select max(seq)::int as seq from changes where delivery_id = ${fenced.body.deliveryId as string}`,
      );
      await eventually(() => payloads.length > 1, 5000, 'the fence\'s notification');
      expect(payloads).toEqual([String(rows[0]!.seq), String(fenceRow!.seq)]);
    } finally {
      await unlisten();
    }
  });

  it('records well-signed events it does not hold, with their body and the reason', async () => {
    const consumer = stytchRequest(stytchNew, {
      action: 'CREATE',
      id: 'user-test-1',
      object_type: 'user',
      source: 'DIRECT',
      timestamp: new Date().toISOString(),
      vertical: 'CONSUMER',
      user: { user_id: 'user-test-1' },
    });
    const reply = await post(`${server.url}/webhooks/stytch`, consumer.body, consumer.headers);
    expect(reply).toMatchObject({ status: 200, body: { status: 'ignored', applied: 0 } });
    const [delivery] = await query(server.database, sql`select * from deliveries where id = ${reply.body.deliveryId as string}`);
    expect(delivery).toMatchObject({ status: 'ignored', event_types: ['direct.user.create'] });
    expect(delivery!.reason).toMatch(/CONSUMER vertical/);
    expect(delivery!.body).toMatchObject({ user: { user_id: 'user-test-1' } });

    const future = polisRequest(polisNew, { event: 'sso.updated', tenant: 't', product: 'p', data: {} });
    const polisReply = await post(`${server.url}/webhooks/polis`, future.body, future.headers);
    expect(polisReply.body.status).toBe('ignored');
  });
});
