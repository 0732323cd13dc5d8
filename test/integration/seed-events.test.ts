// Every event in the provider seed pages, signed and sent over HTTP, lands as the right rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { count, entity, query, type Row } from '../support/db.js';
import { polisAll, stytchSeed, uniquify, withPayloadSecret } from '../support/fixtures.js';
import { sendPolis, sendStytch, startTestServer, type TestServer } from '../support/server.js';
import { newPayloadSecret } from '../support/sign.js';
import { sql } from 'drizzle-orm';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server?.close());

const tableOf: Record<string, 'tenants' | 'connections' | 'members' | 'groups' | 'memberships'> = {
  organization: 'tenants',
  member: 'members',
  saml_connection: 'connections',
  oidc_connection: 'connections',
  scim_group: 'groups',
  scim_member_group: 'memberships',
};

async function tenantOf(row: Row): Promise<Row | undefined> {
  const [t] = await query(server.database, sql`select * from tenants where id = ${row.tenant_id as string}`);
  return t;
}

/** Epoch nanoseconds of a Stytch timestamp, as the ordering key stores it. */
function nanos(timestamp: string): string {
  const [whole, frac = ''] = timestamp.replace('Z', '').split('.');
  const ms = Date.parse(`${whole}Z`);
  return (BigInt(ms) * 1_000_000n + BigInt(frac.padEnd(9, '0'))).toString().padStart(20, '0');
}

describe(`Stytch seed events (${backend})`, () => {
  it.each(stytchSeed.map((f) => [f.title, f] as const))('%s', async (_title, fixture) => {
    const secret = newPayloadSecret();
    const event = withPayloadSecret(uniquify(fixture.event), secret) as Record<string, unknown> & {
      id: string;
      object_type: string;
      action: string;
      timestamp: string;
      source: string;
    };
    const reply = await sendStytch(server, event);
    expect(reply.status).toBe(200);
    expect(reply.body.status).toBe('applied');

    const row = await entity(server.database, tableOf[event.object_type]!, event.id);
    expect(row, `${event.object_type} ${event.id} stored`).toBeDefined();
    expect(row!.provider).toBe('STYTCH');
    expect(row!.live_version).toBe(`${nanos(event.timestamp)}.000000`);

    const [delivery] = await query(
      server.database,
      sql`select * from deliveries where id = ${reply.body.deliveryId as string}`,
    );
    expect(delivery!.event_types).toEqual([
      `${event.source}.${event.object_type}.${event.action}`.toLowerCase(),
    ]);
    expect(delivery!.status).toBe('applied');

    if (event.action === 'DELETE') {
      // A delete of an object never seen leaves a tombstone, so its late create stays dead.
      expect(row!.deleted_at).not.toBeNull();
      expect(new Date(row!.deleted_at as string).toISOString()).toBe(
        new Date(event.timestamp).toISOString(),
      );
      expect(row!.data_hash).toBeNull();
      return;
    }
    expect(row!.deleted_at).toBeNull();
    const object = event[event.object_type === 'scim_member_group' ? 'scim_group_membership' : event.object_type] as Record<string, unknown>;
    expect(JSON.stringify(row!.raw)).not.toContain(secret);

    switch (event.object_type) {
      case 'organization':
        expect(row).toMatchObject({ name: 'test4', slug: 'test4', product: '' });
        expect(row!.raw).toEqual(object);
        break;
      case 'member': {
        expect(row).toMatchObject({
          email: 'adalovelace@stytch.example.com',
          name: 'Ada Lovelace',
          status: 'ACTIVE',
          roles: ['stytch_member'],
          connection_id: null,
        });
        const tenant = await tenantOf(row!);
        expect(tenant).toMatchObject({ external_id: object.organization_id, provider: 'STYTCH', data_hash: null });
        expect(row!.raw).toEqual(object);
        break;
      }
      case 'oidc_connection':
      case 'saml_connection': {
        expect(row).toMatchObject({
          kind: event.object_type === 'oidc_connection' ? 'OIDC' : 'SAML',
          status: 'PENDING',
          name: event.object_type === 'oidc_connection' ? 'my-oidc-connection' : 'my-saml-connection',
        });
        expect((await tenantOf(row!))?.external_id).toBe(object.organization_id);
        if (event.object_type === 'oidc_connection') {
          expect((row!.raw as Record<string, unknown>).client_secret).toBe('[redacted]');
        } else {
          // Certificates are public and kept.
          expect(row!.raw).toEqual(object);
        }
        break;
      }
      case 'scim_group': {
        expect(row!.name).toBe('my great group');
        expect((await tenantOf(row!))?.external_id).toBe(object.organization_id);
        const [directory] = await query(
          server.database,
          sql`select * from connections where id = ${row!.connection_id as string}`,
        );
        expect(directory).toMatchObject({ external_id: object.connection_id, kind: 'DIRECTORY', data_hash: null });
        break;
      }
      case 'scim_member_group': {
        const [group] = await query(server.database, sql`select * from groups where id = ${row!.group_id as string}`);
        const [member] = await query(server.database, sql`select * from members where id = ${row!.member_id as string}`);
        expect(group!.external_id).toBe(object.group_id);
        expect(member!.external_id).toBe(object.member_id);
        // Both parents arrived after their child: placeholders in the right tenant.
        expect(group!.tenant_id).toBe(row!.tenant_id);
        expect(member!.tenant_id).toBe(row!.tenant_id);
        expect((await tenantOf(row!))?.external_id).toBe(object.organization_id);
        break;
      }
      default:
        throw new Error(`untested object type ${event.object_type}`);
    }
  });

  it('takes the whole seed page as sent: 32 deliveries sharing one event_id, ties won by deletes', async () => {
    const tag = 'asis';
    const deliveriesBefore = await count(server.database, 'deliveries');
    for (const fixture of stytchSeed) {
      const reply = await sendStytch(server, uniquify(fixture.event, tag));
      expect(reply.status).toBe(200);
    }
    // Every seed event has the same event_id; svix-id is the delivery key, so none is lost.
    expect((await count(server.database, 'deliveries')) - deliveriesBefore).toBe(32);

    // Each object's create, delete and update share one timestamp: the delete wins the tie,
    // and the tombstone keeps the object's last known state.
    const member = await entity(server.database, 'members', `member-test-${tag}-0000-0000-0000-000000000000`);
    expect(member!.deleted_at).not.toBeNull();
    expect(member!.email).toBe('adalovelace@stytch.example.com');
    for (const [table, id] of [
      ['tenants', `organization-test-${tag}-0000-0000-0000-000000000000`],
      ['connections', `oidc-connection-test-${tag}-0000-0000-0000-000000000000`],
      ['connections', `saml-connection-test-${tag}-0000-0000-0000-000000000000`],
      ['groups', `scim-group-test-${tag}-0000-0000-0000-000000000000`],
      ['memberships', `scim-member-group-test-${tag}-0000-0000-0000-000000000000`],
    ] as const) {
      const row = await entity(server.database, table, id);
      expect(row?.deleted_at, `${table} ${id}`).not.toBeNull();
    }
  });
});

describe(`Ory Polis events (${backend})`, () => {
  it.each(polisAll.map((f) => [f.title, f] as const))('%s', async (title, fixture) => {
    const secret = newPayloadSecret();
    const event = withPayloadSecret(uniquify(fixture.event), secret) as {
      event: string;
      tenant: string;
      product: string;
      directory_id?: string;
      data: Record<string, unknown>;
    };
    const t = Date.now();
    const reply = await sendPolis(server, event, t);
    expect(reply.status).toBe(200);
    expect(reply.body.status).toBe('applied');

    const [group, action] = title.split('.') as [string, string];
    const version = `${(BigInt(t) * 1_000_000n).toString().padStart(20, '0')}.000000`;
    const deleted = action === 'deleted' || action === 'user_removed';
    const checkTenant = async (row: Row) => {
      const tenant = await tenantOf(row);
      expect(tenant).toMatchObject({
        provider: 'POLIS',
        external_id: event.tenant,
        product: event.product,
        name: event.tenant,
        slug: event.tenant,
      });
    };

    if (group === 'sso' || group === 'dsync') {
      const id = (group === 'sso' ? event.data.clientID : event.data.id) as string;
      const row = await entity(server.database, 'connections', id);
      expect(row).toMatchObject({
        provider: 'POLIS',
        // The seed's SAML connection sends friendlyProviderName: null (OIDC leaves it out).
        kind: group === 'sso' ? 'SAML' : 'DIRECTORY',
        status: action === 'deactivated' || action === 'deleted' ? 'INACTIVE' : 'ACTIVE',
        name: group === 'sso' ? 'SSO Connection' : 'Okta Directory',
        live_version: version,
      });
      expect(row!.deleted_at === null).toBe(!deleted);
      if (group === 'sso') expect((row!.raw as Record<string, unknown>).clientSecret).toBe('[redacted]');
      await checkTenant(row!);
      return;
    }

    const directoryId = event.directory_id!;
    const [directory] = await query(server.database, sql`select * from connections where external_id = ${directoryId}`);
    // The directory's own dsync.created never came: a placeholder, in the user's tenant.
    expect(directory).toMatchObject({ kind: 'DIRECTORY', data_hash: null });

    if (group === 'user') {
      const row = await entity(server.database, 'members', event.data.id as string);
      expect(row).toMatchObject({
        email: 'grace@acme.example',
        name: 'Grace Hopper',
        first_name: 'Grace',
        last_name: 'Hopper',
        status: action === 'deleted' ? 'INACTIVE' : 'ACTIVE',
        roles: ['engineer'],
        connection_id: directory!.id,
        live_version: version,
      });
      expect(row!.deleted_at === null).toBe(!deleted);
      expect(row!.raw).toEqual(event.data);
      await checkTenant(row!);
      return;
    }

    const groupData = (action === 'user_added' || action === 'user_removed'
      ? event.data.group
      : event.data) as Record<string, unknown>;
    const groupRow = await entity(server.database, 'groups', groupData.id as string);
    expect(groupRow).toMatchObject({ name: 'developers', connection_id: directory!.id });
    await checkTenant(groupRow!);

    if (action === 'user_added' || action === 'user_removed') {
      const member = await entity(server.database, 'members', event.data.id as string);
      // The user embedded in the event fills in the member the directory never described.
      expect(member).toMatchObject({ email: 'grace@acme.example', status: 'ACTIVE', data_from_snapshot: true });
      const membership = await entity(server.database, 'memberships', `${groupData.id as string}/${event.data.id as string}`);
      expect(membership).toMatchObject({ group_id: groupRow!.id, member_id: member!.id, live_version: version });
      expect(membership!.deleted_at === null).toBe(!deleted);
    } else {
      expect(groupRow!.live_version).toBe(version);
      expect(groupRow!.deleted_at === null).toBe(!deleted);
    }
  });

  it('handles every Polis event type there is', () => {
    const titles = new Set(polisAll.map((f) => f.title));
    expect(titles.size).toBe(16);
  });
});
