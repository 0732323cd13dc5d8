// Wires the pieces together: directory store -> sources -> feed follower and subscription hub
// -> HTTP app (with WebSocket) -> listening, on a database the caller opened (main.ts waits for
// it; tests bring their own) and still owns.
import { randomUUID } from 'node:crypto';
import { startTelemetry, type Telemetry } from './telemetry.js';
import { loadTrustedDocuments } from './graphql/trusted-documents.js';
import { desc, eq, sql } from 'drizzle-orm';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { createAuthenticator } from './auth/api-keys.js';
import { createKeyCache } from './auth/key-cache.js';
import { watchRevocations, type RevocationWatch } from './auth/revocations.js';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/open.js';
import { changes, deliveries } from './db/schema.js';
import { metricsRoutes } from './http/metrics.js';
import { createMetrics } from './metrics.js';
import { createDirectoryStore } from './directory/store.js';
import { batchLoaders } from './graphql/subscriptions/batch.js';
import { Fanout } from './live/fanout.js';
import { followFeed } from './live/follower.js';
import { createLiveHub } from './live/hub.js';
import type { GraphQLFanout } from './graphql/context.js';
import { parseGlobalId } from './graphql/ids.js';
import { createJwtVerifier } from './auth/jwt.js';
import { withTokens } from './auth/jwt-authenticator.js';
import { tenantLookup } from './auth/tenant-lookup.js';
import { Priority } from './lib/priority.js';
import { buildApp, type App } from './http/app.js';
import { replayDeliveries } from './replay.js';
import { createReconcileService, type ReconcileService } from './reconcile/service.js';
import { createRetentionService, type RetentionService } from './retention/service.js';
import { resumeUnfinished, type Unfinished } from './unfinished.js';
import { createPullers, createSources, defaultAttributeMappings, PULLER_SETTINGS, publicRawOf } from './sources/index.js';
import { startAppRecompute, type AppRecomputeService } from './recompute.js';
import type { SourceAdapter } from './sources/types.js';

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:4000 */
  url: string;
  app: App;
  database: DatabaseHandle;
  /** Where /metrics is served on a port of its own (METRICS_PORT), if it is. */
  metricsUrl?: string;
  /** Pruning of old deliveries and changes (runs on its own schedule; runOnce for a round now). */
  retention: RetentionService;
  /** Finishing deliveries a stopped process left half applied (resume() for a look now). */
  unfinished: Unfinished;
  /** Recomputing tenants' app values after their settings changed (idle() to wait for it). */
  recompute: AppRecomputeService;
  /** Exporting traces, when OTLP is configured (flush() sends what waits). */
  telemetry: Telemetry | undefined;
  /** Stops taking deliveries and lets in-flight ones finish; the database stays open. */
  close(): Promise<void>;
}

export interface StartOptions {
  database: DatabaseHandle;
  /** How long a webhook waits for the database before answering 503 (default 10 s). */
  storeTimeoutMs?: number;
  /** The feed follower's backstop poll in ms (default 5 s; 0: notifications only). */
  feedPollMs?: number;
  /** How often open WebSockets' keys are re-checked for revocation (default 60 s). */
  keyRecheckMs?: number;
  /** See AppValuesOptions.inlineGroupMax (tests make it small). */
  inlineGroupMax?: number;
  /** See AppDeps.requestTimeoutMs (default 30 s). */
  requestTimeoutMs?: number;
  /**
   * The webhook readers (default: every source `config` enables). Tests give readers with a
   * known defect here, to show what becomes of deliveries a reader cannot read.
   */
  sources?: SourceAdapter[];
}

export async function startServer(config: Config, logger: Logger, options: StartOptions): Promise<RunningServer> {
  const { database } = options;
  const keyCache = config.apiKeyCacheMs > 0 ? createKeyCache({ maxAgeMs: config.apiKeyCacheMs }) : undefined;
  const apiKeys = createAuthenticator(database.db, {
    bootstrapKeys: config.adminApiKey ? [config.adminApiKey] : [],
    bootstrapName: config.adminApiKeyIsLocal ? 'local admin key' : 'ADMIN_API_KEY',
    ...(keyCache ? { cache: keyCache } : {}),
    onError: (error) => logger.warn({ err: error }, 'could not record an API key\'s last use'),
  });
  // Frontends' own tokens beside the API keys, when configured (auth/jwt.ts).
  const authenticate = config.jwt
    ? withTokens(apiKeys, {
        verify: await createJwtVerifier(config.jwt),
        claims: config.jwt,
        findTenant: tenantLookup(database.db, (globalId) => {
          const parsed = parseGlobalId(globalId);
          return parsed?.type === 'Tenant' ? parsed.id : undefined;
        }),
      })
    : apiKeys;
  // Traces, when an OTLP endpoint is configured: started before anything that makes spans.
  const instance = randomUUID().slice(0, 8);
  const telemetry = config.tracing ? startTelemetry(config.tracing, instance) : undefined;
  if (config.tracing) logger.info({ url: config.tracing.url, ratio: config.tracing.ratio }, 'traces: exporting spans over OTLP/HTTP');
  const trustedDocuments = config.graphqlTrustedDocuments ? await loadTrustedDocuments(config.graphqlTrustedDocuments) : undefined;
  if (trustedDocuments) {
    logger.info({ path: trustedDocuments.path, operations: trustedDocuments.count }, 'trusted documents: keys and tokens other than admin keys run only these operations');
  }
  const follower = await followFeed(database, {
    pollIntervalMs: options.feedPollMs,
    onError: (error) => logger.warn({ err: error }, 'could not read the change feed; retrying'),
  });
  const onHubError = (error: unknown) => logger.warn({ err: error }, 'subscription hub: a batch could not be preloaded or handed to a subscriber');
  const hub = createLiveHub(follower, database.db, {
    bufferLimit: config.subscriptionBuffer,
    prepare: batchLoaders(() => database.reads.forChanges(), onHubError),
    onError: onHubError,
  });
  // Webhooks first: fan-out waits while deliveries are being stored (lib/priority.ts).
  const ingestFirst = new Priority();
  const metrics = config.metrics ? createMetrics() : undefined;
  const fanout: GraphQLFanout = new Fanout(hub, { urgent: ingestFirst, instance, ...(metrics ? { onPushed: metrics.pushed } : {}) });
  const stopLive = async () => {
    await hub.stop();
    await follower.stop();
  };

  let app: App | undefined;
  let revocations: RevocationWatch | undefined;
  let reconciler: ReconcileService | undefined;
  let metricsServer: FastifyInstance | undefined;
  let retention: RetentionService | undefined;
  let unfinished: Unfinished | undefined;
  let recompute: AppRecomputeService | undefined;
  try {
    const store = createDirectoryStore(database.db, {
      batchMax: config.ingestBatchMax,
      concurrency: config.ingestConcurrency,
      maxEvents: config.webhookMaxEvents,
      rejectedPerSender: config.rejectedPerSender,
      ...(metrics ? { onCommitted: metrics.committed } : {}),
    });
    const sources = options.sources ?? createSources(config);
    reconciler = createReconcileService({ database, store }, createPullers(config), PULLER_SETTINGS, logger, config.reconcileIntervalMs);
    const runs = reconciler;
    recompute = startAppRecompute(database.db, logger, {
      attributeDefaults: defaultAttributeMappings,
      ...(options.inlineGroupMax !== undefined ? { inlineGroupMax: options.inlineGroupMax } : {}),
      urgent: ingestFirst,
      yieldMs: database.kind === 'pglite' ? 30_000 : 5000,
      ...(metrics ? { events: { recomputed: metrics.appRecomputed } } : {}),
    });
    const recomputing = recompute;
    // Each batch of feed rows any instance committed may have moved members' values.
    follower.follow(() => recomputing.kick());
    app = await buildApp({
      database,
      store,
      sources,
      logger,
      storeTimeoutMs: options.storeTimeoutMs,
      urgent: ingestFirst,
      graphql: {
        db: database.db,
        replay: (filter, { dryRun }) => replayDeliveries(database.db, store, sources, filter, { dryRun }),
        reconcile: ({ source, tenant, dryRun, trigger }) =>
          runs.start({ source, tenant: { provider: tenant.provider, externalId: tenant.externalId, product: tenant.product }, dryRun, trigger }),
        authenticate,
        publicRaw: publicRawOf(sources),
        appSettingsChanged: () => recomputing.kick(),
        ...(trustedDocuments ? { trustedDocuments } : {}),
        ...(database.reads.size > 0 ? { readsForQuery: () => database.reads.forQuery() } : {}),
        logger,
        production: config.env === 'production',
        limits: config.graphqlLimits,
        compiledReads: config.graphqlCompiledReads,
        corsOrigins: config.corsOrigins,
        maxConcurrentPerKey: config.graphqlMaxConcurrentPerKey,
        ratePerKeyPerMinute: config.graphqlRatePerKey,
      },
      fanout,
      wsMaxSubscriptions: config.wsMaxSubscriptions,
      wsMaxSocketsPerKey: config.wsMaxSocketsPerKey,
      wsMaxSubscriptionsPerKey: config.wsMaxSubscriptionsPerKey,
      requestTimeoutMs: options.requestTimeoutMs,
      keepAliveTimeoutMs: config.keepAliveTimeoutMs,
      ...(metrics ? { metrics: { metrics, ...(config.metrics?.token ? { token: config.metrics.token } : {}) } } : {}),
      ...(config.metrics?.port !== undefined ? { metricsPort: config.metrics.port } : {}),
    });
    const { ws } = app;
    metrics?.attach({
      feedPosition: () => hub.position,
      feedNewest: async () => {
        const [row] = await database.db.select({ seq: changes.seq, recordedAt: changes.recordedAt }).from(changes).orderBy(desc(changes.seq)).limit(1);
        return row;
      },
      live: () => ws.stats(),
      subscribers: () => fanout.subscribers(),
      pool: () => database.poolUse(),
      reads: () => ({ replicas: database.reads.replicas(), counts: database.reads.counts() }),
      rejectedKept: async () => {
        const rows = await database.db
          .select({ source: deliveries.source, n: sql<number>`count(*)::int` })
          .from(deliveries)
          .where(eq(deliveries.status, 'rejected'))
          .groupBy(deliveries.source);
        return Object.fromEntries(rows.map((r) => [r.source, r.n]));
      },
    });
    if (metrics && config.metrics?.port !== undefined) {
      metricsServer = Fastify({ loggerInstance: logger as FastifyBaseLogger });
      await metricsServer.register(metricsRoutes(metrics, undefined));
      await metricsServer.listen({ port: config.metrics.port, host: config.metrics.host });
    }
    revocations = await watchRevocations(database, {
      activeKeyIds: () => ws.activeKeyIds(),
      onRevoked: (keyIds) => {
        keyCache?.forget(keyIds);
        ws.closeKeys(keyIds);
      },
      onListening: (up) => keyCache?.listening(up),
      intervalMs: options.keyRecheckMs,
      onError: (error) => logger.warn({ err: error }, 'could not re-check the API keys of open WebSockets'),
    });
    const listening = new Date();
    await app.fastify.listen({ port: config.port, host: config.host });
    unfinished = resumeUnfinished({ db: database.db, store, sources, soleOwner: database.kind === 'pglite', startedAt: listening }, logger);
    retention = createRetentionService(
      database,
      config.retention,
      logger,
      metrics ? { pruned: metrics.pruned, run: metrics.retentionRun } : undefined,
    );
  } catch (error) {
    await telemetry?.stop();
    await recompute?.stop();
    await retention?.stop();
    await unfinished?.stop();
    await revocations?.stop();
    await reconciler?.close();
    await metricsServer?.close();
    await app?.close();
    await stopLive();
    throw error;
  }
  const address = app.fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  const urlOf = (p: number) => `http://${host.includes(':') ? `[${host}]` : host}:${p}`;
  const metricsAddress = metricsServer?.server.address();
  return {
    url: urlOf(port),
    ...(metricsAddress && typeof metricsAddress === 'object' ? { metricsUrl: `${urlOf(metricsAddress.port)}/metrics` } : {}),
    app,
    database,
    retention,
    unfinished,
    recompute,
    telemetry,
    close: async () => {
      await recompute.stop();
      await retention.stop();
      await unfinished.stop();
      app.stopAccepting();
      await app.close();
      const unanswered = app.unanswered();
      if (unanswered > 0) {
        logger.warn(
          { requests: unanswered },
          'requests still in progress were cut off by the shutdown; none was acknowledged, so their senders retry',
        );
      }
      await revocations.stop();
      await reconciler?.close();
      await metricsServer?.close();
      await stopLive();
      await authenticate.flush();
      await telemetry?.stop();
    },
  };
}
