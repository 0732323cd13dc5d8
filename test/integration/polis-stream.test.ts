// A Polis directory's life, step by step, as Polis delivers it: each step visible in the
// tables and in the change feed as it should be.
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { entity, query } from '../support/db.js';
import { sendPolis, startTestServer, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const envelope = { tenant: 'globex', product: 'hr-portal' };
const directoryId = 'dir-globex-okta';
const grace = {
  id: 'usr-grace',
  first_name: 'Grace',
  last_name: 'Hopper',
  email: 'grace@globex.example',
  active: true,
  roles: ['admin'],
  raw: { userName: 'grace@globex.example', active: true },
};
const alan = {
  id: 'usr-alan',
  first_name: 'Alan',
  last_name: 'Turing',
  email: 'alan@globex.example',
  active: true,
  raw: { userName: 'alan@globex.example', active: true },
};
const engineers = { id: 'grp-engineers', name: 'engineers', raw: { displayName: 'engineers' } };
const directoryEvent = (event: string, data: unknown) => ({ event, ...envelope, directory_id: directoryId, data });

let clock = Date.now() - 60_000;
const send = async (payload: unknown) => {
  clock += 1000;
  const reply = await sendPolis(server, payload, clock);
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply;
};

/** Feed rows written by one delivery, as "ENTITY ACTION". */
async function feedOf(deliveryId: unknown): Promise<string[]> {
  const rows = await query(
    server.database,
    sql`select entity, action from changes where delivery_id = ${deliveryId as string} order by seq`,
  );
  return rows.map((r) => `${String(r.entity)} ${String(r.action)}`);
}

describe(`a Polis directory stream (${backend})`, () => {
  it('dsync.created: the directory connection and its tenant appear', async () => {
    const reply = await send({
      event: 'dsync.created',
      ...envelope,
      data: { id: directoryId, name: 'Globex Okta', type: 'okta-scim-v2' },
    });
    const directory = await entity(server.database, 'connections', directoryId);
    expect(directory).toMatchObject({ kind: 'DIRECTORY', status: 'ACTIVE', name: 'Globex Okta', deleted_at: null });
    expect(await feedOf(reply.body.deliveryId)).toEqual(['TENANT CREATED', 'CONNECTION CREATED']);
  });

  it('user.created: members of that directory', async () => {
    await send(directoryEvent('user.created', grace));
    const reply = await send(directoryEvent('user.created', alan));
    const directory = await entity(server.database, 'connections', directoryId);
    for (const [user, name] of [
      [grace, 'Grace Hopper'],
      [alan, 'Alan Turing'],
    ] as const) {
      const member = await entity(server.database, 'members', user.id);
      expect(member).toMatchObject({
        email: user.email,
        name,
        status: 'ACTIVE',
        connection_id: directory!.id,
        tenant_id: directory!.tenant_id,
        deleted_at: null,
      });
    }
    expect((await entity(server.database, 'members', grace.id))!.roles).toEqual(['admin']);
    expect(await feedOf(reply.body.deliveryId)).toEqual(['MEMBER CREATED']);
  });

  it('group.created and group.user_added: a membership', async () => {
    await send(directoryEvent('group.created', engineers));
    const reply = await send(directoryEvent('group.user_added', { ...grace, roles: undefined, group: engineers }));
    const group = await entity(server.database, 'groups', engineers.id);
    const member = await entity(server.database, 'members', grace.id);
    const membership = await entity(server.database, 'memberships', `${engineers.id}/${grace.id}`);
    expect(group).toMatchObject({ name: 'engineers', deleted_at: null });
    expect(membership).toMatchObject({ group_id: group!.id, member_id: member!.id, deleted_at: null });
    // The user embedded in the membership event never overrides the user's own event.
    expect(member!.roles).toEqual(['admin']);
    expect(member!.data_from_snapshot).toBe(false);
    expect(await feedOf(reply.body.deliveryId)).toEqual(['MEMBERSHIP CREATED']);
  });

  it('group.user_added again for a user already in the group changes nothing', async () => {
    const reply = await send(directoryEvent('group.user_added', { ...grace, group: engineers }));
    expect(reply.body.status).toBe('unchanged');
    expect(await feedOf(reply.body.deliveryId)).toEqual([]);
  });

  it('user.updated with active: false deactivates (how Okta and Entra deprovision)', async () => {
    const reply = await send(directoryEvent('user.updated', { ...alan, active: false }));
    const member = await entity(server.database, 'members', alan.id);
    expect(member).toMatchObject({ status: 'INACTIVE', deleted_at: null });
    expect(await feedOf(reply.body.deliveryId)).toEqual(['MEMBER DEACTIVATED']);
  });

  it('group.user_removed: the membership is tombstoned', async () => {
    const reply = await send(directoryEvent('group.user_removed', { ...grace, group: engineers }));
    const membership = await entity(server.database, 'memberships', `${engineers.id}/${grace.id}`);
    expect(membership!.deleted_at).not.toBeNull();
    expect(await feedOf(reply.body.deliveryId)).toEqual(['MEMBERSHIP DELETED']);
  });

  it('group.deleted: the group is tombstoned, its members stay', async () => {
    const reply = await send(directoryEvent('group.deleted', engineers));
    const group = await entity(server.database, 'groups', engineers.id);
    expect(group!.deleted_at).not.toBeNull();
    expect(group!.name).toBe('engineers');
    expect((await entity(server.database, 'members', grace.id))!.deleted_at).toBeNull();
    expect(await feedOf(reply.body.deliveryId)).toEqual(['GROUP DELETED']);
  });

  it('a late, older group.updated does not bring the group back', async () => {
    const reply = await sendPolis(server, directoryEvent('group.updated', { ...engineers, name: 'old name' }), clock - 3500);
    expect(reply.status).toBe(200);
    expect(reply.body.status).toBe('stale');
    const group = await entity(server.database, 'groups', engineers.id);
    expect(group!.deleted_at).not.toBeNull();
    expect(group!.name).toBe('engineers');
  });

  it('a batch applies in array order, each event its own position', async () => {
    const reply = await send([
      directoryEvent('user.updated', { ...alan, active: false, email: 'alan.t@globex.example' }),
      directoryEvent('user.updated', { ...alan, email: 'alan.turing@globex.example', active: true }),
    ]);
    expect(reply.body.status).toBe('applied');
    const member = await entity(server.database, 'members', alan.id);
    expect(member).toMatchObject({ email: 'alan.turing@globex.example', status: 'ACTIVE' });
    expect(await feedOf(reply.body.deliveryId)).toEqual(['MEMBER UPDATED', 'MEMBER ACTIVATED']);
  });

  it('a membership event without data is recorded as ignored', async () => {
    const reply = await send({ event: 'group.user_added', ...envelope, directory_id: directoryId });
    expect(reply.body.status).toBe('ignored');
    const [delivery] = await query(
      server.database,
      sql`select status, reason from deliveries where id = ${reply.body.deliveryId as string}`,
    );
    expect(delivery!.reason).toMatch(/no data/);
  });
});
