// Seeds the query benchmarks' directory with SQL: one big tenant (100,000 members, 2,000 groups,
// 300,000 memberships at scale 1) and a small second one, with deterministic ids, emails and
// group counts so every answer can be checked. Used by bench/query.ts and bench/peer-query.ts.
import { sql } from 'drizzle-orm';
import { createApiKey } from '../../src/auth/api-keys.js';
import type { Database } from '../../src/db/open.js';
import { resultRows } from '../../src/db/result.js';
import { rowCursor } from '../../src/graphql/cursors.js';
import { toGlobalId } from '../../src/graphql/ids.js';

export interface SeedOptions {
  /** Fraction of the full size (1: 100,000 members). */
  scale: number;
  /** Workers walking the member pages: each gets a start cursor. */
  concurrency: number;
  /** Members per page. */
  page: number;
}

export interface TenantSpec {
  /** Prefix of every generated id and external id, unique per tenant. */
  key: string;
  provider: 'STYTCH' | 'POLIS';
  externalId: string;
  product: string;
  name: string;
  domain: string;
  members: number;
  groups: number;
}

export const bigTenant = (scale: number): TenantSpec => ({
  key: 'acme',
  provider: 'STYTCH',
  externalId: 'organization-live-6b5c0d1e-acme',
  product: '',
  name: 'Acme Corporation',
  domain: 'acme.example',
  members: Math.round(100_000 * scale),
  groups: Math.max(20, Math.round(2_000 * scale)),
});
const smallTenant = (scale: number): TenantSpec => ({
  key: 'globex',
  provider: 'POLIS',
  externalId: 'globex',
  product: 'bench',
  name: 'Globex',
  domain: 'globex.example',
  members: Math.round(2_000 * scale),
  groups: 50,
});

/**
 * How many groups member number m is in: none for about a fifth of them, 20 for one in a hundred
 * (more than the page of 10 shows), otherwise 1, 2, 4 or 7. Exactly 3 per member on average,
 * so 100,000 members have 300,000 memberships.
 */
export const groupCount = (m: number) => (m % 100 === 0 ? 20 : ([0, 1, 2, 4, 7][m % 5] as number));
const groupCountSql = sql`(case when m % 100 = 0 then 20 else (array[0, 1, 2, 4, 7])[m % 5 + 1] end)`;

/** Member m is deleted (hidden from lists) for one in a hundred. */
const DELETED = sql`m % 100 = 37`;
export const isDeleted = (m: number) => m % 100 === 37;

/** The ordering key of an event at time `ts` (see src/directory/version.ts). */
const versionOf = (ts: ReturnType<typeof sql>) =>
  sql`lpad((floor(extract(epoch from ${ts}) * 1000)::bigint * 1000000)::text, 20, '0') || '.000000'`;

/** A deterministic uuid, so memberships can name their member and group without a join. */
const uuidOf = (key: string, kind: string, n: ReturnType<typeof sql>) => sql`md5(${`${key}-${kind}-`} || ${n})::uuid`;

async function seedTenant(db: Database, t: TenantSpec, base: string): Promise<string> {
  const tenantId = sql`md5(${`${t.key}-tenant`})::uuid`;
  const connectionId = sql`md5(${`${t.key}-connection`})::uuid`;
  const at = sql`${base}::timestamptz`;
  await db.execute(sql`
    insert into tenants (id, provider, external_id, product, name, slug, live_version, data_version, data_hash, raw, created_at, updated_at)
    values (${tenantId}, ${t.provider}, ${t.externalId}, ${t.product}, ${t.name}, ${t.key}, ${versionOf(at)}, ${versionOf(at)},
      md5(${t.externalId}), jsonb_build_object('organization_id', ${t.externalId}::text, 'organization_name', ${t.name}::text), ${at}, ${at})`);
  await db.execute(sql`
    insert into connections (id, provider, external_id, tenant_id, kind, status, name, live_version, data_version, data_hash, raw, created_at, updated_at)
    values (${connectionId}, ${t.provider}, ${`directory-${t.key}`}, ${tenantId}, 'DIRECTORY', 'ACTIVE', 'Okta SCIM',
      ${versionOf(at)}, ${versionOf(at)}, md5(${`directory-${t.key}`}), jsonb_build_object('type', 'okta-scim-v2'), ${at}, ${at})`);

  // Groups first (an hour after the tenant, one a second), then members two a second (so
  // pairs share a created_at and the id breaks the tie), then memberships after their member.
  await db.execute(sql`
    insert into groups (id, provider, external_id, tenant_id, connection_id, name, live_version, data_version, data_hash, raw, created_at, updated_at)
    select ${uuidOf(t.key, 'group', sql`g`)}, ${t.provider}, ${`scim-group-${t.key}-`} || g, ${tenantId}, ${connectionId},
      'Team ' || g, ${versionOf(sql`ts`)}, ${versionOf(sql`ts`)}, md5(${`${t.key}-group-data-`} || g),
      jsonb_build_object('id', ${`scim-group-${t.key}-`} || g, 'display_name', 'Team ' || g), ts, ts
    from (select g, ${at} + interval '1 hour' + g * interval '1 second' as ts from generate_series(0, ${t.groups - 1}::int) g) s`);

  await db.execute(sql`
    insert into members (id, provider, external_id, tenant_id, connection_id, email, name, first_name, last_name, status, roles,
      live_version, data_version, data_hash, deleted_at, raw, created_at, updated_at)
    select ${uuidOf(t.key, 'member', sql`m`)}, ${t.provider}, ext, ${tenantId}, ${connectionId},
      'user' || m || ${`@${t.domain}`}, 'First' || m || ' Last' || m, 'First' || m, 'Last' || m, status, roles,
      ${versionOf(sql`ts`)}, ${versionOf(sql`ts`)}, md5(ext || '-data'),
      case when ${DELETED} then ts + interval '30 days' end,
      jsonb_build_object('member_id', ext, 'email_address', 'user' || m || ${`@${t.domain}`}, 'name', 'First' || m || ' Last' || m,
        'status', lower(status), 'roles', to_jsonb(roles)),
      ts, ts
    from (
      select m, ${`member-live-${t.key}-`} || m as ext,
        ${at} + interval '1 day' + (m / 2) * interval '1 second' as ts,
        case when m % 50 = 1 then 'INACTIVE' when m % 50 = 2 then 'INVITED' else 'ACTIVE' end as status,
        case when m % 100 = 5 then array['stytch_member', 'stytch_admin'] else array['stytch_member'] end as roles
      from generate_series(0, ${t.members - 1}::int) m
    ) s`);

  await db.execute(sql`
    insert into memberships (id, provider, external_id, tenant_id, group_id, member_id, live_version, data_version, data_hash, raw, created_at, updated_at)
    select ${uuidOf(t.key, 'membership', sql`m || '-' || k`)}, ${t.provider}, ${`scim-membership-${t.key}-`} || m || '-' || k, ${tenantId},
      ${uuidOf(t.key, 'group', sql`((m * 7919 + k * 101) % ${t.groups}::int)`)}, ${uuidOf(t.key, 'member', sql`m`)},
      ${versionOf(sql`ts`)}, ${versionOf(sql`ts`)}, md5(${`${t.key}-membership-data-`} || m || '-' || k), '{}'::jsonb, ts, ts
    from (
      select m, k, ${at} + interval '1 day' + (m / 2) * interval '1 second' + (k + 1) * interval '1 minute' as ts
      from generate_series(0, ${t.members - 1}::int) m
      cross join lateral generate_series(0, ${groupCountSql} - 1) k
    ) s`);

  const [row] = resultRows<{ id: string }>(await db.execute(sql`select ${tenantId}::text as id`));
  return row!.id;
}

export interface Seeded {
  seedSeconds: number;
  counts: string;
  tenantId: string;
  tenantKey: string;
  /** Where each worker's walk through the member pages starts (null: the first page). */
  startCursors: (string | null)[];
  /** Global ids of the big tenant's members, for node(id). */
  memberIds: string[];
}

export async function seed(db: Database, options: SeedOptions): Promise<Seeded> {
  const { scale, concurrency: CONCURRENCY, page: PAGE } = options;
  const t0 = performance.now();
  const tenantId = await seedTenant(db, bigTenant(scale), '2025-03-01T09:00:00Z');
  await seedTenant(db, smallTenant(scale), '2025-06-01T09:00:00Z');
  await db.execute(sql`analyze`);
  const seedSeconds = (performance.now() - t0) / 1000;

  type Counts = Record<'members' | 'live' | 'groups' | 'memberships' | 'other_members' | 'other_memberships', number>;
  const [c] = resultRows<Counts>(
    await db.execute(sql`select
      (select count(*)::int from members where tenant_id = ${tenantId}) as members,
      (select count(*)::int from members where tenant_id = ${tenantId} and deleted_at is null) as live,
      (select count(*)::int from groups where tenant_id = ${tenantId}) as groups,
      (select count(*)::int from memberships where tenant_id = ${tenantId}) as memberships,
      (select count(*)::int from members where tenant_id <> ${tenantId}) as other_members,
      (select count(*)::int from memberships where tenant_id <> ${tenantId}) as other_memberships`),
  );
  const counts =
    `${c!.members} members (${c!.live} not deleted), ${c!.groups} groups, ${c!.memberships} memberships in the big tenant; ` +
    `${c!.other_members} members and ${c!.other_memberships} memberships in a second one`;

  const { key: tenantKey } = await createApiKey(db, { name: 'bench tenant key', tenantId });

  // Worker w starts after the (w/CONCURRENCY)th live member, on a page boundary.
  const pages = Math.ceil(c!.live / PAGE);
  const startCursors: (string | null)[] = [];
  for (let w = 0; w < CONCURRENCY; w++) {
    const offset = Math.floor((w * pages) / CONCURRENCY) * PAGE;
    if (offset === 0) {
      startCursors.push(null);
      continue;
    }
    const [p] = resultRows<{ id: string; ms: string }>(
      await db.execute(sql`
        select id::text as id, floor(extract(epoch from created_at) * 1000)::text as ms from members
        where tenant_id = ${tenantId} and deleted_at is null order by created_at, id offset ${offset - 1} limit 1`),
    );
    startCursors.push(rowCursor({ id: p!.id, ms: Number(p!.ms) }));
  }
  const memberIds = resultRows<{ id: string }>(
    await db.execute(sql`select id::text as id from members where tenant_id = ${tenantId}`),
  ).map((r) => toGlobalId('Member', r.id));
  return { seedSeconds, counts, tenantId, tenantKey, startCursors, memberIds };
}
