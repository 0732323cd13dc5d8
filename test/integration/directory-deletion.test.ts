// What ends with a directory, and what a deleted member or group still shows. Polis deletes a
// directory's users, groups and memberships without sending their events, and sends no
// group.user_removed when it deletes a user; the directory must not keep them live. Read back
// through GraphQL over HTTP, as a frontend would.
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { directoryEnds } from '../../src/directory/rows.js';
import { backend, onPostgres } from '../support/backend.js';
import { query } from '../support/db.js';
import { gqlData, sendPolis, startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

interface MemberNode {
  externalId: string;
  status: string;
  groups: { edges: { node: { externalId: string } }[] };
}
interface GroupNode {
  externalId: string;
  deletedAt: string | null;
  members: { edges: { node: { externalId: string } }[] };
}

const envelope = (tag: string) => ({ tenant: `tenant-${tag}`, product: 'portal' });
const user = (id: string) => ({ id, first_name: 'A', last_name: id, email: `${id}@example.test`, active: true, raw: {} });
const group = (id: string) => ({ id, name: id, raw: {} });

/** One directory's stream, signed at increasing times from `start`. */
function directory(tag: string, start = Date.now() - 120_000) {
  const dir = `dir-${tag}`;
  let clock = start;
  const at = (offset: number) => start + offset;
  const data = (event: string, payload: unknown) => ({ event, ...envelope(tag), directory_id: dir, data: payload });
  return {
    dir,
    at,
    send: async (payload: unknown, t?: number) => {
      clock = t ?? clock + 1000;
      const reply = await sendPolis(server, payload, clock);
      expect(reply.status, JSON.stringify(reply.body)).toBe(200);
      return reply.body;
    },
    created: () => ({ event: 'dsync.created', ...envelope(tag), data: { id: dir, name: tag, type: 'okta-scim-v2' } }),
    deleted: () => ({ event: 'dsync.deleted', ...envelope(tag), data: { id: dir, name: tag, type: 'okta-scim-v2' } }),
    user: (event: string, id: string) => data(event, user(id)),
    group: (event: string, id: string) => data(event, group(id)),
    added: (userId: string, groupId: string) => data('group.user_added', { ...user(userId), group: group(groupId) }),
  };
}

async function membersOf(tag: string, includeDeleted = false): Promise<MemberNode[]> {
  const data = await gqlData<{ members: { edges: { node: MemberNode }[] } }>(
    server,
    `query ($f: MemberFilter, $g: GroupFilter) { members(first: 100, filter: $f) { edges { node {
       externalId status groups(first: 100, filter: $g) { edges { node { externalId } } } } } } }`,
    { f: { search: tag, includeDeleted }, g: { includeDeleted } },
  );
  return data.members.edges.map((e) => e.node).sort((a, b) => a.externalId.localeCompare(b.externalId));
}

async function groupsOf(tag: string, includeDeleted = false): Promise<GroupNode[]> {
  const data = await gqlData<{ groups: { edges: { node: GroupNode }[] } }>(
    server,
    `query ($f: GroupFilter, $m: MemberFilter) { groups(first: 100, filter: $f) { edges { node {
       externalId deletedAt members(first: 100, filter: $m) { edges { node { externalId } } } } } } }`,
    { f: { search: tag, includeDeleted }, m: { includeDeleted } },
  );
  return data.groups.edges.map((e) => e.node).sort((a, b) => a.externalId.localeCompare(b.externalId));
}

const ids = (list: { edges: { node: { externalId: string } }[] }) => list.edges.map((e) => e.node.externalId).sort();

describe(`a deleted directory ends what it provisioned (${backend})`, () => {
  it('dsync.deleted ends its members, groups and memberships; includeDeleted still shows them, with their memberships', async () => {
    const d = directory('dsyncdel');
    await d.send(d.created());
    for (const id of ['usr-dsyncdel-1', 'usr-dsyncdel-2']) await d.send(d.user('user.created', id));
    await d.send(d.group('group.created', 'grp-dsyncdel'));
    await d.send(d.added('usr-dsyncdel-1', 'grp-dsyncdel'));
    expect((await membersOf('dsyncdel')).map((m) => m.externalId)).toEqual(['usr-dsyncdel-1', 'usr-dsyncdel-2']);

    const reply = await d.send(d.deleted());
    expect(reply).toMatchObject({ status: 'applied' });
    expect(await membersOf('dsyncdel')).toEqual([]);
    expect(await groupsOf('dsyncdel')).toEqual([]);

    const kept = await membersOf('dsyncdel', true);
    expect(kept.map((m) => [m.externalId, m.status])).toEqual([
      ['usr-dsyncdel-1', 'DELETED'],
      ['usr-dsyncdel-2', 'DELETED'],
    ]);
    expect(ids(kept[0]!.groups)).toEqual(['grp-dsyncdel']);
    const [deletedGroup] = await groupsOf('dsyncdel', true);
    expect(deletedGroup!.deletedAt).not.toBeNull();
    expect(ids(deletedGroup!.members)).toEqual(['usr-dsyncdel-1']);
  });

  it('an older event of one of them arriving after the deletion does not bring it back; a newer one does', async () => {
    const d = directory('dsynclate');
    await d.send(d.created(), d.at(0));
    await d.send(d.deleted(), d.at(10_000));
    // Sent before the deletion, delivered after it (a retry, or a batch held back).
    await d.send(d.user('user.created', 'usr-dsynclate-old'), d.at(5_000));
    await d.send(d.group('group.created', 'grp-dsynclate-old'), d.at(6_000));
    expect(await membersOf('dsynclate')).toEqual([]);
    expect(await groupsOf('dsynclate')).toEqual([]);
    // Anything the provider says after the deletion wins, as for any object.
    await d.send(d.user('user.created', 'usr-dsynclate-new'), d.at(20_000));
    expect((await membersOf('dsynclate')).map((m) => m.externalId)).toEqual(['usr-dsynclate-new']);
  });

  it('the same end state whatever order the deletion and the directory\'s events arrive in', async () => {
    const events = (d: ReturnType<typeof directory>) => [
      [d.created(), d.at(0)],
      [d.user('user.created', `usr-${d.dir}-a`), d.at(1_000)],
      [d.group('group.created', `grp-${d.dir}`), d.at(2_000)],
      [d.added(`usr-${d.dir}-a`, `grp-${d.dir}`), d.at(3_000)],
      [d.deleted(), d.at(4_000)],
    ] as const;
    const inOrder = directory('orderin');
    for (const [payload, t] of events(inOrder)) await inOrder.send(payload, t);
    const reversed = directory('orderrev');
    for (const [payload, t] of [...events(reversed)].reverse()) await reversed.send(payload, t);

    const shape = async (tag: string, dir: string) => {
      const strip = (text: string) => text.replaceAll(dir, 'DIR');
      return strip(JSON.stringify([await membersOf(tag, true), await groupsOf(tag, true), await membersOf(tag), await groupsOf(tag)].map((list) =>
        list.map((o) => ({ ...o, ...('deletedAt' in o ? { deletedAt: o.deletedAt === null } : {}) })),
      )));
    };
    expect(await shape('orderrev', reversed.dir)).toBe(await shape('orderin', inOrder.dir));
    expect(await membersOf('orderin')).toEqual([]);
  });
});

describe(`a directory's delete racing a member added to it (${backend})`, () => {
  // Two transactions at once: one adds a member to a directory it read as live, the other
  // deletes the directory and ends what it provisioned. Whichever commits first, the member
  // must end up ended. Needs a second connection: Postgres only.
  it.skipIf(!onPostgres)('the delete waits for a transaction that read the directory as live, then ends its member', async () => {
    const d = directory('dsyncrace');
    await d.send(d.created());
    await d.send(d.user('user.created', 'usr-dsyncrace-1'));
    const [dir] = await query(
      server.database,
      sql`select id, tenant_id, scope from connections where external_id = ${d.dir} and kind = 'DIRECTORY'`,
    );
    const key = { provider: 'POLIS' as const, scope: String(dir!.scope), externalId: d.dir };
    // The late member carries what its own event would have: a version older than the delete.
    const [first] = await query(server.database, sql`select live_version from members where external_id = 'usr-dsyncrace-1'`);
    const version = String(first!.live_version);

    let deleted: Promise<unknown> | undefined;
    await server.database.db.transaction(async (tx) => {
      // What ingest does for a batch with a member of this directory: read whether it ended.
      expect([...(await directoryEnds(tx, [key])).values()]).toEqual([null]);
      deleted = d.send(d.deleted());
      // The delete now runs; it must wait for this transaction rather than finish first.
      let finished = false;
      void deleted.then(() => (finished = true));
      for (;;) {
        const [waiting] = await query(
          server.database,
          sql`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
        );
        if (Number(waiting!.n) > 0 || finished) break;
        await sleep(10);
      }
      expect(finished).toBe(false);
      await tx.execute(sql`
        insert into members (provider, scope, external_id, tenant_id, connection_id, live_version, data_version, data_hash, email)
        values ('POLIS', ${key.scope}, 'usr-dsyncrace-late', ${dir!.tenant_id}::uuid, ${dir!.id}::uuid, ${version}, ${version}, 'h', 'late@example.test')`);
    });
    expect(await deleted).toMatchObject({ status: 'applied' });
    const rows = await query(
      server.database,
      sql`select external_id, deleted_at is not null as ended from members where connection_id = ${dir!.id}::uuid order by 1`,
    );
    expect(rows).toEqual([
      { external_id: 'usr-dsyncrace-1', ended: true },
      { external_id: 'usr-dsyncrace-late', ended: true },
    ]);
  });
});

describe(`a deleted member's memberships (${backend})`, () => {
  it('user.deleted (Polis sends no group.user_removed): gone from Group.members and from the member\'s own groups', async () => {
    const d = directory('userdel');
    await d.send(d.created());
    await d.send(d.user('user.created', 'usr-userdel'));
    await d.send(d.user('user.created', 'usr-userdel-stays'));
    await d.send(d.group('group.created', 'grp-userdel'));
    await d.send(d.added('usr-userdel', 'grp-userdel'));
    await d.send(d.added('usr-userdel-stays', 'grp-userdel'));
    await d.send(d.user('user.deleted', 'usr-userdel'));

    const [g] = await groupsOf('userdel');
    expect(ids(g!.members)).toEqual(['usr-userdel-stays']);
    // Read with includeDeleted at the top only: the member is listed, its memberships are not.
    const data = await gqlData<{ members: { edges: { node: MemberNode }[] } }>(
      server,
      `{ members(first: 10, filter: { search: "usr-userdel@", includeDeleted: true }) { edges { node {
         externalId status groups(first: 10) { edges { node { externalId } } } } } } }`,
    );
    const [deleted] = data.members.edges.map((e) => e.node);
    expect(deleted).toMatchObject({ externalId: 'usr-userdel', status: 'DELETED' });
    expect(ids(deleted!.groups)).toEqual([]);
    // includeDeleted on the nested list too: the ended membership shows.
    const [withEnded] = await membersOf('usr-userdel@', true);
    expect(ids(withEnded!.groups)).toEqual(['grp-userdel']);
  });
});
