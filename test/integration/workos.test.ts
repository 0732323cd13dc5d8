// WorkOS as a source, against the running service on both backends. Signatures are made by
// WorkOS's own SDK (@workos-inc/node), and the SDK verifies what our trigger signs; payloads
// are the trigger's samples, shaped after the SDK's event interfaces. Each event is followed
// into the tables and back out of GraphQL field by field, through a directory's whole life.
import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDirectoryStore } from '../../src/directory/store.js';
import { replayDeliveries } from '../../src/replay.js';
import { workosSample, type WorkosIds } from '../../src/samples/events.js';
import type { SourceAdapter } from '../../src/sources/types.js';
import { createWorkosSource } from '../../src/sources/workos/index.js';
import { workosHeaders } from '../../src/samples/sign.js';
import { backend } from '../support/backend.js';
import { query } from '../support/db.js';
import { newWorkosSecret, workosHeaderValue, workosSdk } from '../support/sign.js';
import { gqlData, post, sendWorkos, startTestServer, tenantKey, type TestServer } from '../support/server.js';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const tag = randomBytes(5).toString('hex').toUpperCase();
const ids: WorkosIds = {
  organizationId: `org_01TEST${tag}`,
  connectionId: `conn_01TEST${tag}`,
  directoryId: `directory_01TEST${tag}`,
  userId: `directory_user_01TEST${tag}`,
  groupId: `directory_group_01TEST${tag}`,
};

/** A sample event of `name`, its objects updated at `at`, with `data` fields replaced. */
function event(name: string, at = new Date(), data: Record<string, unknown> = {}, forIds = ids): Record<string, unknown> {
  const sample = workosSample(name, forIds, at)!;
  return { ...sample, data: { ...(sample.data as object), ...data } };
}

async function send(payload: unknown, t?: number) {
  const reply = await sendWorkos(server, payload, t);
  expect(reply.status, JSON.stringify(reply.body)).toBe(200);
  return reply.body as { status: string; deliveryId: string; applied: number; rejected: number };
}

const TENANT = `query ($id: String!) {
  tenants(filter: { externalId: $id, provider: WORKOS, includeDeleted: true }) { edges { node {
    provider externalId name product deletedAt
    connections(filter: { includeDeleted: true }) { edges { node { kind status name externalId deletedAt } } }
    members(filter: { includeDeleted: true }) { edges { node {
      externalId email name firstName lastName status roles deletedAt directory { externalId }
      groups { edges { node { externalId name } } }
    } } }
    groups(filter: { includeDeleted: true }) { edges { node { externalId name deletedAt directory { externalId } } } }
  } } } }`;

interface TenantView {
  provider: string;
  externalId: string;
  name: string | null;
  deletedAt: string | null;
  connections: { edges: { node: { kind: string; status: string; name: string; externalId: string; deletedAt: string | null } }[] };
  members: {
    edges: {
      node: {
        externalId: string;
        email: string | null;
        name: string | null;
        firstName: string | null;
        lastName: string | null;
        status: string;
        roles: string[];
        deletedAt: string | null;
        directory: { externalId: string } | null;
        groups: { edges: { node: { externalId: string; name: string } }[] };
      };
    }[];
  };
  groups: { edges: { node: { externalId: string; name: string; deletedAt: string | null; directory: { externalId: string } | null } }[] };
}

async function tenant(id = ids.organizationId): Promise<TenantView> {
  const data = await gqlData<{ tenants: { edges: { node: TenantView }[] } }>(server, TENANT, { id });
  expect(data.tenants.edges).toHaveLength(1);
  return data.tenants.edges[0]!.node;
}

describe(`WorkOS signatures (${backend})`, () => {
  it("accepts what WorkOS's SDK signs, and the SDK accepts what our trigger signs", async () => {
    const payload = event('organization.created', new Date(), {}, { ...ids, organizationId: `org_01SIG${tag}` });
    expect((await send(payload)).status).toBe('applied');

    const body = JSON.stringify(event('organization.updated'));
    const headers = workosHeaders(server.workosSecret, body);
    const verified = await workosSdk.webhooks.constructEvent({ payload: JSON.parse(body) as Record<string, unknown>, sigHeader: headers['workos-signature']!, secret: server.workosSecret });
    expect(verified).toMatchObject({ event: 'organization.updated', data: { id: ids.organizationId } });
  });

  it('refuses a wrong secret, a stale or future timestamp, a malformed or missing header, and stores nothing', async () => {
    const payload = event('dsync.user.created', new Date(), {}, { ...ids, userId: `directory_user_01REFUSED${tag}` });
    const body = JSON.stringify(payload);
    const now = Date.now();
    const cases: [string, Record<string, string>][] = [
      ['wrong secret', { 'WorkOS-Signature': await workosHeaderValue(newWorkosSecret(), now, payload) }],
      ['stale', { 'WorkOS-Signature': await workosHeaderValue(server.workosSecret, now - 301_000, payload) }],
      ['future', { 'WorkOS-Signature': await workosHeaderValue(server.workosSecret, now + 301_000, payload) }],
      ['seconds, not ms', { 'WorkOS-Signature': await workosHeaderValue(server.workosSecret, Math.floor(now / 1000), payload) }],
      ['malformed', { 'WorkOS-Signature': `t=${now}, v0=abc` }],
      ['missing', {}],
    ];
    for (const [what, headers] of cases) {
      const reply = await post(`${server.url}/webhooks/workos`, body, { 'content-type': 'application/json', ...headers });
      expect(reply.status, what).toBe(401);
      expect(reply.body, what).toHaveProperty('error');
    }
    const stored = await query(server.database, sql`select count(*)::int as n from members where external_id = ${`directory_user_01REFUSED${tag}`}`);
    expect(stored[0]!.n).toBe(0);
  });

  it('takes either secret while one is rotated, and a removed one no longer', async () => {
    const [older, newer] = [newWorkosSecret(), newWorkosSecret()];
    const rotating = await startTestServer({ env: { WORKOS_WEBHOOK_SECRET: `${older}, ${newer}` } });
    try {
      const sendWith = async (secret: string) => {
        const payload = event('organization.created', new Date(), {}, { ...ids, organizationId: `org_01ROT${randomBytes(4).toString('hex')}` });
        return post(`${rotating.url}/webhooks/workos`, JSON.stringify(payload), {
          'content-type': 'application/json',
          'WorkOS-Signature': await workosHeaderValue(secret, Date.now(), payload),
        });
      };
      expect((await sendWith(older)).status).toBe(200);
      expect((await sendWith(newer)).status).toBe(200);
      expect((await sendWith(newWorkosSecret())).status).toBe(401);
    } finally {
      await rotating.close();
    }
  });

  it('is idempotent on the event id: a retry signed later is a duplicate', async () => {
    const payload = event('organization.updated', new Date(), { name: `Retried ${tag}` }, { ...ids, organizationId: `org_01RETRY${tag}` });
    const first = await send(payload);
    const retry = await send(payload, Date.now() + 1500);
    expect(retry).toMatchObject({ status: 'duplicate', deliveryId: first.deliveryId });
  });
});

describe(`WorkOS events into the directory (${backend})`, () => {
  const t0 = Date.now() - 60_000;
  const at = (s: number) => new Date(t0 + s * 1000);

  it("builds a directory's tenant, connections, member, group and membership, field by field", async () => {
    for (const [name, s] of [
      ['organization.created', 1],
      ['connection.activated', 2],
      ['dsync.activated', 3],
      ['dsync.user.created', 4],
      ['dsync.group.created', 5],
      ['dsync.group.user_added', 6],
    ] as const) {
      expect((await send(event(name, at(s)))).status, name).toBe('applied');
    }
    const view = await tenant();
    expect(view).toMatchObject({ provider: 'WORKOS', externalId: ids.organizationId, name: 'Foo Corp', deletedAt: null });
    const connections = view.connections.edges.map((e) => e.node).sort((a, b) => a.kind.localeCompare(b.kind));
    expect(connections).toEqual([
      { kind: 'DIRECTORY', status: 'ACTIVE', name: 'Foo Corp Okta SCIM', externalId: ids.directoryId, deletedAt: null },
      { kind: 'SAML', status: 'ACTIVE', name: 'Foo Corp Okta', externalId: ids.connectionId, deletedAt: null },
    ]);
    expect(view.members.edges.map((e) => e.node)).toEqual([
      {
        externalId: ids.userId,
        email: 'blair@foo-corp.example',
        name: 'Blair Lunceford',
        firstName: 'Blair',
        lastName: 'Lunceford',
        status: 'ACTIVE',
        roles: ['member'],
        deletedAt: null,
        directory: { externalId: ids.directoryId },
        groups: { edges: [{ node: { externalId: ids.groupId, name: 'Engineering' } }] },
      },
    ]);
    expect(view.groups.edges.map((e) => e.node)).toEqual([{ externalId: ids.groupId, name: 'Engineering', deletedAt: null, directory: { externalId: ids.directoryId } }]);
  });

  it("shows a tenant key the member's public fields only, not what the identity provider sent", async () => {
    const [row] = await query(server.database, sql`select id from tenants where provider = 'WORKOS' and external_id = ${ids.organizationId}`);
    const key = await tenantKey(server, String(row!.id));
    const data = await gqlData<{ members: { edges: { node: { raw: Record<string, unknown> } }[] } }>(server, '{ members(first: 5) { edges { node { raw } } } }', {}, key);
    const raw = data.members.edges[0]!.node.raw;
    expect(raw).toMatchObject({ id: ids.userId, email: 'blair@foo-corp.example', state: 'active', roles: [{ slug: 'member' }] });
    expect(raw).not.toHaveProperty('raw_attributes');
    expect(raw).not.toHaveProperty('custom_attributes');
    // An admin key sees the whole object.
    const admin = await gqlData<{ members: { edges: { node: { raw: Record<string, unknown> } }[] } }>(server, `{ members(first: 1, filter: { externalId: "${ids.userId}" }) { edges { node { raw } } } }`);
    expect(admin.members.edges[0]!.node.raw).toHaveProperty('raw_attributes');
  });

  it('applies updates by updated_at, keeps previous_attributes out of the state, and refuses nothing older over newer', async () => {
    const updated = event('dsync.user.updated', at(10), { last_name: 'Lunceford-Reyes', roles: [{ slug: 'admin' }, { slug: 'member' }] });
    expect((await send(updated)).status).toBe('applied');
    // Older than what is stored: recorded, not applied.
    expect((await send(event('dsync.user.updated', at(8), { last_name: 'Older' }))).status).toBe('stale');
    const member = (await tenant()).members.edges[0]!.node;
    expect(member).toMatchObject({ lastName: 'Lunceford-Reyes', name: 'Blair Lunceford-Reyes', roles: ['admin', 'member'] });
    const [row] = await query(server.database, sql`select raw from members where external_id = ${ids.userId}`);
    expect(row!.raw).not.toHaveProperty('previous_attributes');
    expect(row!.raw).toMatchObject({ last_name: 'Lunceford-Reyes' });

    expect((await send(event('dsync.user.updated', at(11), { state: 'inactive' }))).status).toBe('applied');
    expect((await tenant()).members.edges[0]!.node.status).toBe('INACTIVE');
    expect((await send(event('connection.deactivated', at(12)))).status).toBe('applied');
    expect((await tenant()).connections.edges.find((e) => e.node.kind === 'SAML')!.node.status).toBe('INACTIVE');
    expect((await send(event('dsync.group.updated', at(13), { name: 'Platform' }))).status).toBe('applied');
    expect((await tenant()).groups.edges[0]!.node.name).toBe('Platform');
  });

  it('removes a membership, and a late older add does not bring it back', async () => {
    expect((await send(event('dsync.group.user_removed', at(20)))).status).toBe('applied');
    expect((await send(event('dsync.group.user_added', at(19)))).status).toBe('stale');
    expect((await tenant()).members.edges[0]!.node.groups.edges).toEqual([]);
    expect((await send(event('dsync.group.user_added', at(21)))).status).toBe('applied');
    expect((await tenant()).members.edges[0]!.node.groups.edges).toHaveLength(1);
  });

  it("dsync.deleted ends the directory's members and groups; a late older update does not revive them, a newer one does", async () => {
    expect((await send(event('dsync.deleted', at(30)))).status).toBe('applied');
    const view = await tenant();
    expect(view.connections.edges.find((e) => e.node.kind === 'DIRECTORY')!.node.deletedAt).not.toBeNull();
    expect(view.members.edges[0]!.node.deletedAt).not.toBeNull();
    expect(view.groups.edges[0]!.node.deletedAt).not.toBeNull();
    // Older than the directory's end: the member stays ended (its newer data may still be kept).
    await send(event('dsync.user.updated', at(25), { first_name: 'Late' }));
    expect((await tenant()).members.edges[0]!.node.deletedAt).not.toBeNull();
    // A newer event of the member itself wins, as for any deletion.
    expect((await send(event('dsync.user.updated', at(31)))).status).toBe('applied');
    expect((await tenant()).members.edges[0]!.node.deletedAt).toBeNull();
  });

  it('deletes a connection, a user, a group and the organization', async () => {
    const other = { ...ids, organizationId: `org_01DEL${tag}`, connectionId: `conn_01DEL${tag}`, directoryId: `directory_01DEL${tag}`, userId: `directory_user_01DEL${tag}`, groupId: `directory_group_01DEL${tag}` };
    for (const name of ['organization.created', 'connection.activated', 'dsync.activated', 'dsync.user.created', 'dsync.group.created']) {
      expect((await send(event(name, at(40), {}, other))).status, name).toBe('applied');
    }
    for (const name of ['connection.deleted', 'dsync.user.deleted', 'dsync.group.deleted', 'organization.deleted']) {
      expect((await send(event(name, at(41), {}, other))).status, name).toBe('applied');
    }
    const view = await tenant(other.organizationId);
    expect(view.deletedAt).not.toBeNull();
    expect(view.connections.edges.find((e) => e.node.kind === 'SAML')!.node.deletedAt).not.toBeNull();
    expect(view.members.edges[0]!.node.deletedAt).not.toBeNull();
    expect(view.groups.edges[0]!.node.deletedAt).not.toBeNull();
  });

  it('records events the directory does not hold as ignored, and keeps what it cannot read as rejected', async () => {
    const domain = { object: 'event', id: `event_01DOM${tag}`, event: 'organization_domain.verified', data: { id: 'org_domain_01X', domain: 'foo.example' }, created_at: new Date().toISOString() };
    expect((await send(domain)).status).toBe('ignored');
    const magic = event('connection.activated', new Date(), { id: `conn_01MAGIC${tag}`, connection_type: 'MagicLink' });
    expect((await send(magic)).status).toBe('ignored');

    // WorkOS's types allow a user without an organization (a directory not linked to one).
    const orphan = event('dsync.user.created', new Date(), { id: `directory_user_01ORPHAN${tag}`, organization_id: null });
    const kept = await send(orphan);
    expect(kept).toMatchObject({ status: 'rejected', rejected: 1 });
    const [row] = await query(server.database, sql`select status, reason, body from deliveries where id = ${kept.deliveryId}`);
    expect(row!.reason).toMatch(/organization_id/);
    expect(row!.body).toMatchObject({ data: { id: `directory_user_01ORPHAN${tag}` } });

    // Kept for replay: a reader that places it (here, by the test's organization, as a later
    // version might by the directory's) applies it in place.
    const workos = createWorkosSource({ secrets: [server.workosSecret], toleranceSeconds: 300 });
    const placing: SourceAdapter = {
      ...workos,
      parse: (payload, verified) => {
        const p = payload as { data: Record<string, unknown> };
        return workos.parse({ ...p, data: { ...p.data, organization_id: p.data.organization_id ?? ids.organizationId } }, verified);
      },
    };
    const report = await replayDeliveries(server.database.db, createDirectoryStore(server.database.db), [placing], { deliveryId: kept.deliveryId });
    expect(report.transitions).toEqual({ 'rejected -> applied': 1 });
    expect((await tenant()).members.edges.map((e) => e.node.externalId)).toContain(`directory_user_01ORPHAN${tag}`);

    // A time further ahead of the signature than the tolerance is not believed.
    const ahead = event('dsync.user.updated', new Date(Date.now() + 3_600_000));
    expect((await send(ahead)).status).toBe('rejected');
  });

  it('removes secrets an event carries before storing it', async () => {
    const secret = `sek_${randomBytes(20).toString('hex')}`;
    const user = event('dsync.user.created', new Date(), {
      id: `directory_user_01SECRET${tag}`,
      raw_attributes: { userName: 'x@foo-corp.example', client_secret: secret, password: secret },
    });
    const { deliveryId } = await send(user);
    const [row] = await query(server.database, sql`select body::text as body from deliveries where id = ${deliveryId}`);
    const [member] = await query(server.database, sql`select raw::text as raw from members where external_id = ${`directory_user_01SECRET${tag}`}`);
    expect(row!.body).not.toContain(secret);
    expect(member!.raw).not.toContain(secret);
  });
});
