// The directory's tables. Row types everywhere else are inferred from these.
import { sql, type SQL } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  bigserial,
  boolean,
  check,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import type { Json } from '../lib/json.js';
import {
  PROVIDERS,
  type AttributeMapping,
  type ChangeAction,
  type ConnectionKind,
  type ConnectionStatus,
  type DeliveryStatus,
  type EntityKind,
  type MemberStatus,
  type Provider,
  type RoleRule,
} from './vocabulary.js';

const tz = { withTimezone: true, mode: 'date' } as const;
/**
 * Millisecond precision for the columns lists are ordered by: a JS Date holds exactly what is
 * stored, so a cursor made from a row's `created_at` finds that row again.
 */
const tzMs = { ...tz, precision: 3 } as const;

/**
 * Columns every directory entity carries for the ordering guard (see directory/decide.ts).
 * A fresh set per table: Drizzle column builders must not be shared between tables.
 */
const versioned = () => ({
  id: uuid('id').primaryKey().defaultRandom(),
  provider: text('provider').$type<Provider>().notNull(),
  externalId: text('external_id').notNull(),
  /** Ordering key of the newest upsert or delete seen; decides whether the row is deleted. */
  liveVersion: text('live_version'),
  /** Tombstone: when the provider deleted it. A late older event can never clear it. */
  deletedAt: timestamp('deleted_at', tz),
  /** Ordering key of the event the typed columns and `raw` came from. */
  dataVersion: text('data_version'),
  /** Hash of that data: breaks exact ordering ties, and null marks a placeholder. */
  dataHash: text('data_hash'),
  /**
   * The data came from a copy embedded in another event (a user inside a membership event),
   * which ranks below the object's own events whatever their versions.
   */
  dataFromSnapshot: boolean('data_from_snapshot').notNull().default(false),
  /** The provider's object, secrets removed. */
  raw: jsonb('raw').$type<Json>(),
  createdAt: timestamp('created_at', tzMs).notNull().defaultNow(),
  updatedAt: timestamp('updated_at', tzMs).notNull().defaultNow(),
});

/**
 * Where an object's external id is unique, for providers whose ids are only trusted within a
 * tenant: Polis objects are keyed within their tenant and product (a hash of the two, see
 * sources/polis), so an event naming one tenant can never reach another tenant's object with
 * the same id. '' where ids are global (Stytch: one secret is one whole project).
 */
const scope = () => text('scope').notNull().default('');

const providerCheck = (column: string) =>
  sql.raw(`${column} in (${PROVIDERS.map((p) => `'${p}'`).join(', ')})`);

export const tenants = pgTable(
  'tenants',
  {
    ...versioned(),
    /** Ory Polis scopes tenants by product; '' where the provider has no such notion. */
    product: text('product').notNull().default(''),
    name: text('name'),
    slug: text('slug'),
  },
  (t) => [
    uniqueIndex('tenants_natural_key').on(t.provider, t.externalId, t.product),
    index('tenants_order').on(t.createdAt, t.id),
    check('tenants_provider', providerCheck('provider')),
  ],
);

/**
 * What an app made of a tenant's directory (Tenant.roleRules, Tenant.attributeMappings): its
 * own settings, set by an admin, never by a provider. One row per tenant that has any.
 */
export const tenantRules = pgTable('tenant_rules', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id),
  /** `[{ group, role, priority }]` in the order given (directory/app-roles.ts). */
  roleRules: jsonb('role_rules').$type<RoleRule[]>().notNull().default(sql`'[]'::jsonb`),
  defaultRole: text('default_role'),
  /** `[{ name, path }]`; null: the provider's defaults (sources/<provider>/attributes.ts). */
  attributeMappings: jsonb('attribute_mappings').$type<AttributeMapping[]>(),
  updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
});

export const connections = pgTable(
  'connections',
  {
    ...versioned(),
    scope: scope(),
    tenantId: uuid('tenant_id').references(() => tenants.id),
    kind: text('kind').$type<ConnectionKind>().notNull(),
    status: text('status').$type<ConnectionStatus>(),
    name: text('name'),
    /**
     * DIRECTORY connections: the newest version at which the directory was deleted. What it
     * provisioned ended then, including members and groups whose events arrive later (an
     * older event of one of them must not bring it back; a newer one still wins).
     */
    endedAtVersion: text('ended_at_version'),
  },
  (t) => [
    uniqueIndex('connections_natural_key').on(t.provider, t.scope, t.externalId),
    // Lists are read per tenant in (created_at, id) order (see graphql/pages.ts).
    index('connections_tenant_order').on(t.tenantId, t.createdAt, t.id),
    check('connections_provider', providerCheck('provider')),
    check('connections_kind', sql`${t.kind} in ('SAML', 'OIDC', 'DIRECTORY')`),
  ],
);

/**
 * What a member `search` looks in: name, email, first and last name, as one text. The filter
 * and the trigram index must spell it the same way for the index to be used.
 */
export function memberSearchText(t: {
  name: AnyPgColumn;
  email: AnyPgColumn;
  firstName: AnyPgColumn;
  lastName: AnyPgColumn;
}): SQL {
  return sql`(coalesce(${t.name}, '') || ' ' || coalesce(${t.email}, '') || ' ' || coalesce(${t.firstName}, '') || ' ' || coalesce(${t.lastName}, ''))`;
}

export const members = pgTable(
  'members',
  {
    ...versioned(),
    scope: scope(),
    tenantId: uuid('tenant_id').references(() => tenants.id),
    /** The DIRECTORY connection the member was provisioned by, if any. */
    connectionId: uuid('connection_id').references(() => connections.id),
    email: text('email'),
    name: text('name'),
    firstName: text('first_name'),
    lastName: text('last_name'),
    status: text('status').$type<MemberStatus>(),
    roles: text('roles').array().notNull().default(sql`'{}'::text[]`),
  },
  (t) => [
    uniqueIndex('members_natural_key').on(t.provider, t.scope, t.externalId),
    // Lists are read per tenant in (created_at, id) order (see graphql/pages.ts).
    index('members_tenant_order').on(t.tenantId, t.createdAt, t.id),
    index('members_connection').on(t.connectionId),
    index('members_tenant_email').on(t.tenantId, sql`lower(${t.email})`),
    // `search` (graphql/filters.ts) matches a substring of this text: a trigram index finds
    // the rows for patterns of three characters or more without reading the whole table.
    index('members_search_trgm').using('gin', sql`(${memberSearchText(t)}) gin_trgm_ops`),
    check('members_provider', providerCheck('provider')),
  ],
);

export const groups = pgTable(
  'groups',
  {
    ...versioned(),
    scope: scope(),
    tenantId: uuid('tenant_id').references(() => tenants.id),
    connectionId: uuid('connection_id').references(() => connections.id),
    name: text('name'),
  },
  (t) => [
    uniqueIndex('groups_natural_key').on(t.provider, t.scope, t.externalId),
    // Lists are read per tenant in (created_at, id) order (see graphql/pages.ts).
    index('groups_tenant_order').on(t.tenantId, t.createdAt, t.id),
    check('groups_provider', providerCheck('provider')),
  ],
);

export const memberships = pgTable(
  'memberships',
  {
    ...versioned(),
    scope: scope(),
    tenantId: uuid('tenant_id').references(() => tenants.id),
    groupId: uuid('group_id').references(() => groups.id),
    memberId: uuid('member_id').references(() => members.id),
  },
  (t) => [
    uniqueIndex('memberships_natural_key').on(t.provider, t.scope, t.externalId),
    index('memberships_group').on(t.groupId),
    index('memberships_member').on(t.memberId),
    check('memberships_provider', providerCheck('provider')),
  ],
);

/**
 * Each member's app values (Member.appRole, appRoles, attributes) as last put on the feed, by
 * hash: a recompute (directory/app-values.ts) feeds a member UPDATED only when the hash moves.
 * Null: not known yet (a member from before this table, or one first seen), set without a push.
 */
export const memberAppValues = pgTable('member_app_values', {
  memberId: uuid('member_id')
    .primaryKey()
    .references(() => members.id),
  hash: text('hash'),
});

/**
 * How far the change feed has been read for what it does to members' app values
 * (directory/app-changes.ts): every change at or below `seq` has been. One row.
 */
export const appValuesPosition = pgTable('app_values_position', {
  id: integer('id').primaryKey(),
  seq: bigint('seq', { mode: 'number' }).notNull(),
});

/**
 * Tenants whose members' app values are to be recomputed, in (created_at, id) order from after
 * the position given: their settings changed, or a big group did. Any instance works through
 * them, a chunk per transaction (directory/app-recompute.ts). A new request starts the tenant over.
 */
export const appRecomputes = pgTable('app_recomputes', {
  tenantId: uuid('tenant_id')
    .primaryKey()
    .references(() => tenants.id),
  /** Why: 'settings', 'group' or 'upgrade' (members from before app values were kept). */
  cause: text('cause').notNull(),
  afterCreatedAt: timestamp('after_created_at', tzMs),
  afterId: uuid('after_id'),
  requestedAt: timestamp('requested_at', tz).notNull().defaultNow(),
  /** Members recomputed and members whose values moved, since the request. */
  done: integer('done').notNull().default(0),
  moved: integer('moved').notNull().default(0),
});

/** Every accepted delivery, so nothing that arrived signed is lost and it can be replayed. */
export const deliveries = pgTable(
  'deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    source: text('source').notNull(),
    eventTypes: text('event_types').array().notNull(),
    status: text('status').$type<DeliveryStatus>().notNull(),
    /** Why it was ignored, when it was. */
    reason: text('reason'),
    /** The signature's timestamp: the only event time some providers give. */
    signedAt: timestamp('signed_at', tz).notNull(),
    receivedAt: timestamp('received_at', tzMs).notNull().defaultNow(),
    /** How many later deliveries repeated this one and were not applied again. */
    duplicates: integer('duplicates').notNull().default(0),
    lastDuplicateAt: timestamp('last_duplicate_at', tz),
    /** The body as received, parsed, with secrets removed. Null once pruned (see retention/). */
    body: jsonb('body').$type<Json>(),
    /** One entry per directory change: what happened to it. Null once pruned. */
    outcomes: jsonb('outcomes').$type<Json>(),
    /** When retention removed the body and outcomes (the row stays while keys or changes need it). */
    prunedAt: timestamp('pruned_at', tz),
    /** Whose it is: the source and the tenant its body names (rejected deliveries are bounded per sender). */
    sender: text('sender'),
  },
  (t) => [
    index('deliveries_received').on(t.receivedAt, t.id),
    // What retention may still strip: only this shrinking set is scanned, never the kept rows.
    index('deliveries_unpruned')
      .on(t.receivedAt)
      .where(sql`${t.prunedAt} is null and ${t.status} <> 'rejected'`),
    // Counting one sender's rejected deliveries reads only that sender's, however many others keep.
    index('deliveries_rejected_by_sender')
      .on(t.sender)
      .where(sql`${t.status} = 'rejected'`),
  ],
);

/**
 * The idempotency keys of a delivery. A delivery may have several (a Polis request signed
 * in two headers with different timestamps), and a repeat of any one of them is a duplicate.
 */
export const deliveryKeys = pgTable('delivery_keys', {
  key: text('key').primaryKey(),
  deliveryId: uuid('delivery_id')
    .notNull()
    .references(() => deliveries.id, { onDelete: 'cascade' }),
});

/**
 * The change feed: one row per applied change. `seq` is allocated under a transaction-level
 * advisory lock held until commit (see directory/feed.ts), so seq order is commit order and a
 * reader that remembers the last seq it saw never skips a row.
 */
export const changes = pgTable(
  'changes',
  {
    seq: bigserial('seq', { mode: 'number' }).primaryKey(),
    tenantId: uuid('tenant_id').references(() => tenants.id),
    entity: text('entity').$type<EntityKind>().notNull(),
    entityId: uuid('entity_id').notNull(),
    action: text('action').$type<ChangeAction>().notNull(),
    /** When the provider says it happened. */
    occurredAt: timestamp('occurred_at', tz).notNull(),
    recordedAt: timestamp('recorded_at', tz).notNull().defaultNow(),
    /**
     * The delivery whose change this is; null for a member UPDATED fed because its tenant's app
     * settings changed (or a big group did, recomputed after its delivery's commit).
     */
    deliveryId: uuid('delivery_id').references(() => deliveries.id),
    /** The W3C traceparent of the webhook that caused it, when traces are on: a push's span links to it. */
    traceParent: text('trace_parent'),
  },
  (t) => [
    index('changes_tenant_seq').on(t.tenantId, t.seq),
    index('changes_entity').on(t.entityId),
    // Retention deletes a delivery only when no change points at it (and Postgres checks the
    // foreign key on each delete): both look changes up by delivery.
    index('changes_delivery').on(t.deliveryId),
  ],
);

/**
 * How far retention has pruned the change feed: every seq at or below `prunedThrough` is gone.
 * A cursor below it would silently skip changes, so it is refused (CURSOR_EXPIRED). One row,
 * written in the same statement as the delete it describes.
 */
export const feedHorizon = pgTable('feed_horizon', {
  id: integer('id').primaryKey(),
  prunedThrough: bigint('pruned_through', { mode: 'number' }).notNull(),
});

/**
 * API keys for the GraphQL API. Only a SHA-256 of the key is kept: keys are 256-bit random,
 * so a fast hash is enough and lets a request find its key by index.
 */
export const apiKeys = pgTable(
  'api_keys',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    name: text('name').notNull(),
    /** Null: an admin key (every tenant). Otherwise the one tenant the key can see. */
    tenantId: uuid('tenant_id').references(() => tenants.id),
    keyHash: text('key_hash').notNull(),
    /** The key's first characters, to tell keys apart in listings; not enough to use it. */
    prefix: text('prefix').notNull(),
    createdAt: timestamp('created_at', tzMs).notNull().defaultNow(),
    lastUsedAt: timestamp('last_used_at', tzMs),
    revokedAt: timestamp('revoked_at', tzMs),
  },
  (t) => [uniqueIndex('api_keys_hash').on(t.keyHash)],
);

export type ReconcileRunStatus = 'running' | 'succeeded' | 'failed' | 'skipped';

/**
 * Reconciliation runs (src/reconcile): one row per tenant reconciled, from the CLI, the admin
 * mutation or the schedule, with what it changed or why it failed.
 */
export const reconcileRuns = pgTable(
  'reconcile_runs',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** `polis`, `stytch`, `workos`. */
    source: text('source').notNull(),
    /** The provider's tenant id and product (Polis), as the provider names them. */
    tenantExternalId: text('tenant_external_id').notNull(),
    product: text('product').notNull().default(''),
    /** `running`, `succeeded`, `failed`, or `skipped` (another run of the tenant was in progress). */
    status: text('status').$type<ReconcileRunStatus>().notNull(),
    dryRun: boolean('dry_run').notNull().default(false),
    /** `cli`, `api` (the admin mutation, with the key's name), `schedule`. */
    trigger: text('trigger').notNull(),
    /** Per kind: created, updated, ended, unchanged, newer. Null until it finishes. */
    counts: jsonb('counts').$type<Json>(),
    /** Objects missing from the provider's listing that it still has (not ended). */
    stillThere: integer('still_there'),
    /** Objects missing from the listing that the provider could not say of (not ended). */
    unverified: integer('unverified'),
    /** What the provider could not list whole, in words. */
    notes: text('notes').array(),
    /** Where the provider's ordered event log stood after the run (WorkOS: an event id), for the next. */
    cursor: text('cursor'),
    /** Why it failed. */
    error: text('error'),
    startedAt: timestamp('started_at', tzMs).notNull().defaultNow(),
    finishedAt: timestamp('finished_at', tzMs),
  },
  (t) => [index('reconcile_runs_started').on(t.startedAt, t.id)],
);
