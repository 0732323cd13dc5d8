// Reconciliation inside the running service: runs started by the admin mutation go on in the
// background (the mutation answers with the run at once), and the optional schedule. Closing
// waits for the runs in progress, which are bounded by the providers' request deadlines.
import type { Logger } from 'pino';
import type { TenantKey } from '../directory/types.js';
import { executeRun, recordRun, ReconcileUnavailable, startSchedule, type RunDeps, type RunRow, type Schedule } from './runs.js';
import type { Puller } from './types.js';

export interface ReconcileService {
  start(request: { source: string; tenant: TenantKey; dryRun: boolean; trigger: string }): Promise<RunRow>;
  close(): Promise<void>;
}

export function createReconcileService(
  deps: RunDeps,
  pullers: Map<string, Puller>,
  settings: Record<string, string>,
  logger: Logger,
  intervalMs: number | undefined,
): ReconcileService {
  const running = new Set<Promise<void>>();
  const schedule: Schedule | undefined =
    intervalMs !== undefined && pullers.size > 0 ? startSchedule(deps, [...pullers.values()], intervalMs, logger) : undefined;
  if (intervalMs !== undefined && pullers.size === 0) {
    logger.warn(`RECONCILE_INTERVAL is set but no provider API is configured (${Object.values(settings).join('; or ')}): nothing is reconciled`);
  }
  return {
    async start({ source, tenant, dryRun, trigger }) {
      const puller = pullers.get(source);
      if (!puller) {
        const needs = settings[source];
        throw new ReconcileUnavailable(
          needs ? `${source} cannot be reconciled here: set ${needs}` : `${source} cannot be reconciled: the sources are ${Object.keys(settings).join(', ')}`,
        );
      }
      const request = { puller, tenant, dryRun, trigger };
      const run = await recordRun(deps, request);
      const fields = { run: run.id, source, tenant: tenant.externalId, product: tenant.product, dryRun };
      logger.info({ ...fields, trigger }, 'reconciliation started');
      const task = executeRun(deps, run, request)
        .then(({ row }) => {
          if (row.status === 'failed') logger.warn({ ...fields, error: row.error }, 'reconciliation failed; nothing of the tenant was changed');
          else logger.info({ ...fields, status: row.status, counts: row.counts }, 'reconciliation finished');
        })
        .catch((error: unknown) => logger.error({ ...fields, err: error }, 'reconciliation failed'))
        .finally(() => running.delete(task));
      running.add(task);
      return run;
    },
    async close() {
      await schedule?.stop();
      await Promise.all([...running]);
    },
  };
}
