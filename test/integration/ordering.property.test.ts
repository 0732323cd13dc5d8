// Property: whatever order a stream of events arrives in, with duplicates, deletes followed by
// late updates and exact timestamp ties, the directory ends in the same state as when the
// stream arrives in order. Two servers on two databases receive the same signed events: one in
// order, one shuffled with repeats; their directories must match row for row.
import { sql } from 'drizzle-orm';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backend } from '../support/backend.js';
import { query } from '../support/db.js';
import { polisRequest, post, startTestServer, stytchRequest, workosRequest, type TestServer } from '../support/server.js';
import { newSvixId } from '../support/sign.js';
import { propertyRuns } from '../support/effort.js';

let inOrder: TestServer;
let shuffled: TestServer;
beforeAll(async () => {
  [inOrder, shuffled] = await Promise.all([startTestServer(), startTestServer()]);
});
afterAll(async () => {
  await Promise.all([inOrder?.close(), shuffled?.close()]);
});

// TEST_EFFORT=10 for a longer search (support/effort.ts); PROPERTY_SEED=<seed> replays a reported failure.
const RUNS = propertyRuns(40);
const SEED = process.env.PROPERTY_SEED ? { seed: Number(process.env.PROPERTY_SEED) } : {};
let run = 0;

/** The directory of one namespace, with internal ids replaced by provider ids. */
async function directoryState(server: TestServer, ns: string): Promise<unknown> {
  const like = `${ns}%`;
  const tables = {
    tenants: await query(
      server.database,
      sql`select provider, external_id, product, name, slug, raw, live_version, deleted_at, data_version, data_hash, data_from_snapshot
          from tenants where external_id like ${like} order by external_id, product`,
    ),
    connections: await query(
      server.database,
      sql`select c.provider, c.external_id, t.external_id as tenant, c.kind, c.status, c.name, c.raw, c.live_version,
                 c.deleted_at, c.data_version, c.data_hash, c.data_from_snapshot
          from connections c left join tenants t on t.id = c.tenant_id where c.external_id like ${like} order by c.external_id`,
    ),
    members: await query(
      server.database,
      sql`select m.provider, m.external_id, t.external_id as tenant, d.external_id as directory, m.email, m.name, m.first_name,
                 m.last_name, m.status, m.roles, m.raw, m.live_version, m.deleted_at, m.data_version, m.data_hash, m.data_from_snapshot
          from members m left join tenants t on t.id = m.tenant_id left join connections d on d.id = m.connection_id
          where m.external_id like ${like} order by m.external_id`,
    ),
    groups: await query(
      server.database,
      sql`select g.provider, g.external_id, t.external_id as tenant, d.external_id as directory, g.name, g.raw, g.live_version,
                 g.deleted_at, g.data_version, g.data_hash, g.data_from_snapshot
          from groups g left join tenants t on t.id = g.tenant_id left join connections d on d.id = g.connection_id
          where g.external_id like ${like} order by g.external_id`,
    ),
    memberships: await query(
      server.database,
      sql`select x.provider, x.external_id, t.external_id as tenant, g.external_id as grp, m.external_id as member, x.raw,
                 x.live_version, x.deleted_at, x.data_version, x.data_hash, x.data_from_snapshot
          from memberships x left join tenants t on t.id = x.tenant_id left join groups g on g.id = x.group_id
          left join members m on m.id = x.member_id where x.external_id like ${like} order by x.external_id`,
    ),
  };
  return JSON.parse(JSON.stringify(tables));
}

interface Delivery {
  /** Arrival order "in order": by time, then as generated. */
  at: number;
  send: (server: TestServer) => Promise<number>;
}

/** Builds each delivery once per server, so a repeat resends the very same signed request. */
type Request = { url: string; body: string; headers: Record<string, string> };
function deliverable(at: number, make: (server: TestServer) => Request | Promise<Request>): Delivery {
  const made = new Map<TestServer, Request>();
  return {
    at,
    send: async (server) => {
      if (!made.has(server)) made.set(server, await make(server));
      const r = made.get(server)!;
      return (await post(r.url, r.body, r.headers)).status;
    },
  };
}

/** Order 1: as generated, sorted by time. Order 2: shuffled by random keys, with repeats. */
const arrivals = (count: number) =>
  fc.record({
    keys: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: count, maxLength: count }),
    repeats: fc.array(fc.record({ index: fc.nat({ max: count - 1 }), key: fc.double({ min: 0, max: 1, noNaN: true }) }), {
      maxLength: 5,
    }),
  });

async function checkOrderIndependence(deliveries: Delivery[], order: { keys: number[]; repeats: { index: number; key: number }[] }, ns: string) {
  const sorted = deliveries.map((d, i) => ({ d, i })).sort((a, b) => a.d.at - b.d.at || a.i - b.i);
  for (const { d } of sorted) expect(await d.send(inOrder)).toBe(200);

  const arrival = [
    ...deliveries.map((d, i) => ({ d, key: order.keys[i]! })),
    ...order.repeats.map((r) => ({ d: deliveries[r.index]!, key: r.key })),
  ].sort((a, b) => a.key - b.key);
  for (const { d } of arrival) expect(await d.send(shuffled)).toBe(200);

  const expected = await directoryState(inOrder, ns);
  expect(await directoryState(shuffled, ns)).toEqual(expected);
}

// --- Stytch: an organization, two members, a group and a membership ----------------------------

const stytchEvent = fc.record({
  object: fc.constantFrom('organization', 'member-1', 'member-2', 'group', 'membership'),
  action: fc.constantFrom('CREATE', 'UPDATE', 'DELETE'),
  /** Few distinct times: ties are common. */
  tick: fc.integer({ min: 0, max: 6 }),
  micro: fc.constantFrom(0, 250),
  variant: fc.integer({ min: 0, max: 2 }),
});

type StytchGen = { object: string; action: string; tick: number; micro: number; variant: number };

function stytchDelivery(ns: string, base: number, e: StytchGen): Delivery {
  const org = `${ns}org`;
  const id = `${ns}${e.object}`;
  const [objectType, key, object] = ((): [string, string, Record<string, unknown>] => {
    switch (e.object) {
      case 'organization':
        return ['organization', 'organization', { organization_id: org, organization_name: `Org v${e.variant}`, organization_slug: `org-${e.variant}` }];
      case 'group':
        return ['scim_group', 'scim_group', { group_id: id, organization_id: org, group_name: `group v${e.variant}`, connection_id: `${ns}scim` }];
      case 'membership':
        return ['scim_member_group', 'scim_group_membership', { member_group_id: id, group_id: `${ns}group`, member_id: `${ns}member-1`, organization_id: org }];
      default:
        return ['member', 'member', {
          member_id: id,
          organization_id: org,
          email_address: `${e.object}.v${e.variant}@example.com`,
          name: `Member v${e.variant}`,
          status: e.variant === 2 ? 'invited' : 'active',
          roles: [{ role_id: `role-${e.variant}` }],
        }];
    }
  })();
  const timestamp = new Date(base + e.tick).toISOString().replace('Z', `${String(e.micro).padStart(3, '0')}Z`);
  const payload: Record<string, unknown> = {
    action: e.action,
    event_id: 'webhook-event-shared',
    id,
    object_type: objectType,
    source: 'SCIM',
    timestamp,
    vertical: 'B2B',
  };
  if (e.action !== 'DELETE') payload[key] = object;
  const svixId = newSvixId();
  return deliverable(base + e.tick + e.micro / 1000, (server) => ({
    url: `${server.url}/webhooks/stytch`,
    ...stytchRequest(server.stytchSecret, payload, { id: svixId }),
  }));
}

// --- Polis: a directory, two users, a group, memberships; some events batched -------------------

const polisEvent = fc.oneof(
  fc.record({ kind: fc.constant('dsync'), action: fc.constantFrom('created', 'activated', 'deactivated', 'deleted'), variant: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ kind: fc.constant('user'), action: fc.constantFrom('created', 'updated', 'deleted'), user: fc.constantFrom(1, 2), variant: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('group'), action: fc.constantFrom('created', 'updated', 'deleted'), variant: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('membership'), action: fc.constantFrom('user_added', 'user_removed'), user: fc.constantFrom(1, 2), variant: fc.integer({ min: 0, max: 2 }) }),
);
type PolisGen = { kind: string; action: string; variant: number; user?: number };

function polisPayload(ns: string, e: PolisGen): Record<string, unknown> {
  const envelope = { tenant: `${ns}tenant`, product: 'portal' };
  const directoryId = `${ns}dir`;
  const user = (n: number) => ({
    id: `${ns}user-${n}`,
    first_name: `First${e.variant}`,
    last_name: `Last${n}`,
    email: `user${n}.v${e.variant}@example.com`,
    active: e.variant !== 1,
    ...(e.kind === 'user' ? { roles: [`r${e.variant}`] } : {}),
    raw: { userName: `user${n}@example.com`, v: e.variant },
  });
  const group = { id: `${ns}group`, name: `group v${e.variant}`, raw: { displayName: `group v${e.variant}` } };
  switch (e.kind) {
    case 'dsync':
      return { event: `dsync.${e.action}`, ...envelope, data: { id: directoryId, name: `Directory v${e.variant}`, type: 'okta-scim-v2' } };
    case 'user':
      return { event: `user.${e.action}`, ...envelope, directory_id: directoryId, data: user(e.user!) };
    case 'group':
      return { event: `group.${e.action}`, ...envelope, directory_id: directoryId, data: group };
    default:
      return { event: `group.${e.action}`, ...envelope, directory_id: directoryId, data: { ...user(e.user!), group } };
  }
}

function polisDelivery(ns: string, t: number, events: PolisGen[]): Delivery {
  const payloads = events.map((e) => polisPayload(ns, e));
  const body = payloads.length === 1 ? payloads[0] : payloads;
  return deliverable(t, (server) => ({ url: `${server.url}/webhooks/polis`, ...polisRequest(server.polisSecret, body, t) }));
}

// --- WorkOS: an organization, a directory, two users, a group and a membership ------------------

const workosEvent = fc.oneof(
  fc.record({ kind: fc.constant('organization'), action: fc.constantFrom('created', 'updated', 'deleted'), tick: fc.integer({ min: 0, max: 6 }), variant: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('dsync'), action: fc.constantFrom('activated', 'deleted'), tick: fc.integer({ min: 0, max: 6 }), variant: fc.integer({ min: 0, max: 1 }) }),
  fc.record({ kind: fc.constant('user'), action: fc.constantFrom('created', 'updated', 'deleted'), user: fc.constantFrom(1, 2), tick: fc.integer({ min: 0, max: 6 }), variant: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('group'), action: fc.constantFrom('created', 'updated', 'deleted'), tick: fc.integer({ min: 0, max: 6 }), variant: fc.integer({ min: 0, max: 2 }) }),
  fc.record({ kind: fc.constant('membership'), action: fc.constantFrom('user_added', 'user_removed'), user: fc.constantFrom(1, 2), tick: fc.integer({ min: 0, max: 6 }), variant: fc.integer({ min: 0, max: 2 }) }),
);
type WorkosGen = { kind: string; action: string; tick: number; variant: number; user?: number };

function workosDelivery(ns: string, base: number, e: WorkosGen, n: number): Delivery {
  const at = new Date(base + e.tick * 1000).toISOString();
  const organization_id = `${ns}org`;
  const directory_id = `${ns}dir`;
  const user = (u: number) => ({
    object: 'directory_user',
    id: `${ns}user-${u}`,
    directory_id,
    organization_id,
    first_name: `First${e.variant}`,
    last_name: `Last${u}`,
    email: `user${u}.v${e.variant}@example.com`,
    state: e.variant === 1 ? 'inactive' : 'active',
    roles: [{ slug: `r${e.variant}` }],
    created_at: new Date(base).toISOString(),
    updated_at: at,
  });
  const group = { object: 'directory_group', id: `${ns}group`, directory_id, organization_id, name: `group v${e.variant}`, created_at: new Date(base).toISOString(), updated_at: at };
  const data = ((): Record<string, unknown> => {
    switch (e.kind) {
      case 'organization':
        return { object: 'organization', id: organization_id, name: `Org v${e.variant}`, domains: [], created_at: new Date(base).toISOString(), updated_at: at };
      case 'dsync':
        return { object: 'directory', id: directory_id, organization_id, name: `Directory v${e.variant}`, type: 'okta scim v2.0', state: e.action === 'deleted' ? 'deleting' : 'active', created_at: new Date(base).toISOString(), updated_at: at };
      case 'user':
        return user(e.user!);
      case 'group':
        return group;
      default:
        return { directory_id, user: user(e.user!), group };
    }
  })();
  const event = e.kind === 'membership' ? `dsync.group.${e.action}` : e.kind === 'dsync' ? `dsync.${e.action}` : e.kind === 'organization' ? `organization.${e.action}` : `dsync.${e.kind}.${e.action}`;
  // Memberships are ordered by the envelope's created_at, the others by their updated_at.
  const payload = { object: 'event', id: `event_${ns}${n}`, event, data, created_at: at };
  return deliverable(base + e.tick * 1000, async (server) => ({ url: `${server.url}/webhooks/workos`, ...(await workosRequest(server.workosSecret, payload)) }));
}

describe(`order independence (${backend})`, () => {
  it('WorkOS: any arrival order, with repeats, ends in the in-order state', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(workosEvent, { minLength: 1, maxLength: 14 }).chain((events) => fc.tuple(fc.constant(events), arrivals(events.length))),
        async ([events, order]) => {
          const ns = `w${run++}-${Date.now().toString(36)}-`;
          const base = Date.now() - 100_000;
          await checkOrderIndependence(events.map((e, n) => workosDelivery(ns, base, e, n)), order, ns);
        },
      ),
      { numRuns: RUNS, ...SEED },
    );
  });

  it('Stytch: any arrival order, with repeats, ends in the in-order state', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(stytchEvent, { minLength: 1, maxLength: 14 }).chain((events) =>
          fc.tuple(fc.constant(events), arrivals(events.length)),
        ),
        async ([events, order]) => {
          const ns = `s${run++}-${Date.now().toString(36)}-`;
          const base = Date.now() - 100_000;
          await checkOrderIndependence(events.map((e) => stytchDelivery(ns, base, e)), order, ns);
        },
      ),
      { numRuns: RUNS, ...SEED },
    );
  });

  it('Polis: any arrival order, with repeats and batches, ends in the in-order state', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc
          .array(fc.record({ tick: fc.integer({ min: 0, max: 8 }), events: fc.array(polisEvent, { minLength: 1, maxLength: 3 }) }), {
            minLength: 1,
            maxLength: 12,
          })
          .chain((deliveries) => fc.tuple(fc.constant(deliveries), arrivals(deliveries.length))),
        async ([deliveries, order]) => {
          const ns = `p${run++}-${Date.now().toString(36)}-`;
          const base = Date.now() - 100_000;
          await checkOrderIndependence(
            deliveries.map((d) => polisDelivery(ns, base + d.tick, d.events)),
            order,
            ns,
          );
        },
      ),
      { numRuns: RUNS, ...SEED },
    );
  });
});
