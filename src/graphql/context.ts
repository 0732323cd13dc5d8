// What every resolver receives: who is asking, the database, and this request's loaders.
import type { ExecutionResult } from 'graphql';
import type { Viewer } from '../auth/viewer.js';
import type { Database } from '../db/open.js';
import type { Fanout, PushTarget } from '../live/fanout.js';
import type { PublicRaw } from '../sources/types.js';
import type { Loaders } from './loaders.js';
import type { ReconcileRunRow, TenantRow } from './rows.js';
import type { ReplayFilter, ReplayReport } from '../replay.js';

/** The process's fan-out (src/live) as GraphQL uses it: batches read through loaders, payloads results. */
export type GraphQLFanout = Fanout<Loaders, ExecutionResult>;

/** What a WebSocket operation adds: the process's fan-out, and where this operation's pushes go. */
export interface LiveSession {
  fanout: GraphQLFanout;
  target: PushTarget<ExecutionResult>;
}

/**
 * Records a reconciliation run of one tenant and starts it in the background (src/reconcile);
 * answers the run as recorded, `running`. Throws ReconcileUnavailable (src/reconcile/runs.ts)
 * when `source` is not configured here.
 */
export type ReconcileStarter = (request: {
  source: string;
  tenant: TenantRow;
  dryRun: boolean;
  trigger: string;
}) => Promise<ReconcileRunRow>;

/** Runs a replay with this process's adapters and store. */
export type ReplayRunner = (filter: ReplayFilter, options: { dryRun: boolean }) => Promise<ReplayReport>;


export type { PublicRaw };

export interface GraphQLContext {
  viewer: Viewer;
  db: Database;
  publicRaw: PublicRaw;
  /**
   * Per request; each event of a subscription is executed with the event's own (shared with
   * every subscriber of that batch, see src/live/fanout.ts), so nothing cached outlives it.
   */
  loaders: Loaders;
  /** Present on WebSocket operations only. */
  live?: LiveSession;
  /** Re-reads stored deliveries (src/replay.ts); HTTP operations only. */
  replay?: ReplayRunner;
  /** Starts reconciliation runs; HTTP operations only. */
  reconcile?: ReconcileStarter;
  /** A tenant's app settings changed: its members are recomputed now, not at the next poll. */
  appSettingsChanged?: () => void;
}
