// 200 deliveries at once, contending for the same new tenants, the same member and the same
// placeholder parents: all acknowledged, and the feed holds exactly one row per applied change.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { count, query } from '../support/db.js';
import { sendPolis, sendStytch, startTestServer, type Reply, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const iso = (ms: number) => new Date(ms).toISOString();

function deliveries(): Array<() => Promise<Reply>> {
  const base = Date.now() - 120_000;
  const sends: Array<() => Promise<Reply>> = [];
  // 80 Stytch members across 4 organizations that do not exist yet.
  for (let i = 0; i < 80; i++) {
    sends.push(() =>
      sendStytch(server, {
        action: 'CREATE',
        id: `member-c${i}`,
        object_type: 'member',
        source: 'SCIM',
        timestamp: iso(base + i),
        vertical: 'B2B',
        member: { member_id: `member-c${i}`, organization_id: `org-c${i % 4}`, email_address: `m${i}@c.example`, status: 'active' },
      }),
    );
  }
  // 60 Polis users in 3 tenants that do not exist yet, some in a batch.
  for (let i = 0; i < 60; i++) {
    const event = {
      event: 'user.created',
      tenant: `tenant-c${i % 3}`,
      product: 'p',
      directory_id: `dir-c${i % 3}`,
      data: { id: `usr-c${i}`, email: `u${i}@c.example`, first_name: 'U', last_name: String(i), active: true },
    };
    sends.push(() => sendPolis(server, i % 10 === 0 ? [event, { ...event, event: 'user.updated' }] : event, base + i));
  }
  // 40 updates racing on one member, each newer than the last.
  for (let i = 0; i < 40; i++) {
    sends.push(() =>
      sendStytch(server, {
        action: 'UPDATE',
        id: 'member-hot',
        object_type: 'member',
        source: 'DIRECT',
        timestamp: iso(base + 1000 + i),
        vertical: 'B2B',
        member: { member_id: 'member-hot', organization_id: 'org-c0', email_address: `v${i}@c.example`, status: 'active' },
      }),
    );
  }
  // 20 memberships whose group and member arrive only as references.
  for (let i = 0; i < 20; i++) {
    sends.push(() =>
      sendStytch(server, {
        action: 'CREATE',
        id: `mg-c${i}`,
        object_type: 'scim_member_group',
        source: 'SCIM',
        timestamp: iso(base + i),
        vertical: 'B2B',
        scim_group_membership: { group_id: `grp-c${i % 2}`, member_id: `member-c${i}`, organization_id: 'org-c0' },
      }),
    );
  }
  return sends;
}

describe(`200 deliveries at once (${backend})`, () => {
  it('all are acknowledged and the feed holds one row per applied change', async () => {
    const sends = deliveries();
    expect(sends).toHaveLength(200);

    // A reader that remembers the last seq it saw, polling while the deliveries commit, must
    // never find a row below it later: seq order is commit order.
    let last = 0;
    let polling = true;
    const seen: number[] = [];
    const skipped: number[] = [];
    const reader = (async () => {
      while (polling) {
        const rows = await query(server.database, sql`select seq from changes where seq > ${last} order by seq`);
        for (const r of rows) seen.push(Number(r.seq));
        if (rows.length > 0) last = Number(rows.at(-1)!.seq);
        await new Promise((r) => setTimeout(r, 1));
      }
    })();
    const replies = await Promise.all(sends.map((send) => send()));
    polling = false;
    await reader;
    const all = await query(server.database, sql`select seq from changes order by seq`);
    for (const r of all) if (Number(r.seq) <= last && !seen.includes(Number(r.seq))) skipped.push(Number(r.seq));
    expect(skipped, 'rows committed below a seq the reader had already passed').toEqual([]);
    expect(seen.length).toBeGreaterThan(0);

    const failures = replies.filter((r) => r.status !== 200);
    expect(failures, JSON.stringify(failures.slice(0, 3))).toEqual([]);
    expect(await count(server.database, 'deliveries')).toBe(200);

    // Each delivery's feed rows are exactly what it reported as applied.
    const perDelivery = await query(
      server.database,
      sql`select delivery_id, count(*)::int as n from changes group by delivery_id`,
    );
    const feedCount = new Map(perDelivery.map((r) => [String(r.delivery_id), Number(r.n)]));
    for (const reply of replies) {
      expect(feedCount.get(String(reply.body.deliveryId)) ?? 0).toBe(reply.body.applied);
    }
    const appliedTotal = replies.reduce((sum, r) => sum + Number(r.body.applied), 0);
    expect(await count(server.database, 'changes')).toBe(appliedTotal);

    // The expected rows, each created once however many deliveries raced for it.
    const created = await query(
      server.database,
      sql`select entity, count(*)::int as n from changes where action = 'CREATED' group by entity order by entity`,
    );
    expect(Object.fromEntries(created.map((r) => [r.entity, r.n]))).toEqual({
      MEMBER: 80 + 60 + 1, // Stytch members, Polis users, and member-hot's first update
      MEMBERSHIP: 20,
      TENANT: 3, // Polis tenants are fully described by their events; Stytch orgs are placeholders
    });
    const [tenants] = await query(server.database, sql`select count(*)::int as n from tenants`);
    expect(tenants!.n).toBe(3 + 4);
    // Two groups known only as references: placeholders, created once each.
    const [groups] = await query(server.database, sql`select count(*)::int as n from groups where data_hash is null`);
    expect(groups!.n).toBe(2);

    // The member everyone raced for ends with the newest update.
    const [hot] = await query(server.database, sql`select email from members where external_id = 'member-hot'`);
    expect(hot!.email).toBe('v39@c.example');

    // Sequence numbers are unique and the feed has no duplicates of a change.
    const [dupes] = await query(
      server.database,
      sql`select count(*)::int as n from (select delivery_id, entity_id, action from changes group by 1, 2, 3 having count(*) > 1) d`,
    );
    expect(dupes!.n).toBe(0);
  });
});
