// Members' app values (Member.appRole, appRoles, attributes) worked out inside a transaction, and
// which of them moved since they were last fed. What a member's values are depends on its own
// object, its live groups and its tenant's settings, so a change to any of them can move them;
// the hash of what was last fed (member_app_values) tells a real move from a recomputation that
// lands where it was, so a change that alters nothing feeds nothing.
//
// Why the hash row is locked before anything is read: two transactions that each add one group
// to a member would otherwise each see only their own, and the later to commit would store a hash
// of half the member's groups. Locked first, the later one reads after the earlier commits. Locks
// are taken in member id order, after a transaction's other writes (or, in a recompute chunk,
// before any), so two of them never wait on each other in a circle.
import { sql, type SQL } from 'drizzle-orm';
import { resultRows } from '../db/result.js';
import { memberAppValues, members, tenantRules } from '../db/schema.js';
import { uuidArray } from '../db/uuid-array.js';
import { hashJson } from '../lib/hash.js';
import type { Json } from '../lib/json.js';
import { appRoleOf, appRolesOf, type GroupIdentity } from './app-roles.js';
import { attributesOf, type AttributeMapping } from './attributes.js';
import type { Tx } from './rows.js';
import type { Provider } from './types.js';

/** The attribute mappings a tenant that has set none gets (sources/<provider>/attributes.ts). */
export type AttributeDefaults = (provider: Provider) => readonly AttributeMapping[];

export const NO_DEFAULTS: AttributeDefaults = () => [];

/** What a tenant set (db/schema.ts tenantRules); undefined: nothing. */
export type AppSettings = Pick<typeof tenantRules.$inferSelect, 'roleRules' | 'defaultRole' | 'attributeMappings'>;

export interface AppValues {
  appRole: string | null;
  appRoles: string[];
  attributes: Record<string, Json>;
}

export interface AppInputs {
  provider: Provider;
  raw: Json | null;
  deleted: boolean;
  /** The member's live groups (a live membership of a live group); none once it is deleted. */
  groups: readonly GroupIdentity[];
}

/** A member's values, as the resolvers give them (graphql/resolvers/app-rules.ts). */
export function appValuesOf(settings: AppSettings | undefined, defaults: AttributeDefaults, member: AppInputs): AppValues {
  const rules = settings?.roleRules ?? [];
  const groups = member.deleted ? [] : member.groups;
  return {
    appRole: member.deleted ? null : appRoleOf(rules, settings?.defaultRole ?? null, groups),
    appRoles: appRolesOf(rules, groups),
    attributes: attributesOf(settings?.attributeMappings ?? defaults(member.provider), member.raw),
  };
}

/** A member whose hash is written, and why: its values moved, or it had none yet. */
export interface Recomputed {
  memberId: string;
  tenantId: string | null;
  /** The values differ from the last fed ones. */
  moved: boolean;
  /** It had no hash yet (and is no placeholder): whether that is a move is the caller's to say. */
  firstSeen: boolean;
}

export interface Recomputation {
  /** How many members were worked out. */
  count: number;
  /** Those whose hash is written: moved, or seen for the first time. */
  members: Recomputed[];
  /** Writes the new hashes: to run in the transaction, alongside its feed append. */
  write: SQL | undefined;
}

/**
 * Works out the values of the members `ids`, locking their hash rows first (creating those not
 * there yet). Run `write` before the transaction commits.
 */
export async function recomputeMembers(tx: Tx, ids: readonly string[], defaults: AttributeDefaults): Promise<Recomputation> {
  if (ids.length === 0) return { count: 0, members: [], write: undefined };
  const list = uuidArray([...ids].sort());
  // Sent at once; Postgres runs them in order, so the read takes its snapshot after the locks.
  // The upsert locks each row, new or not (in id order), and returns the hash as it stands.
  const [locked, inputs, settings] = await Promise.all([
    tx.execute(sql`
      insert into ${memberAppValues} as a (member_id)
      select id from unnest(${list}) as id order by id
      on conflict (member_id) do update set hash = a.hash
      returning member_id, hash`),
    tx.execute(sql`
      select m.id, m.tenant_id, m.provider, m.raw, m.deleted_at is not null as deleted, m.data_hash is not null as has_data,
        coalesce((
          select jsonb_agg(jsonb_build_array(g.external_id, g.name) order by g.created_at, g.id)
          from memberships ms join groups g on g.id = ms.group_id
          where ms.member_id = m.id and ms.deleted_at is null and g.deleted_at is null
        ), '[]'::jsonb) as groups
      from ${members} m where m.id = any(${list})`),
    tx.execute(sql`
      select tenant_id, role_rules, default_role, attribute_mappings from ${tenantRules}
      where tenant_id in (select tenant_id from ${members} where id = any(${list}))`),
  ]);
  const hashes = new Map(resultRows<{ member_id: string; hash: string | null }>(locked).map((r) => [r.member_id, r.hash]));
  const settingsOf = new Map(
    resultRows<{ tenant_id: string; role_rules: AppSettings['roleRules']; default_role: string | null; attribute_mappings: AttributeMapping[] | null }>(settings).map((r) => [
      r.tenant_id,
      { roleRules: r.role_rules, defaultRole: r.default_role, attributeMappings: r.attribute_mappings },
    ]),
  );
  const recomputed: Recomputed[] = [];
  const writes: [string, string][] = [];
  const rows = resultRows<{ id: string; tenant_id: string | null; provider: Provider; raw: Json | null; deleted: boolean; has_data: boolean; groups: [string, string | null][] }>(inputs);
  for (const m of rows) {
    const values = appValuesOf(m.tenant_id === null ? undefined : settingsOf.get(m.tenant_id), defaults, {
      provider: m.provider,
      raw: m.raw,
      deleted: m.deleted,
      groups: m.groups.map(([externalId, name]) => ({ externalId, name })),
    });
    const hash = hashJson(values);
    const last = hashes.get(m.id);
    if (last === hash) continue;
    writes.push([m.id, hash]);
    // A placeholder (known only from a membership) is no member to push yet.
    const known = last !== null && last !== undefined;
    recomputed.push({ memberId: m.id, tenantId: m.tenant_id, moved: known && m.has_data, firstSeen: !known && m.has_data });
  }
  const write =
    writes.length === 0
      ? undefined
      : sql`
        update ${memberAppValues} as a set hash = v.value ->> 1
        from jsonb_array_elements(${JSON.stringify(writes)}::jsonb) as v
        where a.member_id = (v.value ->> 0)::uuid and a.member_id = any(${uuidArray(writes.map(([id]) => id))})`;
  return { count: rows.length, members: recomputed, write };
}
