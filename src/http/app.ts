// The Fastify application: routes and error mapping, no process concerns (see main.ts).
import { fastifyApolloDrainPlugin } from '@as-integrations/fastify';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { MAX_BODY_BYTES, MAX_GRAPHQL_BYTES } from '../config.js';
import type { DatabaseHandle } from '../db/open.js';
import type { DirectoryStore } from '../directory/store.js';
import { createApollo, createContext, type GraphQLOptions } from '../graphql/apollo.js';
import { compiledReads } from '../read/apollo-plugin.js';
import { stringifyResult } from '../read/raw-json.js';
import { createErrorFormatter } from '../graphql/format-error.js';
import type { GraphQLFanout } from '../graphql/context.js';
import type { Priority } from '../lib/priority.js';
import { buildSchema } from '../graphql/schema.js';
import type { SourceAdapter } from '../sources/types.js';
import { graphiqlRoutes } from './graphiql.js';
import { graphqlRoutes } from './graphql.js';
import { drainConnections } from './connection-drain.js';
import { attachGraphqlWs, type GraphqlWs } from './graphql-ws.js';
import { healthRoutes } from './health.js';
import { keyRateLimit } from './key-rate-limit.js';
import { databaseProbe, webhookRoutes } from './webhooks.js';
import { metricsOffRoute, metricsRoutes } from './metrics.js';
import type { Metrics } from '../metrics.js';
import { operationMetrics } from '../graphql/operation-metrics.js';

export interface AppDeps {
  database: Pick<DatabaseHandle, 'ping' | 'migrationsApplied' | 'kind' | 'lastUnavailableAt'>;
  store: DirectoryStore;
  sources: SourceAdapter[];
  logger: FastifyBaseLogger;
  /** See WebhookDeps.storeTimeoutMs. */
  storeTimeoutMs?: number;
  /** See WebhookDeps.urgent. */
  urgent?: Priority;
  graphql: Omit<GraphQLOptions, 'plugins' | 'schema' | 'stringifyResult'> & {
    corsOrigins: string[];
    /** Queries answered by one compiled statement (src/read); false: by the resolvers alone. */
    compiledReads?: boolean;
    /** GraphQL HTTP requests one key may have in progress at once (default: no limit). */
    maxConcurrentPerKey?: number;
    /**
     * GraphQL requests one key may start per minute, counted apart for HTTP and for WebSocket
     * (socket opens and operations); 0 or unset: no limit.
     */
    ratePerKeyPerMinute?: number;
  };
  /** Where subscriptions join to hear of changes. */
  fanout: GraphQLFanout;
  /** Operations one WebSocket may run at once. */
  wsMaxSubscriptions: number;
  /** WebSockets one key may hold open (default: no limit). */
  wsMaxSocketsPerKey?: number;
  /** Operations one key may run at once over all its sockets (default: no limit). */
  wsMaxSubscriptionsPerKey?: number;
  /**
   * How long a request may take to arrive, headers and body (default 30 s): a sender that
   * trickles bytes is answered 408 and cut off instead of holding a connection for ever.
   */
  requestTimeoutMs?: number;
  /**
   * How long an idle keep-alive connection is kept (default 5 s, Node's own). Fastify's default
   * of 72 s lets anyone hold connections open for free; behind a load balancer, set it above
   * the balancer's idle timeout (HTTP_KEEP_ALIVE_SECONDS) so the balancer closes first.
   */
  keepAliveTimeoutMs?: number;
  /** Prometheus metrics: recorded when given; served at /metrics on this port when `token` is set. */
  metrics?: { metrics: Metrics; token?: string };
  /** METRICS_PORT, when metrics are served on a port of their own (for what /metrics here says). */
  metricsPort?: number;
}

export interface App {
  fastify: FastifyInstance;
  /** GraphQL over WebSocket at /graphql (subscriptions). */
  ws: GraphqlWs;
  /**
   * Stop taking new deliveries (they get 503) while in-flight ones finish; connections close
   * as soon as they are idle.
   */
  stopAccepting(): void;
  /** After close(): requests that were cut off unanswered while draining. */
  unanswered(): number;
  /**
   * Stops Apollo, which drains and closes the HTTP server (Apollo's Fastify drain plugin) and
   * closes every WebSocket with 1001.
   */
  close(): Promise<void>;
}

/**
 * Fastify's request lines, at the level they deserve: a request arriving and an ordinary answer
 * at debug, a refused one (4xx: a bad key, a bad signature) at info, a failed one (5xx) at warn,
 * so the default level shows what an operator acts on and not each GraphiQL keystroke.
 */
class RequestLogLevels extends LogController {
  override incomingRequest(request: FastifyRequest): void {
    request.log.debug({ req: request }, 'incoming request');
  }

  override requestCompleted(error: Error | null | undefined, _request: FastifyRequest, reply: FastifyReply): void {
    const status = reply.statusCode;
    if (error) {
      reply.log.error({ res: reply, err: error, responseTime: reply.elapsedTime }, 'request errored');
      return;
    }
    const level = status >= 500 ? 'warn' : status >= 400 ? 'info' : 'debug';
    reply.log[level]({ res: reply, responseTime: reply.elapsedTime }, 'request completed');
  }
}

export async function buildApp(deps: AppDeps): Promise<App> {
  let accepting = true;
  const requestTimeout = deps.requestTimeoutMs ?? 30_000;
  const fastify = Fastify({
    loggerInstance: deps.logger,
    requestTimeout,
    keepAliveTimeout: deps.keepAliveTimeoutMs ?? 5000,
    // Node checks the timeouts every connectionsCheckingInterval (30 s by default), so a slow
    // request could hold on for twice its limit; check often enough that the limit holds.
    http: {
      connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(requestTimeout / 4))),
      headersTimeout: Math.min(requestTimeout, 60_000),
    },
    return503OnClosing: true,
    // Fastify would log every request twice at info: a minute of GraphiQL scrolls the banner
    // (the local key, the secrets) out of the terminal.
    logController: new RequestLogLevels(),
  });
  const drain = drainConnections(fastify.server);
  const metrics = deps.metrics?.metrics;
  if (metrics) {
    // The route's pattern (`/webhooks/polis`), never the URL a client sent: bounded labels.
    const started = new WeakMap<object, bigint>();
    fastify.addHook('onRequest', async (request) => {
      started.set(request, process.hrtime.bigint());
      metrics.httpRequestStarted(request.method);
    });
    fastify.addHook('onResponse', async (request, reply) => {
      const since = started.get(request);
      const seconds = since === undefined ? 0 : Number(process.hrtime.bigint() - since) / 1e9;
      metrics.httpRequestFinished(request.method, request.routeOptions.url ?? 'unmatched', reply.statusCode, seconds);
    });
  }

  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      const limit = request.routeOptions.bodyLimit ?? MAX_BODY_BYTES;
      const size = limit >= 1024 * 1024 ? `${limit / (1024 * 1024)} MiB` : `${limit / 1024} KiB`;
      return reply.code(413).send({ error: `body is larger than ${size}` });
    }
    if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      return reply.code(415).send({ error: 'content type must be application/json' });
    }
    const status = error.statusCode ?? 500;
    if (status >= 400 && status < 500) return reply.code(status).send({ error: error.message });
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: 'internal error' });
  });
  fastify.setNotFoundHandler((request, reply) =>
    reply.code(404).send({ error: `no route for ${request.method} ${request.url.split('?')[0]}` }),
  );

  await fastify.register(healthRoutes({ database: deps.database, sources: deps.sources, metrics: Boolean(metrics && deps.metrics?.token) }));
  await fastify.register(
    webhookRoutes({
      sources: deps.sources,
      store: deps.store,
      accepting: () => accepting,
      storeTimeoutMs: deps.storeTimeoutMs ?? 10_000,
      ...(deps.urgent ? { urgent: deps.urgent } : {}),
      databaseAnswers: databaseProbe(() => deps.database.ping(), () => deps.database.lastUnavailableAt()),
      ...(metrics ? { onOutcome: metrics.delivery } : {}),
    }),
  );

  // Apollo owns shutdown: stopping it drains in-flight operations, closes every WebSocket
  // (1001, going away) and closes Fastify.
  const schema = buildSchema();
  const ws = attachGraphqlWs({
    server: fastify.server,
    path: '/graphql',
    schema,
    db: deps.graphql.db,
    fanout: deps.fanout,
    authenticate: deps.graphql.authenticate,
    formatError: createErrorFormatter(deps.graphql),
    logger: deps.graphql.logger,
    production: deps.graphql.production,
    limits: deps.graphql.limits,
    maxSubscriptions: deps.wsMaxSubscriptions,
    maxSocketsPerKey: deps.wsMaxSocketsPerKey ?? Number.POSITIVE_INFINITY,
    maxSubscriptionsPerKey: deps.wsMaxSubscriptionsPerKey ?? Number.POSITIVE_INFINITY,
    publicRaw: deps.graphql.publicRaw,
    trustedDocuments: deps.graphql.trustedDocuments,
    maxPayload: MAX_GRAPHQL_BYTES,
    rateLimit: keyRateLimit(deps.graphql.ratePerKeyPerMinute ?? 0),
    ...(metrics ? { onOverflow: metrics.subscriptionOverflow, onOperationStarted: metrics.graphqlWsOperation } : {}),
  });
  const apollo = createApollo({
    ...deps.graphql,
    schema,
    stringifyResult,
    plugins: [
      compiledReads(deps.graphql.logger, metrics?.graphqlRead, deps.graphql.compiledReads !== false),
      fastifyApolloDrainPlugin(fastify),
      { serverWillStart: async () => ({ drainServer: () => ws.dispose() }) },
      ...(metrics ? [operationMetrics(metrics.graphqlOperation)] : []),
    ],
  });
  await apollo.start();
  await fastify.register(
    graphqlRoutes({
      apollo,
      authenticate: deps.graphql.authenticate,
      context: (authenticated) => createContext(deps.graphql, authenticated),
      corsOrigins: deps.graphql.corsOrigins,
      bodyLimit: MAX_GRAPHQL_BYTES,
      maxConcurrentPerKey: deps.graphql.maxConcurrentPerKey,
      rateLimit: keyRateLimit(deps.graphql.ratePerKeyPerMinute ?? 0),
    }),
  );
  await fastify.register(graphiqlRoutes({ graphqlPath: '/graphql' }));
  if (metrics && deps.metrics?.token) await fastify.register(metricsRoutes(metrics, deps.metrics.token));
  else await fastify.register(metricsOffRoute(deps.metricsPort));

  return {
    fastify,
    ws,
    stopAccepting: () => {
      drain.begin();
      accepting = false;
    },
    unanswered: () => drain.unanswered(),
    close: async () => {
      await apollo.stop();
      // Apollo only closes Fastify if it had started serving; make sure either way.
      if (fastify.server.listening) await fastify.close();
    },
  };
}
