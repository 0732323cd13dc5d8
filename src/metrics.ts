// Prometheus metrics, named after the OpenTelemetry semantic conventions as Prometheus spells
// them (dots to underscores, the unit as a suffix). Each process has its own registry (tests
// run several services in one process). No label ever carries a tenant, a key, an email or an
// operation's text: every label has a small fixed set of values, so the number of series
// stays bounded whatever the traffic.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ReadCounts, ReplicaState } from './db/replicas.js';

/** What the metrics read from the running service when scraped. */
export interface MetricSources {
  /** The feed follower: the highest seq it has handed on. */
  feedPosition(): number;
  /** The newest committed seq, and when it was recorded (undefined: the feed is empty). */
  feedNewest(): Promise<{ seq: number; recordedAt: Date } | undefined>;
  /** Open WebSockets and the operations they run. */
  live(): { sockets: number; subscriptions: number };
  /** Open subscriptions by root field. */
  subscribers(): Record<string, number>;
  /** The database pool: its size, connections at work, statements waiting for one. */
  pool(): { size: number; inUse: number; waiting: number };
  /** Rejected deliveries kept (not yet replayed or pruned), by source. */
  rejectedKept(): Promise<Record<string, number>>;
  /** Read replicas' state, and where reads went (db/replicas.ts). */
  reads(): { replicas: ReplicaState[]; counts: ReadCounts };
}

export type ReadPath = 'sql' | 'sql_and_resolvers' | 'resolvers';

export interface Metrics {
  registry: Registry;
  /** The text a scrape gets. */
  scrape(): Promise<string>;
  contentType: string;
  httpRequestStarted(method: string): void;
  httpRequestFinished(method: string, route: string, status: number, seconds: number): void;
  /** A webhook delivery's outcome: applied, duplicate, ignored, stale, unchanged, rejected, or refused (4xx/5xx; 503 also when its sender keeps too many rejected). */
  delivery(source: string, outcome: string, status: number): void;
  /** A GraphQL operation over HTTP: its type (query, mutation, subscription, unknown) and outcome. */
  graphqlOperation(type: string, outcome: 'success' | 'error', seconds: number): void;
  /** How a query over HTTP was answered: sql (one compiled statement), sql_and_resolvers, or resolvers. */
  graphqlRead(path: ReadPath): void;
  /** A GraphQL operation started over WebSocket (a subscription's outcome is whether it started). */
  graphqlWsOperation(type: string, outcome: 'success' | 'error'): void;
  /** A subscriber cut off because its buffer overflowed (close 4413). */
  subscriptionOverflow(): void;
  /** Live change messages written to subscribers' sockets. */
  pushed(messages: number): void;
  /** An ingest (or replay) transaction committed: its deliveries, the changes it fed, its duration. */
  committed(c: { deliveries: number; changes: readonly { entity: string; action: string }[]; seconds: number }): void;
  /** Retention removed rows: delivery bodies, whole deliveries, or changes. */
  pruned(what: 'delivery_bodies' | 'deliveries' | 'changes' | 'reconcile_runs' | 'rejected_deliveries', rows: number): void;
  /** A retention round ended: completed, skipped (another instance held the lock), or failed. */
  retentionRun(outcome: 'completed' | 'skipped' | 'failed', seconds: number): void;
  /** A chunk of a tenant's app values recomputed in the background: members worked out, and moved (fed). */
  appRecomputed(cause: string, members: number, moved: number): void;
  /** Starts reading the service's state at scrape time. */
  attach(sources: MetricSources): void;
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']);
/** Methods outside the registered set are one value, `_OTHER`, as the conventions say. */
const method = (m: string) => (KNOWN_METHODS.has(m.toUpperCase()) ? m.toUpperCase() : '_OTHER');

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  let sources: MetricSources | undefined;

  const duration = new Histogram({
    name: 'http_server_request_duration_seconds',
    help: 'Duration of HTTP server requests.',
    labelNames: ['http_request_method', 'http_route', 'http_response_status_code'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10],
    registers: [registry],
  });
  const active = new Gauge({
    name: 'http_server_active_requests',
    help: 'Number of active HTTP server requests.',
    labelNames: ['http_request_method'],
    registers: [registry],
  });
  const deliveries = new Counter({
    name: 'directory_webhook_deliveries_total',
    help: 'Webhook deliveries by source and outcome (refused: answered 4xx/5xx, see the status code).',
    labelNames: ['source', 'outcome', 'http_response_status_code'],
    registers: [registry],
  });
  const operations = new Counter({
    name: 'graphql_server_operations_total',
    help: 'GraphQL operations by type, outcome and transport (http, websocket; over WebSocket counted when they start).',
    labelNames: ['graphql_operation_type', 'outcome', 'graphql_transport'],
    registers: [registry],
  });
  const operationDuration = new Histogram({
    name: 'graphql_server_operation_duration_seconds',
    help: 'Duration of GraphQL operations over HTTP.',
    labelNames: ['graphql_operation_type'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const changes = new Counter({
    name: 'directory_changes_total',
    help: 'Changes applied to the directory (rows of the change feed), by entity and action, as this instance committed them.',
    labelNames: ['entity', 'action'],
    registers: [registry],
  });
  const batchSize = new Histogram({
    name: 'directory_ingest_batch_deliveries',
    help: 'Deliveries applied together in one ingest transaction.',
    buckets: [1, 2, 5, 10, 20, 50, 100],
    registers: [registry],
  });
  const transactionDuration = new Histogram({
    name: 'directory_ingest_transaction_duration_seconds',
    help: 'Duration of ingest transactions, from begin to commit.',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const pushes = new Counter({
    name: 'directory_subscription_messages_total',
    help: "Live change messages written to subscribers' sockets (a replayed history's are not counted).",
    registers: [registry],
  });
  const overflows = new Counter({
    name: 'directory_subscription_overflows_total',
    help: 'Subscribers cut off because they read too slowly (WebSocket close 4413).',
    registers: [registry],
  });
  // Both lag gauges come from one read of the newest change, made when the first is collected
  // (a registry collects its metrics in the order they were registered).
  const lagSeconds = new Gauge({
    name: 'directory_feed_follower_lag_seconds',
    help: 'How long ago the newest committed change was recorded, while this instance has not handed it on (0 when caught up).',
    registers: [],
  });
  new Gauge({
    name: 'directory_feed_follower_lag',
    help: 'Committed changes not yet handed to subscribers by this instance (newest seq minus the last handed on).',
    registers: [registry],
    async collect() {
      if (!sources) return;
      const newest = await sources.feedNewest().catch(() => undefined);
      const position = sources.feedPosition();
      const behind = newest !== undefined && newest.seq > position;
      this.set(behind ? newest.seq - position : 0);
      lagSeconds.set(behind ? Math.max(0, (Date.now() - newest.recordedAt.getTime()) / 1000) : 0);
    },
  });
  registry.registerMetric(lagSeconds);
  new Gauge({
    name: 'directory_websocket_connections',
    help: 'Open GraphQL WebSockets.',
    registers: [registry],
    collect() {
      if (sources) this.set(sources.live().sockets);
    },
  });
  new Gauge({
    name: 'directory_websocket_operations',
    help: 'Operations (subscriptions and queries) running on open GraphQL WebSockets.',
    registers: [registry],
    collect() {
      if (sources) this.set(sources.live().subscriptions);
    },
  });
  const FIELDS: Record<string, string> = { TENANT: 'tenantChanged', CONNECTION: 'connectionChanged', MEMBER: 'memberChanged', GROUP: 'groupChanged' };
  new Gauge({
    name: 'directory_active_subscriptions',
    help: 'Open subscriptions by root field.',
    labelNames: ['graphql_field'],
    registers: [registry],
    collect() {
      if (!sources) return;
      for (const [kind, n] of Object.entries(sources.subscribers())) this.set({ graphql_field: FIELDS[kind] ?? kind }, n);
    },
  });
  new Gauge({
    name: 'directory_webhook_rejected_deliveries',
    help: 'Rejected deliveries kept for replay (not yet replayed or pruned), by source; each sender and tenant may keep REJECTED_MAX_PER_SENDER.',
    labelNames: ['source'],
    registers: [registry],
    async collect() {
      if (!sources) return;
      const kept = await sources.rejectedKept().catch(() => undefined);
      if (!kept) return;
      this.reset();
      for (const [source, n] of Object.entries(kept)) this.set({ source }, n);
    },
  });
  // Read replicas (DATABASE_READ_URLS): labelled by position in the list, never by URL.
  new Gauge({
    name: 'directory_db_replica_up',
    help: 'Whether each read replica answered its last check as a standby (1) or is left out (0).',
    labelNames: ['replica'],
    registers: [registry],
    collect() {
      if (!sources) return;
      for (const r of sources.reads().replicas) this.set({ replica: r.name }, r.up ? 1 : 0);
    },
  });
  new Gauge({
    name: 'directory_db_replica_lag_seconds',
    help: 'Seconds since each read replica last held everything the primary had written (0 when it did at its last check, one a second): how stale a query there may be.',
    labelNames: ['replica'],
    registers: [registry],
    collect() {
      if (!sources) return;
      for (const r of sources.reads().replicas) if (r.lagSeconds !== undefined) this.set({ replica: r.name }, r.lagSeconds);
    },
  });
  new Gauge({
    name: 'directory_db_replica_lag_bytes',
    help: 'WAL each read replica has still to replay, in bytes.',
    labelNames: ['replica'],
    registers: [registry],
    collect() {
      if (!sources) return;
      for (const r of sources.reads().replicas) if (r.lagBytes !== undefined) this.set({ replica: r.name }, r.lagBytes);
    },
  });
  new Counter({
    name: 'directory_db_reads_total',
    help: 'Reads by what they were for (query: a GraphQL query over HTTP; changes: the payloads of a batch of live changes or history) and where they went (primary or replica).',
    labelNames: ['read', 'target'],
    registers: [registry],
    collect() {
      if (!sources) return;
      this.reset();
      for (const [key, n] of Object.entries(sources.reads().counts.reads)) {
        const [read, target] = key.split(':');
        this.inc({ read: read!, target: target! }, n);
      }
    },
  });
  new Counter({
    name: 'directory_db_replica_fallbacks_total',
    help: 'Reads meant for a replica that went to the primary: behind (it had not replayed the changes yet), down (no replica usable), error (a replica failed a statement; run again on the primary).',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      if (!sources) return;
      this.reset();
      for (const [reason, n] of Object.entries(sources.reads().counts.fallbacks)) this.inc({ reason }, n);
    },
  });
  // OpenTelemetry's db.client.connection.* metrics, as Prometheus spells them.
  new Gauge({
    name: 'db_client_connection_count',
    help: 'Database connections at work (state="used").',
    labelNames: ['db_client_connection_state'],
    registers: [registry],
    collect() {
      if (sources) this.set({ db_client_connection_state: 'used' }, sources.pool().inUse);
    },
  });
  new Gauge({
    name: 'db_client_connection_max',
    help: 'Connections the database pool may open.',
    registers: [registry],
    collect() {
      if (sources) this.set(sources.pool().size);
    },
  });
  new Gauge({
    name: 'db_client_connection_pending_requests',
    help: 'Statements and transactions waiting for a database connection.',
    registers: [registry],
    collect() {
      if (sources) this.set(sources.pool().waiting);
    },
  });

  const pruned = new Counter({
    name: 'directory_retention_pruned_rows_total',
    help: 'Rows retention removed: delivery_bodies (body and outcomes of a kept delivery), deliveries, changes, reconcile_runs, rejected_deliveries (past REJECTED_RETENTION_DAYS).',
    labelNames: ['table'],
    registers: [registry],
  });
  for (const table of ['delivery_bodies', 'deliveries', 'changes', 'reconcile_runs', 'rejected_deliveries']) pruned.inc({ table }, 0);
  const reads = new Counter({
    name: 'graphql_server_reads_total',
    help: 'GraphQL queries over HTTP by how they were answered: sql (one compiled statement), sql_and_resolvers (root fields the compiler leaves ran beside it), resolvers (nothing compiled, or handed back: an argument error, GRAPHQL_READ_PATH=resolvers).',
    labelNames: ['read_path'],
    registers: [registry],
  });
  const retentionRuns = new Counter({
    name: 'directory_retention_runs_total',
    help: 'Retention rounds by outcome (skipped: another instance was pruning).',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const retentionDuration = new Histogram({
    name: 'directory_retention_run_duration_seconds',
    help: 'Duration of retention rounds this instance ran.',
    buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300],
    registers: [registry],
  });
  const retentionLast = new Gauge({
    name: 'directory_retention_last_completed_timestamp_seconds',
    help: 'When this instance last completed a retention round (Unix time; 0: never).',
    registers: [registry],
  });

  const recomputed = new Counter({
    name: 'directory_app_values_recomputed_members_total',
    help: "Members whose app values (appRole, appRoles, attributes) were worked out again in the background, by cause: changes (read from the change feed: the member, a membership or a group changed), settings (a tenant's role rules or mappings changed), group (a group of more than 1,000 members changed), upgrade.",
    labelNames: ['cause'],
    registers: [registry],
  });
  const moved = new Counter({
    name: 'directory_app_values_moved_total',
    help: 'Members fed as UPDATED because their app values moved, by cause (changes, settings, group, upgrade).',
    labelNames: ['cause'],
    registers: [registry],
  });
  for (const cause of ['changes', 'settings', 'group', 'upgrade']) {
    recomputed.inc({ cause }, 0);
    moved.inc({ cause }, 0);
  }

  return {
    registry,
    contentType: registry.contentType,
    scrape: () => registry.metrics(),
    httpRequestStarted: (m) => active.inc({ http_request_method: method(m) }),
    httpRequestFinished: (m, route, status, seconds) => {
      active.dec({ http_request_method: method(m) });
      duration.observe({ http_request_method: method(m), http_route: route, http_response_status_code: String(status) }, seconds);
    },
    delivery: (source, outcome, status) => deliveries.inc({ source, outcome, http_response_status_code: String(status) }),
    graphqlOperation: (type, outcome, seconds) => {
      operations.inc({ graphql_operation_type: type, outcome, graphql_transport: 'http' });
      operationDuration.observe({ graphql_operation_type: type }, seconds);
    },
    graphqlRead: (path) => reads.inc({ read_path: path }),
    graphqlWsOperation: (type, outcome) => operations.inc({ graphql_operation_type: type, outcome, graphql_transport: 'websocket' }),
    subscriptionOverflow: () => overflows.inc(),
    pushed: (messages) => pushes.inc(messages),
    committed: ({ deliveries: n, changes: fed, seconds }) => {
      batchSize.observe(n);
      transactionDuration.observe(seconds);
      for (const c of fed) changes.inc({ entity: c.entity, action: c.action });
    },
    pruned: (table, rows) => pruned.inc({ table }, rows),
    retentionRun: (outcome, seconds) => {
      retentionRuns.inc({ outcome });
      if (outcome === 'completed') {
        retentionDuration.observe(seconds);
        retentionLast.set(Date.now() / 1000);
      }
    },
    appRecomputed: (cause, members, movedMembers) => {
      recomputed.inc({ cause }, members);
      moved.inc({ cause }, movedMembers);
    },
    attach: (s) => {
      sources = s;
    },
  };
}
