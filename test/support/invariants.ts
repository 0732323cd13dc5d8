// What must hold in the service's tables at any moment a reader can see them, however the
// writes that led there were interrupted: every delivery is stored whole with its keys, each
// applied change has exactly its feed row, references resolve, and replaying the feed gives
// each row's visible state. Each check returns readable violations (none when all is well) so
// a failing test says what broke, e.g. `expect(await findViolations(db)).toEqual([])`.
import { sql } from 'drizzle-orm';
import type { DatabaseHandle } from '../../src/db/open.js';
import { query, type Row } from './db.js';

const ENTITY_TABLES = {
  TENANT: 'tenants',
  CONNECTION: 'connections',
  MEMBER: 'members',
  GROUP: 'groups',
  MEMBERSHIP: 'memberships',
} as const;
type Entity = keyof typeof ENTITY_TABLES;

const PROVIDER_OF_SOURCE: Record<string, string> = { stytch: 'STYTCH', polis: 'POLIS' };

/** At most this many examples of one kind of violation, so a broken run stays readable. */
const EXAMPLES = 5;

class Violations {
  private readonly counts = new Map<string, { n: number; examples: string[] }>();
  add(invariant: string, example: string): void {
    const entry = this.counts.get(invariant) ?? { n: 0, examples: [] };
    entry.n++;
    if (entry.examples.length < EXAMPLES) entry.examples.push(example);
    this.counts.set(invariant, entry);
  }
  list(): string[] {
    return [...this.counts].map(([invariant, { n, examples }]) => `${invariant} (${n}×): ${examples.join('; ')}`);
  }
}

const str = (v: unknown) => (v === null || v === undefined ? null : String(v));

interface Outcome {
  entity: string;
  externalId: string;
  outcome: string;
}

function appliedOutcomes(outcomes: unknown): Outcome[] | undefined {
  if (!Array.isArray(outcomes)) return undefined;
  const out: Outcome[] = [];
  for (const event of outcomes as { changes?: unknown }[]) {
    if (!Array.isArray(event?.changes)) continue;
    for (const change of event.changes as Outcome[]) if (change.outcome === 'applied') out.push(change);
  }
  return out;
}

interface EntityRow {
  entity: Entity;
  id: string;
  provider: string;
  externalId: string;
  deleted: boolean;
  hasData: boolean;
}

async function entityRows(database: DatabaseHandle): Promise<Map<string, EntityRow>> {
  const rows = new Map<string, EntityRow>();
  for (const [entity, table] of Object.entries(ENTITY_TABLES) as [Entity, string][]) {
    const found = await query(
      database,
      sql`select id::text as id, provider, external_id, deleted_at is not null as deleted, data_hash is not null as has_data
          from ${sql.identifier(table)}`,
    );
    for (const r of found) {
      rows.set(String(r.id), {
        entity,
        id: String(r.id),
        provider: String(r.provider),
        externalId: String(r.external_id),
        deleted: r.deleted === true,
        hasData: r.has_data === true,
      });
    }
  }
  return rows;
}

/** Every invariant of the stored directory that does not depend on what a test sent. */
export async function findViolations(database: DatabaseHandle): Promise<string[]> {
  const v = new Violations();

  // Deliveries and their keys: a delivery is stored with all of its outcome, or not at all.
  for (const r of await query(
    database,
    sql`select d.id::text as id from deliveries d
        where not exists (select 1 from delivery_keys k where k.delivery_id = d.id)`,
  )) {
    v.add('a delivery without idempotency keys', String(r.id));
  }
  for (const r of await query(
    database,
    sql`select k.key from delivery_keys k left join deliveries d on d.id = k.delivery_id where d.id is null`,
  )) {
    v.add('a delivery key without its delivery', String(r.key));
  }

  const deliveries = await query(
    database,
    sql`select id::text as id, source, status, cardinality(event_types) as events, outcomes from deliveries`,
  );
  const byDelivery = new Map<string, Row>(deliveries.map((d) => [String(d.id), d]));
  for (const d of deliveries) {
    const outcomes = d.outcomes;
    // The outcomes are written last, in the feed's statement: a delivery whose transaction
    // was cut short would show the empty list it was claimed with.
    if (!Array.isArray(outcomes) || outcomes.length !== Number(d.events)) {
      v.add('a delivery without one outcome per event', `${String(d.id)}: ${JSON.stringify(outcomes)}`);
      continue;
    }
    const applied = appliedOutcomes(outcomes)!.length;
    if ((d.status === 'applied') !== applied > 0) {
      v.add("a delivery whose status disagrees with its outcomes", `${String(d.id)} is ${String(d.status)} with ${applied} applied`);
    }
  }

  // Every reference from one directory row to another resolves, and what has data has a tenant.
  const references: [string, string, string][] = [
    ['connections', 'tenant_id', 'tenants'],
    ['members', 'tenant_id', 'tenants'],
    ['members', 'connection_id', 'connections'],
    ['groups', 'tenant_id', 'tenants'],
    ['groups', 'connection_id', 'connections'],
    ['memberships', 'tenant_id', 'tenants'],
    ['memberships', 'group_id', 'groups'],
    ['memberships', 'member_id', 'members'],
  ];
  for (const [table, column, target] of references) {
    for (const r of await query(
      database,
      sql`select c.external_id from ${sql.identifier(table)} c
          left join ${sql.identifier(target)} t on t.id = c.${sql.identifier(column)}
          where c.${sql.identifier(column)} is not null and t.id is null`,
    )) {
      v.add(`${table}.${column} points at no ${target} row`, String(r.external_id));
    }
  }
  for (const table of ['connections', 'members', 'groups', 'memberships']) {
    for (const r of await query(
      database,
      sql`select external_id from ${sql.identifier(table)} where data_hash is not null and tenant_id is null`,
    )) {
      v.add(`${table} row with data but no tenant`, String(r.external_id));
    }
  }
  for (const r of await query(
    database,
    sql`select external_id from memberships where data_hash is not null and (group_id is null or member_id is null)`,
  )) {
    v.add('a membership with data but without its group or member', String(r.external_id));
  }
  for (const table of Object.values(ENTITY_TABLES)) {
    for (const r of await query(
      database,
      sql`select external_id from ${sql.identifier(table)}
          where (deleted_at is not null and live_version is null)
             or ((data_hash is null) <> (data_version is null))
             or (data_hash is not null and raw is null)`,
    )) {
      v.add(`${table} row whose versions disagree with its data or tombstone`, String(r.external_id));
    }
  }

  // The feed: per delivery, exactly one row per applied change, as one unbroken run of seqs.
  const rows = await entityRows(database);
  const feed = await query(
    database,
    sql`select seq::text as seq, delivery_id::text as delivery_id, entity, entity_id::text as entity_id, action
        from changes c order by c.seq`,
  );
  const feedByDelivery = new Map<string, Row[]>();
  for (const c of feed) {
    const deliveryId = String(c.delivery_id);
    if (!byDelivery.has(deliveryId)) v.add('a change without its delivery', `seq ${String(c.seq)}`);
    const list = feedByDelivery.get(deliveryId) ?? [];
    list.push(c);
    feedByDelivery.set(deliveryId, list);
    const row = rows.get(String(c.entity_id));
    if (!row || row.entity !== c.entity) v.add('a change of no such entity', `seq ${String(c.seq)} ${String(c.entity)}`);
  }
  for (const d of deliveries) {
    const deliveryId = String(d.id);
    const applied = appliedOutcomes(d.outcomes);
    if (!applied) continue;
    const provider = PROVIDER_OF_SOURCE[String(d.source)];
    const expected = new Map<string, number>();
    for (const o of applied) {
      const key = `${o.entity} ${o.externalId}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    const own = feedByDelivery.get(deliveryId) ?? [];
    const impliedTenants = new Set<string>();
    for (const c of own) {
      const row = rows.get(String(c.entity_id));
      if (!row) continue;
      const key = `${row.entity} ${row.externalId}`;
      const left = expected.get(key) ?? 0;
      if (left > 0 && (provider === undefined || row.provider === provider)) {
        expected.set(key, left - 1);
      } else if (d.source === 'polis' && row.entity === 'TENANT' && c.action === 'CREATED' && !impliedTenants.has(row.id)) {
        // A Polis event implies its tenant's whole description: creating it is a change of
        // its own, with no outcome entry.
        impliedTenants.add(row.id);
      } else {
        v.add('a change with no applied outcome in its delivery (a duplicate feed row)', `${deliveryId}: ${key} ${String(c.action)}`);
      }
    }
    for (const [key, left] of expected) {
      if (left > 0) v.add('an applied change missing from the feed', `${deliveryId}: ${key}`);
    }
    if (own.length > 0) {
      const seqs = own.map((c) => BigInt(String(c.seq)));
      const span = seqs[seqs.length - 1]! - seqs[0]! + 1n;
      // Feed rows are written under a lock held to commit: another delivery's rows in between
      // would mean seq order is not commit order.
      if (span !== BigInt(seqs.length)) {
        v.add("a delivery's feed rows interleaved with another's", `${deliveryId}: seqs ${seqs.join(',')}`);
      }
    }
  }

  // Replaying the feed walks each object through a lifecycle a reader can follow, and ends in
  // the state its row shows.
  type Life = 'absent' | 'present' | 'deleted';
  const life = new Map<string, Life>();
  for (const c of feed) {
    const id = String(c.entity_id);
    const was = life.get(id) ?? 'absent';
    const action = String(c.action);
    let next: Life | undefined;
    if (action === 'CREATED') next = was === 'present' ? undefined : 'present';
    else if (action === 'DELETED') next = was === 'deleted' ? undefined : 'deleted';
    else next = was === 'present' ? 'present' : undefined;
    if (next === undefined) {
      v.add('a change that does not follow from the one before', `seq ${String(c.seq)}: ${action} of a ${was} ${String(c.entity)}`);
      next = action === 'DELETED' ? 'deleted' : 'present';
    }
    life.set(id, next);
  }
  for (const row of rows.values()) {
    const shown: Life = row.deleted ? 'deleted' : row.hasData ? 'present' : 'absent';
    const replayed = life.get(row.id) ?? 'absent';
    if (shown !== replayed) {
      v.add('a row whose state the feed does not lead to', `${row.entity} ${row.externalId} is ${shown}, the feed says ${replayed}`);
    }
  }

  return v.list();
}

/** One 2xx a sender received: the delivery key it sent and the answer's body. */
export interface Acknowledgement {
  /** The stored idempotency key (`svix:<svix-id>` for Stytch). */
  key: string;
  deliveryId: string;
  status: string;
  applied: number;
}

/**
 * Every acknowledged delivery is stored, once, under the id the service answered with; one it
 * answered as freshly stored has exactly the status and the feed rows it reported.
 */
export async function acknowledgementViolations(database: DatabaseHandle, acks: Acknowledgement[]): Promise<string[]> {
  const v = new Violations();
  const keys = new Map(
    (await query(database, sql`select key, delivery_id::text as delivery_id from delivery_keys`)).map((r) => [
      String(r.key),
      String(r.delivery_id),
    ]),
  );
  const deliveries = new Map(
    (
      await query(
        database,
        sql`select d.id::text as id, d.status, (select count(*) from changes c where c.delivery_id = d.id)::int as feed
            from deliveries d`,
      )
    ).map((r) => [String(r.id), r]),
  );
  for (const ack of acks) {
    const stored = keys.get(ack.key);
    if (stored === undefined) {
      v.add('an acknowledged delivery key is not stored', `${ack.key} (${ack.status} as ${ack.deliveryId})`);
      continue;
    }
    if (stored !== ack.deliveryId) {
      v.add('an acknowledged key belongs to another delivery', `${ack.key}: answered ${ack.deliveryId}, stored ${stored}`);
    }
    const delivery = deliveries.get(stored);
    if (!delivery) {
      v.add('an acknowledged delivery is not stored', `${ack.key} -> ${stored}`);
      continue;
    }
    if (ack.status === 'duplicate') continue;
    if (delivery.status !== ack.status || Number(delivery.feed) !== ack.applied) {
      v.add(
        'an acknowledged delivery is stored otherwise than answered',
        `${ack.key}: answered ${ack.status} with ${ack.applied} applied, stored ${str(delivery.status)} with ${String(delivery.feed)} feed rows`,
      );
    }
  }
  return v.list();
}
