// Subscriptions across real service processes and real failures: a change reaches subscribers
// of every instance whichever instance took the webhook, each subscriber gets every change
// exactly once in feed order under concurrent load, a cursor from one instance resumes on
// another, and a subscriber misses nothing when its instance's LISTEN connection drops.
// (Postgres itself stopped and started under open WebSockets: database-outage.test.ts.)
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKey } from '../../src/auth/api-keys.js';
import { openDatabase } from '../../src/db/open.js';
import { backend, createPostgresDatabase, onPostgres, serviceEnvFor } from '../support/backend.js';
import { stytchEvent } from '../support/directory.js';
import { cursorSeq, eventually, subscribe, warmUp, type LiveSubscription } from '../support/live.js';
import { spawnService, type ServiceProcess } from '../support/process.js';
import { gqlData, post, startTestServer, stytchRequest, type TestServer } from '../support/server.js';
import { newStytchSecret } from '../support/sign.js';
import { proxyFor, type Proxy } from '../support/tcp-proxy.js';
import { budget } from '../support/time.js';

/** Where webhooks go and GraphQL is asked: an in-process server or a spawned process. */
interface Target {
  url: string;
  adminKey: string;
  stytchSecret: string;
}

interface MemberChanged {
  memberChanged: {
    cursor: string;
    action: string;
    occurredAt: string;
    recordedAt: string;
    member: { externalId: string; email: string | null };
  };
}
type Live = LiveSubscription<MemberChanged>;

// No tenantId: an admin hears every tenant's member changes, so nothing can be filtered away.
const MEMBER_CHANGED = `subscription ($after: String) {
  memberChanged(after: $after) { cursor action occurredAt recordedAt member { externalId email } }
}`;

const FEED = `query ($after: String) {
  changes(first: 100, after: $after) {
    edges { cursor node { entity node { ... on Member { externalId } } } }
    pageInfo { hasNextPage }
  }
}`;

interface FeedEdge {
  cursor: string;
  node: { entity: string; node: { externalId?: string } | null };
}

const tag = () => randomBytes(4).toString('hex');
const emailOf = (id: string) => `${id}@live.example`;

// A fresh name every time: an event identical to what is stored is no change at all.
const memberEvent = (org: string, id: string) =>
  stytchEvent('member', 'CREATE', id, {
    member_id: id,
    organization_id: org,
    email_address: emailOf(id),
    status: 'active',
    name: `Name ${randomBytes(3).toString('hex')}`,
  });

async function send(target: Target, event: Record<string, unknown>): Promise<void> {
  const r = stytchRequest(target.stytchSecret, event);
  const reply = await post(`${target.url}/webhooks/stytch`, r.body, r.headers);
  if (reply.status !== 200) throw new Error(`webhook answered ${reply.status}: ${JSON.stringify(reply.body)}`);
}

/** Two service processes on one database, started together as behind a load balancer. */
function startPair(databaseUrl: string, stytchSecret: string, adminKey: string): Promise<[ServiceProcess, ServiceProcess]> {
  const env = {
    // Through PgBouncer in the pgbouncer project.
    ...serviceEnvFor(databaseUrl),
    STYTCH_WEBHOOK_SECRET: stytchSecret,
    POLIS_WEBHOOK_SECRET: 'p'.repeat(32),
    ADMIN_API_KEY: adminKey,
    LOG_LEVEL: 'warn',
  };
  return Promise.all([spawnService(env), spawnService(env)]);
}

/** The member-feed entries after a cursor, read through `changes` a page of 100 at a time. */
async function memberFeedAfter(target: Target, after: string): Promise<{ cursor: string; externalId: string | undefined }[]> {
  const out: { cursor: string; externalId: string | undefined }[] = [];
  let cursor = after;
  for (;;) {
    const page = await gqlData<{ changes: { edges: FeedEdge[]; pageInfo: { hasNextPage: boolean } } }>(target, FEED, { after: cursor });
    for (const edge of page.changes.edges) {
      // What memberChanged carries: members, and memberships (none are made here).
      if (edge.node.entity === 'MEMBER' || edge.node.entity === 'MEMBERSHIP') {
        out.push({ cursor: edge.cursor, externalId: edge.node.node?.externalId });
      }
    }
    if (!page.changes.pageInfo.hasNextPage || page.changes.edges.length === 0) return out;
    cursor = page.changes.edges[page.changes.edges.length - 1]!.cursor;
  }
}

/** What a subscriber heard after the fence. */
const afterFence = (s: Live, fence: string) => {
  const i = s.events.findIndex((e) => e.memberChanged.cursor === fence);
  if (i < 0) throw new Error('the subscriber never heard the fence');
  return s.events.slice(i + 1).map((e) => e.memberChanged);
};

const missing = (s: Live, ids: Iterable<string>) => {
  const got = new Set(s.events.map((e) => e.memberChanged.member.externalId));
  return [...ids].filter((id) => !got.has(id));
};

/** Waits until the subscriber heard every one of `ids`; says which it lacks when it times out. */
async function waitForAll(s: Live, ids: readonly string[], timeoutMs: number, what: string): Promise<void> {
  try {
    await eventually(() => missing(s, ids).length === 0, timeoutMs, what);
  } catch {
    const lacking = missing(s, ids);
    throw new Error(
      `timed out waiting for ${what}: ${lacking.length} of ${ids.length} never arrived (e.g. ${lacking.slice(0, 5).join(', ')}); ` +
        `${s.events.length} events in all; errors: ${JSON.stringify(s.errors)}`,
    );
  }
}

/** Every change after the fence exactly once, in the feed's order, and nothing else. */
async function expectFeedOrder(s: Live, fence: string, feed: { cursor: string }[], label: string): Promise<void> {
  const cursors = afterFence(s, fence).map((e) => e.cursor);
  expect(new Set(cursors).size, `${label}: no change twice`).toBe(cursors.length);
  expect(cursors, `${label}: the feed's changes in the feed's order`).toEqual(feed.map((e) => e.cursor));
  const seqs = cursors.map(cursorSeq);
  expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
}

describe.runIf(onPostgres)(`subscriptions across two service processes (${backend})`, () => {
  const stytchSecret = newStytchSecret();
  const adminKey = generateApiKey();
  const org = `organization-live-${tag()}`;
  let a: ServiceProcess;
  let b: ServiceProcess;
  let A: Target;
  let B: Target;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const created = await createPostgresDatabase();
    drop = created.drop;
    [a, b] = await startPair(created.url, stytchSecret, adminKey);
    A = { url: a.url, adminKey, stytchSecret };
    B = { url: b.url, adminKey, stytchSecret };
  });
  afterAll(async () => {
    const codes = await Promise.all([a?.stop(), b?.stop()]);
    await drop?.();
    expect(codes).toEqual([0, 0]);
  });

  it('a webhook taken by A is pushed to a subscriber of B, with the feed\'s own cursor', async () => {
    const live = subscribe<MemberChanged>(B.url, adminKey, MEMBER_CHANGED);
    try {
      const fence = await warmUp([live], (id) => send(A, memberEvent(org, id)));
      const id = `member-cross-${tag()}`;
      await send(A, memberEvent(org, id));
      await waitForAll(live, [id], 30_000, 'B\'s subscriber to hear A\'s change');

      const [change, ...rest] = afterFence(live, fence);
      expect(rest).toEqual([]);
      expect(change!.action).toBe('CREATED');
      expect(change!.member).toEqual({ externalId: id, email: emailOf(id) });
      const feed = await memberFeedAfter(A, fence);
      expect(feed).toEqual([{ cursor: change!.cursor, externalId: id }]);
    } finally {
      await live.close();
    }
  });

  it('500 concurrent webhooks over both instances reach three subscribers once each, in feed order', async () => {
    const subs = [
      subscribe<MemberChanged>(A.url, adminKey, MEMBER_CHANGED),
      subscribe<MemberChanged>(A.url, adminKey, MEMBER_CHANGED),
      subscribe<MemberChanged>(B.url, adminKey, MEMBER_CHANGED),
    ];
    try {
      const fence = await warmUp(subs, (id) => send(A, memberEvent(org, id)));
      const t = tag();
      const senders = 5;
      const perSender = 100;
      const ids = Array.from({ length: senders * perSender }, (_, i) => `member-load-${t}-${i}`);
      // Each sender alternates instances, so commits from both interleave in the feed.
      await Promise.all(
        Array.from({ length: senders }, async (_, s) => {
          for (let i = 0; i < perSender; i++) {
            await send([A, B][(s + i) % 2]!, memberEvent(org, ids[s * perSender + i]!));
          }
        }),
      );
      for (const [n, s] of subs.entries()) {
        await waitForAll(s, ids, 120_000, `subscriber ${n} to hear every change`);
      }

      const feed = await memberFeedAfter(A, fence);
      expect(feed.map((e) => e.externalId).sort()).toEqual([...ids].sort());
      for (const [n, s] of subs.entries()) await expectFeedOrder(s, fence, feed, `subscriber ${n}`);
    } finally {
      await Promise.all(subs.map((s) => s.close()));
    }
  }, budget(180_000));

  it('a cursor from A resumes on A after changes delivered to B: exactly those, in order, then live', async () => {
    const first = subscribe<MemberChanged>(A.url, adminKey, MEMBER_CHANGED);
    let last: string;
    try {
      last = await warmUp([first], (id) => send(A, memberEvent(org, id)));
    } finally {
      await first.close();
    }

    const t = tag();
    const missed = Array.from({ length: 20 }, (_, i) => `member-resume-${t}-${i}`);
    for (const id of missed) await send(B, memberEvent(org, id));

    const resumed = subscribe<MemberChanged>(A.url, adminKey, MEMBER_CHANGED, { after: last });
    try {
      const replayed = (await resumed.waitFor(20, 60_000)).map((e) => e.memberChanged);
      expect(replayed.map((e) => e.member.externalId)).toEqual(missed);
      const feed = await memberFeedAfter(A, last);
      expect(replayed.map((e) => e.cursor)).toEqual(feed.map((e) => e.cursor));

      // Live again, from the other instance, with nothing repeated at the seam.
      const next = `member-resume-${t}-live`;
      await send(B, memberEvent(org, next));
      const all = (await resumed.waitFor(21, 30_000)).map((e) => e.memberChanged);
      expect(all.map((e) => e.member.externalId)).toEqual([...missed, next]);
      expect(new Set(all.map((e) => e.cursor)).size).toBe(21);
    } finally {
      await resumed.close();
    }
  });
});

describe.runIf(onPostgres)(`a subscriber whose instance lost its LISTEN connection (${backend})`, () => {
  const org = `organization-listen-${tag()}`;
  let proxy: Proxy;
  let proxied: TestServer;
  let other: TestServer;
  let drop: () => Promise<void>;

  beforeAll(async () => {
    const created = await createPostgresDatabase();
    drop = created.drop;
    const route = await proxyFor(created.url);
    proxy = route.proxy;
    const viaProxy = route.url;
    // Notifications only: no backstop poll, so only the catch-up on re-listening can deliver
    // what was committed while the listener was gone.
    proxied = await startTestServer({
      database: { handle: await openDatabase({ databaseUrl: viaProxy, poolSize: 4 }), url: viaProxy, dispose: async () => {} },
      feedPollMs: 0,
    });
    // A second instance that reaches the database directly, around the proxy.
    other = await startTestServer({
      database: { handle: await openDatabase({ databaseUrl: created.url, poolSize: 4 }), url: created.url, dispose: async () => {} },
    });
  });
  afterAll(async () => {
    await proxied?.close();
    await other?.close();
    await proxied?.database.close();
    await other?.database.close();
    await proxy?.close();
    await drop?.();
  });

  it('gets every change committed while it was not listening, once it listens again, with no further webhook', async () => {
    const live = subscribe<MemberChanged>(proxied.url, proxied.adminKey, MEMBER_CHANGED);
    try {
      const fence = await warmUp([live], (id) => send(proxied, memberEvent(org, id)));

      await proxy.refuse();
      const t = tag();
      const missed = Array.from({ length: 15 }, (_, i) => `member-relisten-${t}-${i}`);
      for (const id of missed) await send(other, memberEvent(org, id));
      // Nothing can reach the proxied instance while its database is cut off.
      expect(afterFence(live, fence)).toEqual([]);

      await proxy.restore();
      await waitForAll(live, missed, 60_000, 'the changes made while the listener was gone');
      const feed = await memberFeedAfter(other, fence);
      expect(feed.map((e) => e.externalId)).toEqual(missed);
      await expectFeedOrder(live, fence, feed, 'the re-listening subscriber');

      // And it is listening again: the next change arrives on its notification.
      const next = `member-relisten-${t}-next`;
      await send(other, memberEvent(org, next));
      await waitForAll(live, [next], 30_000, 'a change after re-listening');
      await expectFeedOrder(live, fence, await memberFeedAfter(other, fence), 'the re-listening subscriber');
    } finally {
      await live.close();
    }
  }, budget(120_000));
});
