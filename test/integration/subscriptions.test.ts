// Live subscriptions over a real WebSocket with the real graphql-ws client, against the running
// service: pushed payloads, resume with `after`, tenant scoping, keys on connect and revoked
// keys, memberships, and cutting off a slow client without delaying anyone else.
import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../src/auth/api-keys.js';
import { sql } from 'drizzle-orm';
import { backend } from '../support/backend.js';
import { query } from '../support/db.js';
import { seedStytchOrg, sendAll, stytchEvent, type SeededOrg } from '../support/directory.js';
import { connect, cursorSeq, eventually, rawSubscriber, subscribe } from '../support/live.js';
import { gql, gqlData, sendStytch, startTestServer, tenantKey, type TestServer } from '../support/server.js';
import { hmacSignIn } from '../support/sign.js';

const gid = (type: string, id: string) => Buffer.from(`${type}:${id}`).toString('base64url');

interface MemberChanged {
  memberChanged: {
    cursor: string;
    action: string;
    occurredAt: string;
    recordedAt: string;
    member: { id: string; externalId: string; email: string | null; status: string; tenant: { id: string; name: string | null } | null };
    membership: { id: string; group: { externalId: string } | null } | null;
  };
}

const MEMBER_CHANGED = `subscription ($tenantId: ID, $after: String) {
  memberChanged(tenantId: $tenantId, after: $after) {
    cursor action occurredAt recordedAt
    member { id externalId email status tenant { id name } }
    membership { id group { externalId } }
  }
}`;

// A fresh name each time, so repeating an event is a change (an identical one is not).
const memberEvent = (org: SeededOrg, id: string, email: string, status = 'active', action: 'CREATE' | 'UPDATE' = 'CREATE') =>
  stytchEvent('member', action, id, {
    member_id: id,
    organization_id: org.organizationId,
    email_address: email,
    status,
    name: `Name ${randomBytes(3).toString('hex')}`,
  });

describe(`subscriptions (${backend})`, () => {
  let server: TestServer;
  let a: SeededOrg;
  let b: SeededOrg;
  let keyA: string;
  let jwtA: string;
  const signIn = hmacSignIn();

  beforeAll(async () => {
    // With the optional API-key cache on: revocation must still reach HTTP (see the revoked-key test).
    server = await startTestServer({
      env: { API_KEY_CACHE_SECONDS: '60', ...signIn.env },
    });
    a = await seedStytchOrg(server, { members: 1, groups: 1 });
    b = await seedStytchOrg(server, { members: 1, groups: 1 });
    keyA = await tenantKey(server, a.tenantUuid, 'tenant A live');
    // A frontend's sign-in token for A: confined exactly as A's key is.
    jwtA = await signIn.token({ dsync_tenant: `stytch:${a.organizationId}` });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('pushes a webhook\'s change with action, times, cursor and the member as it is now', async () => {
    const live = subscribe<MemberChanged>(server.url, server.adminKey, MEMBER_CHANGED);
    // The subscription is registered once the server acknowledged it; a webhook sent before
    // that could be missed by design (no `after`), so wait for a first marker event.
    await sendAll(server, [memberEvent(a, `member-live-${a.tag}-marker`, `marker.${a.tag}@example.test`)]);
    await eventually(async () => {
      if (live.events.length > 0) return true;
      await sendAll(server, [memberEvent(a, `member-live-${a.tag}-marker`, `marker.${a.tag}@example.test`, 'active', 'UPDATE')]);
      return false;
    }, 15_000, 'the subscription to be live');
    const before = live.events.length;

    const id = `member-live-${a.tag}-1`;
    const email = `live.${a.tag}@example.test`;
    const reply = await sendStytch(server, memberEvent(a, id, email));
    expect(reply.status).toBe(200);
    // Markers the wait above sent may still be on their way: the push is the one about this member.
    await eventually(() => live.events.slice(before).some((e) => e.memberChanged.member.externalId === id), 15_000, 'the push about the member');
    const event = live.events.slice(before).find((e) => e.memberChanged.member.externalId === id);
    await live.close();

    const change = event!.memberChanged;
    expect(change.action).toBe('CREATED');
    expect(change.member.externalId).toBe(id);
    expect(change.member.email).toBe(email);
    expect(change.member.status).toBe('ACTIVE');
    expect(change.member.tenant).toEqual({ id: gid('Tenant', a.tenantUuid), name: a.name });
    expect(change.membership).toBeNull();
    expect(new Date(change.recordedAt).getTime()).toBeGreaterThan(0);
    expect(Number.isNaN(new Date(change.occurredAt).getTime())).toBe(false);

    // The cursor is the change feed's own: `changes(after:)` continues right after it.
    const feed = await gqlData<{ changes: { edges: { cursor: string; node: { entity: string } }[] } }>(
      server,
      `query ($after: String) { changes(after: $after, first: 5) { edges { cursor node { entity } } } }`,
      { after: change.cursor },
    );
    for (const edge of feed.changes.edges) expect(cursorSeq(edge.cursor)).toBeGreaterThan(cursorSeq(change.cursor));
  });

  it('replays exactly the changes after a cursor, in order, then continues live', async () => {
    const first = subscribe<MemberChanged>(server.url, server.adminKey, MEMBER_CHANGED, { tenantId: gid('Tenant', a.tenantUuid) });
    const tag = randomBytes(3).toString('hex');
    await eventually(async () => {
      if (first.events.length > 0) return true;
      await sendAll(server, [memberEvent(a, `member-resume-${tag}-start`, `start.${tag}@example.test`, 'active', 'UPDATE')]);
      return false;
    }, 15_000, 'the first subscription to be live');
    const last = first.events[first.events.length - 1]!.memberChanged.cursor;
    await first.close();

    // While nobody listens: 20 member changes of tenant A, and noise in tenant B.
    const missed = Array.from({ length: 20 }, (_, i) => memberEvent(a, `member-resume-${tag}-${i}`, `r${i}.${tag}@example.test`));
    await sendAll(server, missed, 4);
    await sendAll(server, [memberEvent(b, `member-resume-${tag}-b`, `b.${tag}@example.test`)]);

    const resumed = subscribe<MemberChanged>(server.url, server.adminKey, MEMBER_CHANGED, {
      tenantId: gid('Tenant', a.tenantUuid),
      after: last,
    });
    const replayed = await resumed.waitFor(20);
    expect(replayed).toHaveLength(20);
    expect(new Set(replayed.map((e) => e.memberChanged.member.externalId))).toEqual(new Set(missed.map((m) => m.id)));
    const seqs = replayed.map((e) => cursorSeq(e.memberChanged.cursor));
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    expect(seqs[0]).toBeGreaterThan(cursorSeq(last));

    // The same 20, in the same order, as the `changes` feed has them.
    const feed = await gqlData<{ changes: { edges: { cursor: string }[] } }>(
      server,
      `query ($t: ID, $after: String) { changes(tenantId: $t, after: $after, first: 100) { edges { cursor } } }`,
      { t: gid('Tenant', a.tenantUuid), after: last },
    );
    expect(replayed.map((e) => e.memberChanged.cursor)).toEqual(feed.changes.edges.map((e) => e.cursor));

    // Then live, with nothing repeated at the seam.
    await sendAll(server, [memberEvent(a, `member-resume-${tag}-after`, `after.${tag}@example.test`)]);
    const all = await resumed.waitFor(21);
    await resumed.close();
    expect(all).toHaveLength(21);
    expect(all[20]!.memberChanged.member.externalId).toBe(`member-resume-${tag}-after`);
    expect(new Set(all.map((e) => e.memberChanged.cursor)).size).toBe(21);
  });

  describe.each(['API key', 'JWT'] as const)("with A's %s", (credential) => {
    const credentialA = () => (credential === 'JWT' ? jwtA : keyA);

    it('a tenant key hears only its own tenant, and naming another tenant is NOT_FOUND', async () => {
      const own = subscribe<MemberChanged>(server.url, credentialA(), MEMBER_CHANGED);
      const admin = subscribe<MemberChanged>(server.url, server.adminKey, MEMBER_CHANGED);
      const other = subscribe<MemberChanged>(server.url, credentialA(), MEMBER_CHANGED, { tenantId: gid('Tenant', b.tenantUuid) });
      await other.done;
      expect(other.events).toEqual([]);
      expect(JSON.stringify(other.errors)).toContain('NOT_FOUND');
      await other.close();

      const tag = randomBytes(3).toString('hex');
      // Wait until both listen, with tenant-A events (the admin hears them too).
      await eventually(async () => {
        if (own.events.length > 0 && admin.events.length > 0) return true;
        await sendAll(server, [memberEvent(a, `member-scope-${tag}-ping`, `ping.${tag}@example.test`, 'active', 'UPDATE')]);
        return false;
      }, 15_000, 'both subscriptions to be live');
      const ownBefore = own.events.length;
      const adminBefore = admin.events.length;
      await sendAll(server, [memberEvent(b, `member-scope-${tag}-b`, `b.${tag}@example.test`)]);
      await sendAll(server, [memberEvent(a, `member-scope-${tag}-a`, `a.${tag}@example.test`)]);
      await admin.waitFor(adminBefore + 2);
      await own.waitFor(ownBefore + 1);
      // The admin heard B then A; the tenant key, which heard A's change after B's, never B's.
      expect(admin.events.slice(adminBefore).map((e) => e.memberChanged.member.externalId)).toEqual([
        `member-scope-${tag}-b`,
        `member-scope-${tag}-a`,
      ]);
      expect(own.events.slice(ownBefore).map((e) => e.memberChanged.member.externalId)).toEqual([`member-scope-${tag}-a`]);
      expect(JSON.stringify(own.events)).not.toContain(b.tenantUuid);
      expect(JSON.stringify(own.events)).not.toContain(b.organizationId);
      await Promise.all([own.close(), admin.close()]);
    });

    it("a tenant key's nested fields stay in its tenant, while an admin in the same batch sees all", async () => {
      // A membership of tenant A that names B's group: a Stytch event can name any ids.
      const cross = `scim-member-group-live-cross-${a.tag}`;
      await sendAll(server, [
        stytchEvent('scim_member_group', 'CREATE', cross, {
          member_group_id: cross,
          group_id: b.groupIds[0],
          member_id: a.memberIds[0],
          organization_id: a.organizationId,
        }),
      ]);
      const NESTED = `subscription { memberChanged { member { externalId groups(first: 50) { edges { node { externalId } } } } } }`;
      type Nested = { memberChanged: { member: { externalId: string; groups: { edges: { node: { externalId: string } }[] } } } };
      // Both subscribers render the same batch through the same loaders, whichever goes first.
      const admin = subscribe<Nested>(server.url, server.adminKey, NESTED);
      const tenant = subscribe<Nested>(server.url, credentialA(), NESTED);
      const update = () =>
        stytchEvent('member', 'UPDATE', a.memberIds[0]!, {
          member_id: a.memberIds[0],
          organization_id: a.organizationId,
          email_address: a.emails[0],
          status: 'active',
          name: `Renamed ${randomBytes(3).toString('hex')}`,
        });
      await eventually(async () => {
        if (admin.events.length > 0 && tenant.events.length > 0) return true;
        await sendAll(server, [update()]);
        return false;
      }, 15_000, 'both subscriptions to be live');
      const adminFrom = admin.events.length;
      const tenantFrom = tenant.events.length;
      await sendAll(server, [update()]);
      const [adminSaw] = (await admin.waitFor(adminFrom + 1)).slice(adminFrom);
      const [tenantSaw] = (await tenant.waitFor(tenantFrom + 1)).slice(tenantFrom);
      const groupsOf = (e: Nested | undefined) => e!.memberChanged.member.groups.edges.map((g) => g.node.externalId);
      expect(groupsOf(adminSaw)).toContain(b.groupIds[0]);
      expect(groupsOf(tenantSaw)).not.toContain(b.groupIds[0]);
      expect(groupsOf(tenantSaw)).toContain(a.groupIds[0]);
      expect(JSON.stringify(tenant.events)).not.toContain(b.groupIds[0]);
      await Promise.all([admin.close(), tenant.close()]);
    });
  });

  it('refuses a socket with no key, a malformed key or an unknown key with 4403', async () => {
    const cases: (string | null)[] = [null, 'not-a-key', `dsk_${'A'.repeat(43)}`];
    for (const key of cases) {
      const live = subscribe(server.url, key, MEMBER_CHANGED);
      const closed = await live.closed;
      expect(closed.code, `key ${key}`).toBe(4403);
      expect(live.events).toEqual([]);
    }
    // Reading the key's parameter ignores case, as GraphiQL sends `Authorization`.
    const { client, closed } = connect(server.url, null, { Authorization: `Bearer ${server.adminKey}` });
    const viewer = await new Promise<unknown>((resolve, reject) => {
      client.subscribe({ query: '{ viewer { role } }' }, { next: (r) => resolve(r.data), error: reject, complete: () => {} });
    });
    expect(viewer).toEqual({ viewer: { role: 'ADMIN' } });
    await client.dispose();
    expect((await closed).code).toBe(1000);
  });

  it('closes the sockets of a key when it is revoked', async () => {
    const created = await createApiKey(server.database.db, { name: 'revoked live', tenantId: a.tenantUuid });
    const live = subscribe<MemberChanged>(server.url, created.key, MEMBER_CHANGED);
    const other = subscribe<MemberChanged>(server.url, keyA, MEMBER_CHANGED);
    // Live once it answers an operation on the same key: the socket is authenticated by then.
    const probe = await gqlData<{ viewer: { name: string } }>(server, '{ viewer { name } }', {}, created.key);
    expect(probe.viewer.name).toBe('revoked live');
    await eventually(() => [...server.server.app.ws.activeKeyIds()].includes(created.id), 10_000, 'the socket to be open');

    await revokeApiKey(server.database.db, created.id);
    const closed = await live.closed;
    expect(closed.code).toBe(4403);
    expect(closed.reason).toMatch(/revoked/);
    // The HTTP probe above left the key in the instance's key cache; the notice that closed the
    // socket took it out first, so HTTP refuses the key as well.
    const refused = await gql(server, '{ viewer { name } }', {}, created.key);
    expect(refused.status).toBe(401);
    await eventually(() => ![...server.server.app.ws.activeKeyIds()].includes(created.id), 10_000, 'the revoked key\'s socket to be gone');
    // Another key's socket is untouched.
    expect(await other.waitFor(0)).toEqual([]);
    expect(other.errors).toEqual([]);
    const [otherKey] = await query(server.database, sql`select id from api_keys where name = 'tenant A live'`);
    expect([...server.server.app.ws.activeKeyIds()]).toContain(String(otherKey!.id));
    await other.close();
  });

  it('tells groups and members about memberships: UPDATED, with the membership', async () => {
    const GROUP_CHANGED = `subscription ($t: ID) { groupChanged(tenantId: $t) {
      cursor action group { externalId members { edges { node { externalId } } } }
      membership { externalId member { externalId } group { externalId } deletedAt }
    } }`;
    type GroupChanged = {
      groupChanged: {
        action: string;
        group: { externalId: string; members: { edges: { node: { externalId: string } }[] } };
        membership: { externalId: string; member: { externalId: string }; deletedAt: string | null } | null;
      };
    };
    const groups = subscribe<GroupChanged>(server.url, server.adminKey, GROUP_CHANGED, { t: gid('Tenant', a.tenantUuid) });
    const members = subscribe<MemberChanged>(server.url, server.adminKey, MEMBER_CHANGED, { tenantId: gid('Tenant', a.tenantUuid) });
    const tag = randomBytes(3).toString('hex');
    const groupId = a.groupIds[0]!;
    await eventually(async () => {
      if (groups.events.length > 0 && members.events.length > 0) return true;
      await sendAll(server, [
        stytchEvent('scim_group', 'UPDATE', groupId, { group_id: groupId, group_name: `renamed ${randomBytes(3).toString('hex')}`, organization_id: a.organizationId }),
        memberEvent(a, `member-ms-${tag}`, `ms.${tag}@example.test`, 'active', 'UPDATE'),
      ]);
      return false;
    }, 15_000, 'both subscriptions to be live');

    const membershipId = `scim-member-group-${tag}`;
    await sendAll(server, [
      stytchEvent('scim_member_group', 'CREATE', membershipId, {
        member_group_id: membershipId,
        group_id: groupId,
        member_id: `member-ms-${tag}`,
        organization_id: a.organizationId,
      }),
    ]);
    // Pushes of the warm-up events may still be arriving (a webhook is answered when it commits,
    // its push follows): look for the membership's own events, not the next ones in line.
    await eventually(
      () =>
        groups.events.some((e) => e.groupChanged.membership !== null) &&
        members.events.some((e) => e.memberChanged.membership !== null && e.memberChanged.membership !== undefined),
      15_000,
      'the membership to reach both subscriptions',
    );
    const groupEvent = groups.events.find((e) => e.groupChanged.membership !== null);
    const memberEvent_ = members.events.find((e) => e.memberChanged.membership !== null && e.memberChanged.membership !== undefined);
    expect(groupEvent!.groupChanged.action).toBe('UPDATED');
    expect(groupEvent!.groupChanged.membership).toMatchObject({ externalId: membershipId, member: { externalId: `member-ms-${tag}` }, deletedAt: null });
    expect(groupEvent!.groupChanged.group.members.edges.map((e) => e.node.externalId)).toContain(`member-ms-${tag}`);
    expect(memberEvent_!.memberChanged.action).toBe('UPDATED');
    expect(memberEvent_!.memberChanged.member.externalId).toBe(`member-ms-${tag}`);
    expect(memberEvent_!.memberChanged.membership?.group?.externalId).toBe(groupId);
    await Promise.all([groups.close(), members.close()]);
  });

  it('a subscription over HTTP is refused with a clear error', async () => {
    const reply = await gql(server, 'subscription { tenantChanged { cursor } }');
    expect(reply.status).toBe(400);
    expect(reply.errors?.[0]?.extensions?.code).toBe('BAD_REQUEST');
    expect(reply.errors?.[0]?.message).toMatch(/WebSocket at \/graphql/);
  });

  it('a bad cursor is BAD_USER_INPUT; a bad operation is a validation or syntax error', async () => {
    const bad = subscribe(server.url, server.adminKey, MEMBER_CHANGED, { after: 'garbage!' });
    await bad.done;
    expect(JSON.stringify(bad.errors)).toContain('BAD_USER_INPUT');
    await bad.close();

    const unknown = subscribe(server.url, server.adminKey, 'subscription { memberChanged { nope } }');
    await unknown.done;
    expect(unknown.errors).toMatchObject([{ message: expect.stringMatching(/Cannot query field "nope"/), extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }]);
    await unknown.close();

    const broken = subscribe(server.url, server.adminKey, 'subscription { memberChanged {');
    await broken.done;
    expect(broken.errors).toMatchObject([{ message: expect.stringMatching(/Syntax Error/), extensions: { code: 'GRAPHQL_PARSE_FAILED' } }]);
    await broken.close();
  });
});

describe(`a slow subscriber (${backend})`, () => {
  let server: TestServer;
  let org: SeededOrg;
  const logs: string[] = [];

  beforeAll(async () => {
    server = await startTestServer({ env: { SUBSCRIPTION_BUFFER: '20', LOG_LEVEL: 'warn' }, logs });
    org = await seedStytchOrg(server, { members: 1, groups: 0 });
  });
  afterAll(async () => {
    await server?.close();
  });

  /** A raw graphql-ws socket that subscribes and counts what it receives, until told to stop reading. */
  const slowSubscriber = (query: string) => rawSubscriber(server.url, server.adminKey, query);

  const big = 'x'.repeat(60_000);
  const event = (tag: string, i: number) =>
    stytchEvent('member', 'CREATE', `member-slow-${tag}-${i}`, {
      member_id: `member-slow-${tag}-${i}`,
      organization_id: org.organizationId,
      email_address: `slow${i}.${tag}@example.test`,
      name: `Name ${randomBytes(3).toString('hex')}`,
      status: 'active',
      trusted_metadata: { padding: big },
    });
  const cutOffs = () => logs.filter((line) => line.includes('subscriber too slow')).length;

  /**
   * Sends changes until the server says it cut a slow client off. How much the kernel buffers
   * before the socket backs up depends on the machine, so the count cannot be fixed.
   */
  async function sendUntilCutOff(tag: string): Promise<number> {
    const before = cutOffs();
    let n = 0;
    while (cutOffs() === before && n < 3000) {
      await sendAll(server, Array.from({ length: 50 }, (_, i) => event(tag, n + i)), 8);
      n += 50;
    }
    expect(cutOffs(), `the slow subscriber was not cut off after ${n} changes`).toBeGreaterThan(before);
    return n;
  }

  it('is closed with 4413 when its buffer overflows, while others and the webhooks carry on', async () => {
    const query = `subscription { memberChanged { cursor member { externalId raw } } }`;
    const fast = subscribe<{ memberChanged: { cursor: string; member: { externalId: string } } }>(server.url, server.adminKey, query);
    const slow = await slowSubscriber(query);
    const tag = randomBytes(3).toString('hex');
    // Both listening: each has received the warm-up change.
    await eventually(async () => {
      if (fast.events.length > 0 && slow.received.length > 0) return true;
      await sendAll(server, [event(tag, -1)]);
      return false;
    }, 15_000, 'both subscribers to be live');
    slow.tcp.pause();

    // The webhooks complete while the slow socket hangs: the hub never waits on a subscriber.
    const n = await sendUntilCutOff(tag);

    // Reading again, the slow client finds what was in flight, then the close frame.
    slow.tcp.resume();
    expect(await slow.closed).toBe(4413);
    expect(slow.received.length).toBeLessThan(n);
    const expected = Array.from({ length: n }, (_, i) => `member-slow-${tag}-${i}`);
    await eventually(() => {
      const got = new Set(fast.events.map((e) => e.memberChanged.member.externalId));
      return expected.every((id) => got.has(id));
    }, 60_000, 'the fast subscriber to receive every change');
    await fast.close();
  });

  it('lets go of a cut-off client that never reads again, well before ws\'s 30 s close timeout', async () => {
    const query = `subscription { memberChanged { cursor member { externalId raw } } }`;
    // The server's end of the slow client's connection, found by the client's port.
    const serverSockets: Socket[] = [];
    const http = server.server.app.fastify.server;
    const track = (socket: Socket) => void serverSockets.push(socket);
    http.on('connection', track);
    const slow = await slowSubscriber(query);
    http.off('connection', track);
    const local = slow.tcp.localPort;
    const serverSide = serverSockets.find((socket) => socket.remotePort === local);
    expect(serverSide).toBeDefined();

    const tag = randomBytes(3).toString('hex');
    await eventually(async () => {
      if (slow.received.length > 0) return true;
      await sendAll(server, [event(tag, -1)]);
      return false;
    }, 15_000, 'the subscriber to be live');
    slow.tcp.pause();
    await sendUntilCutOff(tag);
    const cutOff = Date.now();
    // Its socket (and all that was queued for it) is dropped after a short grace (3 s), not held
    // for ws's 30 s. Both are timers, which a slow machine delays only by its event loop's lag,
    // so the bound between them is not a speed budget.
    await eventually(() => serverSide!.destroyed, 40_000, 'the server to drop the socket');
    expect(Date.now() - cutOff).toBeLessThan(25_000);
    slow.socket.terminate();
  });
});

describe(`shutting down with subscribers connected (${backend})`, () => {
  it('closes every socket with 1001 and stops', async () => {
    const server = await startTestServer();
    const clients = [0, 1, 2].map(() => connect(server.url, server.adminKey));
    for (const { client } of clients) {
      // Acknowledged once an operation answers; then a subscription stays open on it.
      await new Promise((resolve, reject) =>
        client.subscribe({ query: '{ viewer { role } }' }, { next: resolve, error: reject, complete: () => {} }),
      );
      client.subscribe({ query: MEMBER_CHANGED }, { next: () => {}, error: () => {}, complete: () => {} });
    }
    await server.close();
    for (const { closed } of clients) expect((await closed).code).toBe(1001);
  });
});
