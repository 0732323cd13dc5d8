// Runs of reconciliation as the service and the CLI start them: each is recorded in
// reconcile_runs (status, counts, error), and at most one run of a tenant goes at a time across
// every process sharing the database; a second one asked for meanwhile is recorded as skipped.
import { and, desc, eq, isNotNull, lt } from 'drizzle-orm';
import { LockLost, type DatabaseHandle } from '../db/open.js';
import { reconcileRuns } from '../db/schema.js';
import type { DirectoryStore } from '../directory/store.js';
import type { Json, TenantKey } from '../directory/types.js';
import { ProviderError } from './provider-http.js';
import { knownTenants, reconcileTenant, type ReconcileProgress, type ReconcileReport } from './run.js';
import type { Puller } from './types.js';

export type RunRow = typeof reconcileRuns.$inferSelect;

/** The source asked for cannot be reconciled by this process (unknown, or its API not configured). */
export class ReconcileUnavailable extends Error {}

export interface RunRequest {
  puller: Puller;
  tenant: TenantKey;
  dryRun: boolean;
  /** `cli`, `schedule`, or `api: <key name>`. */
  trigger: string;
}

export interface RunDeps {
  database: Pick<DatabaseHandle, 'db' | 'exclusive'>;
  store: DirectoryStore;
}

/** The name of the lock one tenant's runs share, whatever process runs them. */
const lockName = (source: string, tenant: TenantKey) => `reconcile:${source}:${JSON.stringify([tenant.externalId, tenant.product])}`;

/** Records a run as started; `execute` then does it. Split so the API can answer with the id at once. */
export async function recordRun(deps: RunDeps, request: RunRequest): Promise<RunRow> {
  const [row] = await deps.database.db
    .insert(reconcileRuns)
    .values({
      source: request.puller.source,
      tenantExternalId: request.tenant.externalId,
      product: request.tenant.product,
      status: 'running',
      dryRun: request.dryRun,
      trigger: request.trigger,
    })
    .returning();
  return row!;
}

export interface RunOutcome {
  row: RunRow;
  /** Set when the run finished (not skipped, not failed). */
  report?: ReconcileReport;
}

/**
 * Does a recorded run under its tenant's lock and records how it ended. A provider's failure
 * ends it `failed` with the provider's reason (nothing of the tenant was changed); any other
 * error too, and is thrown again for the caller to log.
 */
export async function executeRun(
  deps: RunDeps,
  run: RunRow,
  request: RunRequest,
  onProgress?: (progress: ReconcileProgress) => void,
): Promise<RunOutcome> {
  const finish = async (values: Partial<RunRow>): Promise<RunRow> => {
    const [row] = await deps.database.db
      .update(reconcileRuns)
      .set({ ...values, finishedAt: new Date() })
      .where(eq(reconcileRuns.id, run.id))
      .returning();
    return row!;
  };
  let outcome: { ran: true; value: ReconcileReport } | { ran: false };
  try {
    outcome = await deps.database.exclusive(lockName(request.puller.source, request.tenant), async (signal) => {
      await abandoned(deps, run);
      const cursor = await lastCursor(deps.database.db, request.puller.source, request.tenant);
      return reconcileTenant(deps.database.db, deps.store, request.puller, request.tenant, {
        dryRun: request.dryRun,
        runId: run.id,
        signal,
        ...(cursor !== undefined ? { cursor } : {}),
        ...(onProgress ? { onProgress } : {}),
      });
    });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const row = await finish({ status: 'failed', error: error instanceof LockLost ? `${message}; the parts applied before stay, and the next run converges the rest` : message });
    if (error instanceof ProviderError || error instanceof LockLost) return { row };
    throw Object.assign(error instanceof Error ? error : new Error(message), { run: row });
  }
  if (!outcome.ran) {
    return { row: await finish({ status: 'skipped', error: 'another run of this tenant was in progress; nothing was read' }) };
  }
  const report = outcome.value;
  const row = await finish({
    status: 'succeeded',
    counts: report.counts as unknown as Json,
    stillThere: report.stillThere,
    unverified: report.unverified,
    notes: report.notes,
    ...(report.cursor !== undefined && !report.dryRun ? { cursor: report.cursor } : {}),
  });
  return { row, report: outcome.value };
}

/**
 * Holding the tenant's lock, no other run of it can be going on: one still marked `running` was
 * left so by a process that stopped (or lost its database) before it could say how it ended.
 */
async function abandoned(deps: RunDeps, run: RunRow): Promise<void> {
  await deps.database.db
    .update(reconcileRuns)
    .set({ status: 'failed', error: 'the process running it stopped before it finished (the parts it applied stay; a later run converges the rest)', finishedAt: new Date() })
    .where(
      and(
        eq(reconcileRuns.source, run.source),
        eq(reconcileRuns.tenantExternalId, run.tenantExternalId),
        eq(reconcileRuns.product, run.product),
        eq(reconcileRuns.status, 'running'),
        lt(reconcileRuns.startedAt, run.startedAt),
      ),
    );
}

/** Runs, newest first. */
export async function listRuns(db: DatabaseHandle['db'], options: { id?: string; limit: number }): Promise<RunRow[]> {
  return db
    .select()
    .from(reconcileRuns)
    .where(options.id === undefined ? undefined : eq(reconcileRuns.id, options.id))
    .orderBy(desc(reconcileRuns.startedAt), desc(reconcileRuns.id))
    .limit(options.limit);
}

/** The tenant's runs with this source that succeeded and changed the directory (not dry runs). */
const succeededRunsOf = (source: string, tenant: TenantKey) => [
  eq(reconcileRuns.source, source),
  eq(reconcileRuns.tenantExternalId, tenant.externalId),
  eq(reconcileRuns.product, tenant.product),
  eq(reconcileRuns.status, 'succeeded'),
  eq(reconcileRuns.dryRun, false),
];

/** Where the provider's log stood after the tenant's last successful run that kept a position. */
async function lastCursor(db: DatabaseHandle['db'], source: string, tenant: TenantKey): Promise<string | undefined> {
  const [row] = await db
    .select({ cursor: reconcileRuns.cursor })
    .from(reconcileRuns)
    .where(and(...succeededRunsOf(source, tenant), isNotNull(reconcileRuns.cursor)))
    .orderBy(desc(reconcileRuns.startedAt))
    .limit(1);
  return row?.cursor ?? undefined;
}

/** When the tenant last had a run that succeeded, if ever. */
export async function lastSucceeded(db: DatabaseHandle['db'], source: string, tenant: TenantKey): Promise<Date | undefined> {
  const [row] = await db
    .select({ at: reconcileRuns.startedAt })
    .from(reconcileRuns)
    .where(and(...succeededRunsOf(source, tenant)))
    .orderBy(desc(reconcileRuns.startedAt))
    .limit(1);
  return row?.at;
}

export interface Schedule {
  stop(): Promise<void>;
}

/**
 * Reconciles every known tenant of every puller each `intervalMs`, one tenant after another.
 * Several instances may run the schedule: a tenant that another run holds is skipped, and one
 * reconciled within the last half interval (by any process) is left alone.
 */
export function startSchedule(
  deps: RunDeps,
  pullers: Puller[],
  intervalMs: number,
  log: { info(o: object, m: string): void; warn(o: object, m: string): void },
): Schedule {
  let stopped = false;
  let running: Promise<void> | undefined;
  const round = async () => {
    for (const puller of pullers) {
      for (const tenant of await knownTenants(deps.database.db, puller.provider)) {
        if (stopped) return;
        const last = await lastSucceeded(deps.database.db, puller.source, tenant);
        if (last && Date.now() - last.getTime() < intervalMs / 2) continue;
        const request = { puller, tenant, dryRun: false, trigger: 'schedule' };
        const run = await recordRun(deps, request);
        try {
          const { row } = await executeRun(deps, run, request);
          const fields = { run: row.id, source: row.source, tenant: row.tenantExternalId, product: row.product, status: row.status };
          if (row.status === 'failed') log.warn({ ...fields, error: row.error }, 'scheduled reconciliation failed; nothing of the tenant was changed');
          else log.info({ ...fields, counts: row.counts }, 'scheduled reconciliation finished');
        } catch (error) {
          log.warn({ err: error, run: run.id }, 'scheduled reconciliation failed');
        }
      }
    }
  };
  const timer = setInterval(() => {
    if (running) return;
    running = round()
      .catch((error: unknown) => log.warn({ err: error }, 'scheduled reconciliation could not list tenants'))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}
