// The per-process reader of the change feed: under concurrent webhooks it hands on every row
// exactly once, in sequence order, woken by notifications alone (no backstop poll).
import { sql } from 'drizzle-orm';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { followFeed, type FeedFollower, type FeedRow } from '../../src/live/follower.js';
import { backend } from '../support/backend.js';
import { query } from '../support/db.js';
import { sendAll, stytchEvent } from '../support/directory.js';
import { eventually } from '../support/live.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe(`feed follower (${backend})`, () => {
  let server: TestServer;
  let follower: FeedFollower;
  const seen: FeedRow[] = [];

  beforeAll(async () => {
    server = await startTestServer();
    follower = await followFeed(server.database, { pollIntervalMs: 0 });
    follower.follow((rows) => seen.push(...rows));
  });
  afterAll(async () => {
    await follower?.stop();
    await server?.close();
  });

  it('starts at the end of the feed and hands on every later row once, in order', async () => {
    const start = follower.position;
    const [end] = await query(server.database, sql`select coalesce(max(seq), 0)::int as seq from changes`);
    expect(start).toBe(end!.seq);

    const tag = randomBytes(3).toString('hex');
    const events = Array.from({ length: 120 }, (_, i) =>
      stytchEvent('member', 'CREATE', `member-follow-${tag}-${i}`, {
        member_id: `member-follow-${tag}-${i}`,
        organization_id: `organization-follow-${tag}-${i % 4}`,
        email_address: `f${i}.${tag}@example.test`,
        status: 'active',
      }),
    );
    await sendAll(server, events, 12);

    const stored = await query(server.database, sql`select seq::int as seq from changes where seq > ${start} order by seq`);
    const expected = stored.map((r) => Number(r.seq));
    // Each member event also creates its organization's placeholder at first sight.
    expect(expected.length).toBeGreaterThanOrEqual(120);
    await eventually(() => seen.length >= expected.length, 15_000, 'the follower to read every row');
    expect(seen.map((r) => r.seq)).toEqual(expected);
    expect(follower.position).toBe(expected[expected.length - 1]);
  });

  it('a listener added later receives exactly the rows after the position it was given', async () => {
    const later: FeedRow[] = [];
    const { position, stop } = follower.follow((rows) => later.push(...rows));
    const tag = randomBytes(3).toString('hex');
    await sendAll(server, [
      stytchEvent('member', 'CREATE', `member-late-${tag}`, {
        member_id: `member-late-${tag}`,
        organization_id: `organization-late-${tag}`,
        email_address: `late.${tag}@example.test`,
        status: 'active',
      }),
    ]);
    const stored = await query(server.database, sql`select seq::int as seq from changes where seq > ${position} order by seq`);
    await eventually(() => later.length >= stored.length, 15_000, 'the late listener to catch up');
    expect(later.map((r) => r.seq)).toEqual(stored.map((r) => Number(r.seq)));
    stop();
  });
});
