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
import { inSpan, tracing } from '../lib/tracing.js';
import { and, eq, sql } from 'drizzle-orm';
import type { Database } from '../db/open.js';
import { resultRows } from '../db/result.js';
import { connections, deliveries, deliveryKeys, groups, members, memberships, tenants } from '../db/schema.js';
import { changeAction, decide, outcomeOf, UNSEEN, type StoredState, type Visible } from '../directory/decide.js';
import type { DirectoryStore } from '../directory/store.js';
import type { ChangeOutcome, ConnectionKind, Delivery, DirectoryChange, InboundEvent, TenantKey, Version } from '../directory/types.js';
import { makeVersion, nanosFromMillis } from '../directory/version.js';
import { hashJson } from '../lib/hash.js';
import type { Presence, PullProgress, Puller, ReconciledKind } from './types.js';

type Kind = ReconciledKind;
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
  /** Stops the run between its steps and abandons the provider's requests (its lock was lost). */
  signal?: AbortSignal;
  /** The provider's log position the tenant's last successful run left. */
  cursor?: string;
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
  /** Stored objects the listing missed and the provider could not say of (not ended). */
  unverified: number;
  /** What the provider could not list whole, in words (nothing was ended on it). */
  notes: string[];
  /** Deliveries recorded (none in a dry run). */
  deliveryIds: string[];
  /** Events read from the provider's log since the last run, applied as their own deliveries. */
  logged: number;
  /** Where the provider's log stands after this run, for the next (undefined: it keeps none). */
  cursor: string | undefined;
}

/** Events per recorded delivery: bounds one transaction and one delivery row. */
const PART = 200;
/** Confirmation lookups in flight at once. */
const CONFIRM_CONCURRENCY = 4;

interface StoredRow extends StoredState {
  kind: Kind;
  externalId: string;
  provider: string;
  scope: string;
  /** Connections: SAML, OIDC or DIRECTORY. */
  connectionKind: ConnectionKind | null;
  /** External id of the directory that provisioned it (members and groups). */
  directory: string | null;
  /** Memberships: the external ids of the member and the group. */
  member: string | null;
  group: string | null;
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
  // A trace of its own: what it stores is linked from its batches like any delivery's.
  return inSpan('reconcile', { root: true, attributes: { 'dsync.provider': tenant.provider, 'dsync.dry_run': options.dryRun === true, 'dsync.instance': tracing.instance } }, () =>
    reconcileTenantTraced(db, store, puller, tenant, options),
  );
}

async function reconcileTenantTraced(
  db: Database,
  store: DirectoryStore,
  puller: Puller,
  tenant: TenantKey,
  options: ReconcileOptions,
): Promise<ReconcileReport> {
  const now = options.now ?? (() => new Date());
  const runId = options.runId ?? crypto.randomUUID();
  const progress = options.onProgress ?? (() => {});
  const signal = options.signal;
  const startedAt = now();
  const version = makeVersion(nanosFromMillis(startedAt.getTime()));

  const pulled = await puller.pull(tenant, version, (p) => progress({ phase: 'reading', ...p }), {
    ...(signal ? { signal } : {}),
    ...(options.cursor !== undefined ? { cursor: options.cursor } : {}),
  });
  signal?.throwIfAborted();
  const stored = await storedRows(db, tenant);

  const listed = new Set<string>();
  for (const event of pulled.events) {
    for (const change of event.changes) if (change.op === 'upsert') listed.add(keyOf(change.entity, change.key.externalId));
  }

  // Candidates to end: live, not listed. Each is ended only on the provider's word for it.
  const candidates = [...stored.values()].filter((r) => !r.deleted && !listed.has(keyOf(r.kind, r.externalId)));
  const presence = await confirmAll(
    candidates,
    (row) => pulled.confirmGone({ entity: row.kind, externalId: row.externalId, connectionKind: row.connectionKind, directory: row.directory, member: row.member, group: row.group }),
    (done) => progress({ phase: 'confirming', done, total: candidates.length }),
    signal,
  );
  const gone = candidates.filter((_, i) => presence[i] === 'gone');
  const stillThere = presence.filter((p) => p === 'there').length;
  const unverified = presence.filter((p) => p === 'unknown').length;
  // What a directory being ended provisioned is ended with it by the core, so it needs no event
  // of its own. Memberships first, directories last: the order a provider would send them in.
  const endedDirectories = new Set(gone.filter((r) => r.kind === 'CONNECTION' && r.connectionKind === 'DIRECTORY').map((r) => r.externalId));
  const order: Kind[] = ['MEMBERSHIP', 'MEMBER', 'GROUP', 'CONNECTION'];
  const ended = gone
    .filter((row) => !(row.directory && endedDirectories.has(row.directory) && (row.kind === 'MEMBER' || row.kind === 'GROUP')))
    .sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
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
    unverified,
    notes: pulled.unverified,
    deliveryIds,
    logged: pulled.logged?.length ?? 0,
    cursor: pulled.cursor,
  });

  const logged = pulled.logged ?? [];
  const all = [...pulled.events, ...endEvents];
  if (options.dryRun) {
    // A logged event a webhook already brought is a duplicate and changes nothing: left out here.
    const unseen = await unclaimed(db, logged);
    for (const o of simulate(stored, [...unseen.flatMap((d) => d.events), ...all])) {
      count(counts[o.entity], o.op, o.outcome, present(stored.get(keyOf(o.entity, o.externalId))));
    }
    return report([]);
  }

  const deliveryIds: string[] = [];
  const countOutcomes = async (deliveryId: string) => {
    const [row] = await db.select({ outcomes: deliveries.outcomes }).from(deliveries).where(eq(deliveries.id, deliveryId));
    for (const outcome of (row?.outcomes ?? []) as { changes?: { entity: string; externalId: string; op: string; outcome: string }[] }[]) {
      for (const c of outcome.changes ?? []) {
        if (c.op === 'snapshot' || c.entity === 'TENANT') continue;
        count(counts[c.entity as Kind], c.op, c.outcome as ChangeOutcome, present(stored.get(keyOf(c.entity, c.externalId))));
      }
    }
  };
  // The provider's own log first, each event as the delivery its webhook would have been.
  for (const [i, delivery] of logged.entries()) {
    signal?.throwIfAborted();
    const result = await store.ingest(delivery);
    if (result.status !== 'duplicate') {
      deliveryIds.push(result.deliveryId);
      await countOutcomes(result.deliveryId);
    }
    progress({ phase: 'applying', done: i + 1, total: logged.length + all.length });
  }
  for (let start = 0, part = 1; start < all.length; start += PART, part++) {
    signal?.throwIfAborted();
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
    await countOutcomes(result.deliveryId);
    progress({ phase: 'applying', done: logged.length + Math.min(all.length, start + PART), total: logged.length + all.length });
  }
  return report(deliveryIds);
}

/** The deliveries none of whose keys is claimed yet (what a real run would not find duplicate). */
async function unclaimed(db: Database, list: Delivery[]): Promise<Delivery[]> {
  if (list.length === 0) return [];
  const keys = list.flatMap((d) => d.keys);
  const claimed = new Set(
    resultRows<{ key: string }>(await db.execute(sql`select key from ${deliveryKeys} where key in (select jsonb_array_elements_text(${JSON.stringify(keys)}::jsonb))`)).map((r) => r.key),
  );
  return list.filter((d) => !d.keys.some((k) => claimed.has(k)));
}

/** Shown by the directory before the run: stored, not ended, and not a placeholder awaiting its data. */
const present = (row: StoredRow | undefined) => row !== undefined && !row.deleted && row.dataHash !== null;

function count(counts: KindCounts, op: string, outcome: ChangeOutcome, wasLive: boolean): void {
  if (outcome === 'stale') counts.newer++;
  else if (outcome === 'unchanged') counts.unchanged++;
  else if (op === 'delete') counts.ended++;
  else if (wasLive) counts.updated++;
  else counts.created++;
}

interface SimulatedOutcome {
  entity: Kind;
  externalId: string;
  op: string;
  outcome: ChangeOutcome;
}

/**
 * What applying `events` in order would do, for a dry run: each change decided by the core's own
 * rule (decide.ts) against the stored row as the changes before it left it, and a directory's
 * end ending what it provisioned, as the core does (directory/ends.ts, endedWith). So a dry run predicts
 * the run's counts exactly, unless an event arrives between the two.
 */
function simulate(stored: Map<string, StoredRow>, events: InboundEvent[]): SimulatedOutcome[] {
  const state = new Map<string, StoredState>();
  const rowOf = (kind: string, externalId: string): StoredState | undefined => state.get(keyOf(kind, externalId)) ?? stored.get(keyOf(kind, externalId));
  const visible = (row: StoredState | undefined): Visible | undefined =>
    row && { hasData: row.dataHash !== null, deleted: row.deleted, status: null, dataHash: row.dataHash };
  const outcomes: SimulatedOutcome[] = [];
  const apply = (change: DirectoryChange) => {
    const before = rowOf(change.entity, change.key.externalId);
    const hash = change.data === undefined ? null : hashJson(change.data);
    const decision = decide(before ?? UNSEEN, { op: change.op, version: change.version, dataHash: hash });
    const after: StoredState = { ...(before ?? UNSEEN) };
    if (decision.live) Object.assign(after, { liveVersion: decision.live.version, deleted: decision.live.deleted });
    if (decision.takeData) Object.assign(after, { dataVersion: change.version, dataHash: hash, dataFromSnapshot: change.op === 'snapshot' });
    state.set(keyOf(change.entity, change.key.externalId), after);
    if (change.op !== 'snapshot' && change.entity !== 'TENANT') {
      outcomes.push({ entity: change.entity, externalId: change.key.externalId, op: change.op, outcome: outcomeOf(changeAction(visible(before), visible(after)!), decision) });
    }
  };
  for (const event of events) {
    for (const change of event.changes) {
      apply(change);
      if (change.entity === 'CONNECTION' && change.op === 'delete' && change.key.kind === 'DIRECTORY') {
        for (const kind of ['MEMBER', 'GROUP'] as const) {
          const provisioned = [...stored.values()].filter((r) => r.kind === kind && r.directory === change.key.externalId).sort((a, b) => (a.externalId < b.externalId ? -1 : 1));
          for (const r of provisioned) apply(endChange(r, change.version));
        }
      }
    }
  }
  return outcomes;
}

function endChange(row: StoredRow, version: Version): DirectoryChange {
  const key = { provider: row.provider as DirectoryChange['key']['provider'], scope: row.scope, externalId: row.externalId };
  if (row.kind === 'CONNECTION') {
    return { entity: 'CONNECTION', op: 'delete', key: { ...key, kind: row.connectionKind! }, version };
  }
  return { entity: row.kind, op: 'delete', key, version } as DirectoryChange;
}

async function confirmAll<T>(
  items: T[],
  confirm: (item: T) => Promise<Presence>,
  onDone: (done: number) => void,
  signal: AbortSignal | undefined,
): Promise<Presence[]> {
  const results: Presence[] = new Array<Presence>(items.length).fill('unknown');
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < items.length) {
      signal?.throwIfAborted();
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
      ${t.dataHash} as data_hash, ${t.dataVersion} as data_version, ${t.liveVersion} as live_version, ${t.dataFromSnapshot} as from_snapshot`;
  type Raw = {
    external_id: string;
    provider: string;
    scope: string;
    deleted: boolean;
    data_hash: string | null;
    data_version: string | null;
    live_version: string | null;
    from_snapshot: boolean | null;
    kind?: ConnectionKind;
    directory?: string | null;
    member?: string | null;
    group?: string | null;
  };
  const add = (kind: Kind, list: Raw[]) => {
    for (const r of list) {
      rows.set(keyOf(kind, r.external_id), {
        kind,
        externalId: r.external_id,
        provider: r.provider,
        scope: r.scope,
        connectionKind: r.kind ?? null,
        directory: r.directory ?? null,
        member: r.member ?? null,
        group: r.group ?? null,
        deleted: r.deleted === true,
        dataHash: r.data_hash,
        dataVersion: r.data_version,
        liveVersion: r.live_version,
        dataFromSnapshot: r.from_snapshot === true,
        status: null,
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
    select ${common(memberships)}, m.external_id as member, g.external_id as "group", d.external_id as directory
    from ${memberships}
    left join ${members} m on m.id = ${memberships.memberId}
    left join ${groups} g on g.id = ${memberships.groupId}
    left join ${connections} d on d.id = g.connection_id
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
