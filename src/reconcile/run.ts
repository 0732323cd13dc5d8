// Reconciling one tenant with its provider: what the provider has is applied as a snapshot at
// the time the pull started, and what it no longer has is ended at that same version, both
// through the directory core like any webhook. So an event newer than the pull still wins, a
// late event older than it loses, and only what actually changed reaches the change feed and
// the live subscriptions: a second run in a row changes nothing and pushes nothing.
//
// Nothing is applied until the whole tenant has been read: a provider that fails half way
// (an error, a timeout, an answer of the wrong shape) ends the run with nothing changed. A
// stored object missing from the listing is ended only once the provider confirms it is gone.
//
// The changes are recorded as deliveries of source `reconcile:<source>` (one per part of up to
// PART events), so the delivery log shows what each run applied and what became of each change.
import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../db/open.js';
import { resultRows } from '../db/result.js';
import { connections, deliveries, groups, members, memberships, tenants } from '../db/schema.js';
import type { DirectoryStore } from '../directory/store.js';
import type { DirectoryChange, EntityKind, InboundEvent, TenantKey, Version } from '../directory/types.js';
import { makeVersion, nanosFromMillis } from '../directory/version.js';
import { hashJson } from '../lib/hash.js';
import type { PullProgress, Puller } from './types.js';

type Kind = Exclude<EntityKind, 'TENANT'>;
export const KINDS: readonly Kind[] = ['CONNECTION', 'MEMBER', 'GROUP', 'MEMBERSHIP'];

export interface KindCounts {
  created: number;
  updated: number;
  ended: number;
  unchanged: number;
  /** Left as stored because the directory holds something newer than the pull (an event that arrived meanwhile). */
  newer: number;
}

export type ReconcileProgress =
  | ({ phase: 'reading' } & PullProgress)
  | { phase: 'confirming'; done: number; total: number }
  | { phase: 'applying'; done: number; total: number };

export interface ReconcileOptions {
  dryRun?: boolean;
  /** Names the run's deliveries; default a random id. */
  runId?: string;
  onProgress?: (progress: ReconcileProgress) => void;
  now?: () => Date;
}

export interface ReconcileReport {
  runId: string;
  source: string;
  tenant: TenantKey;
  dryRun: boolean;
  /** The pull's version time: the snapshot is of this moment. */
  startedAt: Date;
  finishedAt: Date;
  counts: Record<Kind, KindCounts>;
  /** Stored objects the listing missed but the provider still has (not ended). */
  stillThere: number;
  /** Deliveries recorded (none in a dry run). */
  deliveryIds: string[];
}

/** Events per recorded delivery: bounds one transaction and one delivery row. */
const PART = 200;
/** Confirmation lookups in flight at once. */
const CONFIRM_CONCURRENCY = 4;

interface StoredRow {
  kind: Kind;
  externalId: string;
  provider: string;
  scope: string;
  /** DIRECTORY connections only: what kind of connection (for the delete's key). */
  connectionKind: string | null;
  /** External id of the directory that provisioned it (members and groups). */
  directory: string | null;
  deleted: boolean;
  dataHash: string | null;
  dataVersion: string | null;
  liveVersion: string | null;
}

const keyOf = (kind: string, externalId: string) => `${kind}|${externalId}`;
/** Zero of everything, per kind. */
export const emptyCounts = (): Record<Kind, KindCounts> =>
  Object.fromEntries(KINDS.map((k) => [k, { created: 0, updated: 0, ended: 0, unchanged: 0, newer: 0 }])) as Record<Kind, KindCounts>;

export async function reconcileTenant(
  db: Database,
  store: DirectoryStore,
  puller: Puller,
  tenant: TenantKey,
  options: ReconcileOptions = {},
): Promise<ReconcileReport> {
  const now = options.now ?? (() => new Date());
  const runId = options.runId ?? crypto.randomUUID();
  const progress = options.onProgress ?? (() => {});
  const startedAt = now();
  const version = makeVersion(nanosFromMillis(startedAt.getTime()));

  const pulled = await puller.pull(tenant, version, (p) => progress({ phase: 'reading', ...p }));
  const stored = await storedRows(db, tenant);

  const listed = new Set<string>();
  for (const event of pulled.events) {
    for (const change of event.changes) if (change.op === 'upsert') listed.add(keyOf(change.entity, change.key.externalId));
  }

  // Candidates to end: live, not listed. What a directory being ended provisioned is ended with
  // it by the core (and with every other object of it), so it needs no confirmation of its own.
  const covered = new Set(pulled.covers ?? KINDS);
  const candidates = [...stored.values()].filter((r) => !r.deleted && covered.has(r.kind) && !listed.has(keyOf(r.kind, r.externalId)));
  let ended: StoredRow[] = [];
  let stillThere = 0;
  const confirmed = await confirmAll(candidates, (row) => pulled.confirmGone(row.kind, row.externalId, row.directory), (done) =>
    progress({ phase: 'confirming', done, total: candidates.length }),
  );
  const endedDirectories = new Set(candidates.filter((r, i) => confirmed[i] && r.kind === 'CONNECTION').map((r) => r.externalId));
  candidates.forEach((row, i) => {
    if (!confirmed[i]) stillThere++;
    else if (!(row.directory && endedDirectories.has(row.directory) && (row.kind === 'MEMBER' || row.kind === 'GROUP'))) ended.push(row);
  });
  // Memberships first, directories last: the order a provider would have sent them in.
  const order: Kind[] = ['MEMBERSHIP', 'MEMBER', 'GROUP', 'CONNECTION'];
  ended = ended.sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
  const endEvents: InboundEvent[] = ended.map((row) => ({
    type: `reconcile.${row.kind.toLowerCase()}.ended`,
    changes: [endChange(row, version)],
  }));

  const counts = emptyCounts();
  const report = (deliveryIds: string[]): ReconcileReport => ({
    runId,
    source: puller.source,
    tenant,
    dryRun: options.dryRun ?? false,
    startedAt,
    finishedAt: now(),
    counts,
    stillThere,
    deliveryIds,
  });

  if (options.dryRun) {
    for (const event of [...pulled.events, ...endEvents]) {
      for (const change of event.changes) {
        if (change.op === 'snapshot' || change.entity === 'TENANT') continue;
        const before = stored.get(keyOf(change.entity, change.key.externalId));
        count(counts[change.entity], change.op, predict(before, change, version), present(before));
      }
    }
    return report([]);
  }

  const all = [...pulled.events, ...endEvents];
  const deliveryIds: string[] = [];
  for (let start = 0, part = 1; start < all.length; start += PART, part++) {
    const events = all.slice(start, start + PART);
    const result = await store.ingest({
      source: `reconcile:${puller.source}`,
      keys: [`reconcile:${runId}:${part}`],
      signedAt: startedAt,
      body: {
        reconcile: { run: runId, source: puller.source, tenant: tenant.externalId, product: tenant.product, part },
        changes: events.flatMap((e) => e.changes.map((c) => ({ entity: c.entity, op: c.op, externalId: c.key.externalId }))),
      },
      events,
    });
    deliveryIds.push(result.deliveryId);
    const [row] = await db.select({ outcomes: deliveries.outcomes }).from(deliveries).where(eq(deliveries.id, result.deliveryId));
    for (const outcome of (row?.outcomes ?? []) as { changes?: { entity: string; externalId: string; op: string; outcome: string }[] }[]) {
      for (const c of outcome.changes ?? []) {
        if (c.op === 'snapshot' || c.entity === 'TENANT') continue;
        const before = stored.get(keyOf(c.entity, c.externalId));
        count(counts[c.entity as Kind], c.op, c.outcome as 'applied' | 'stale' | 'unchanged', present(before));
      }
    }
    progress({ phase: 'applying', done: Math.min(all.length, start + PART), total: all.length });
  }
  return report(deliveryIds);
}

/** Shown by the directory before the run: stored, not ended, and not a placeholder awaiting its data. */
const present = (row: StoredRow | undefined) => row !== undefined && !row.deleted && row.dataHash !== null;

function count(counts: KindCounts, op: string, outcome: 'applied' | 'stale' | 'unchanged', wasLive: boolean): void {
  if (outcome === 'stale') counts.newer++;
  else if (outcome === 'unchanged') counts.unchanged++;
  else if (op === 'delete') counts.ended++;
  else if (wasLive) counts.updated++;
  else counts.created++;
}

/** What applying `change` would do to `row`, for a dry run: the guard's decision, simplified. */
function predict(row: StoredRow | undefined, change: DirectoryChange, version: Version): 'applied' | 'stale' | 'unchanged' {
  if (!row) return change.op === 'delete' ? 'unchanged' : 'applied';
  if (change.op === 'delete') {
    if (row.deleted) return 'unchanged';
    return row.liveVersion !== null && row.liveVersion > version ? 'stale' : 'applied';
  }
  if (row.liveVersion !== null && row.liveVersion > version) return 'stale';
  if (row.deleted) return 'applied';
  const hash = change.data === undefined ? null : hashJson(change.data);
  if (row.dataVersion !== null && row.dataVersion > version) return 'stale';
  return hash === row.dataHash ? 'unchanged' : 'applied';
}

function endChange(row: StoredRow, version: Version): DirectoryChange {
  const key = { provider: row.provider as DirectoryChange['key']['provider'], scope: row.scope, externalId: row.externalId };
  if (row.kind === 'CONNECTION') {
    return { entity: 'CONNECTION', op: 'delete', key: { ...key, kind: row.connectionKind as 'SAML' | 'OIDC' | 'DIRECTORY' }, version };
  }
  return { entity: row.kind, op: 'delete', key, version } as DirectoryChange;
}

async function confirmAll<T>(items: T[], confirm: (item: T) => Promise<boolean>, onDone: (done: number) => void): Promise<boolean[]> {
  const results: boolean[] = new Array<boolean>(items.length).fill(false);
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await confirm(items[i] as T);
      onDone(++done);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONFIRM_CONCURRENCY, items.length) }, worker));
  return results;
}

/** Every object the directory holds for the tenant, live or ended, by kind and external id. */
async function storedRows(db: Database, tenant: TenantKey): Promise<Map<string, StoredRow>> {
  const [found] = await db
    .select({ id: tenants.id })
    .from(tenants)
    .where(and(eq(tenants.provider, tenant.provider), eq(tenants.externalId, tenant.externalId), eq(tenants.product, tenant.product)));
  const rows = new Map<string, StoredRow>();
  if (!found) return rows;
  const common = (t: typeof connections | typeof members | typeof groups | typeof memberships) =>
    sql`${t.externalId} as external_id, ${t.provider} as provider, ${t.scope} as scope, ${t.deletedAt} is not null as deleted,
      ${t.dataHash} as data_hash, ${t.dataVersion} as data_version, ${t.liveVersion} as live_version`;
  type Raw = { external_id: string; provider: string; scope: string; deleted: boolean; data_hash: string | null; data_version: string | null; live_version: string | null; kind?: string; directory?: string | null };
  const add = (kind: Kind, list: Raw[]) => {
    for (const r of list) {
      rows.set(keyOf(kind, r.external_id), {
        kind,
        externalId: r.external_id,
        provider: r.provider,
        scope: r.scope,
        connectionKind: r.kind ?? null,
        directory: r.directory ?? null,
        deleted: r.deleted === true,
        dataHash: r.data_hash,
        dataVersion: r.data_version,
        liveVersion: r.live_version,
      });
    }
  };
  const of = tenant.provider;
  add('CONNECTION', resultRows<Raw>(await db.execute(sql`
    select ${common(connections)}, ${connections.kind} as kind from ${connections}
    where ${connections.tenantId} = ${found.id} and ${connections.provider} = ${of}`)));
  for (const [kind, table] of [['MEMBER', members], ['GROUP', groups]] as const) {
    add(kind, resultRows<Raw>(await db.execute(sql`
      select ${common(table)}, d.external_id as directory from ${table}
      left join ${connections} d on d.id = ${table.connectionId}
      where ${table.tenantId} = ${found.id} and ${table.provider} = ${of}`)));
  }
  add('MEMBERSHIP', resultRows<Raw>(await db.execute(sql`
    select ${common(memberships)} from ${memberships}
    where ${memberships.tenantId} = ${found.id} and ${memberships.provider} = ${of}`)));
  return rows;
}


/** The tenants of a provider the directory knows, optionally only those named. */
export async function knownTenants(db: Database, provider: TenantKey['provider'], only?: { externalId?: string; product?: string }): Promise<TenantKey[]> {
  const rows = await db
    .select({ externalId: tenants.externalId, product: tenants.product })
    .from(tenants)
    .where(
      and(
        eq(tenants.provider, provider),
        sql`${tenants.deletedAt} is null`,
        only?.externalId === undefined ? undefined : eq(tenants.externalId, only.externalId),
        only?.product === undefined ? undefined : eq(tenants.product, only.product),
      ),
    )
    .orderBy(tenants.externalId, tenants.product);
  return rows.map((r) => ({ provider, externalId: r.externalId, product: r.product }));
}
