// The Fastify application: routes and error mapping, no process concerns (see main.ts).
import Fastify, { type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import type { DatabaseHandle } from '../db/open.js';
import type { DirectoryStore } from '../directory/store.js';
import type { SourceAdapter } from '../sources/types.js';
import { healthRoutes } from './health.js';
import { webhookRoutes } from './webhooks.js';

export interface AppDeps {
  database: Pick<DatabaseHandle, 'ping' | 'migrationsApplied' | 'kind'>;
  store: DirectoryStore;
  sources: SourceAdapter[];
  logger: FastifyBaseLogger;
  /** See WebhookDeps.storeTimeoutMs. */
  storeTimeoutMs?: number;
}

export interface App {
  fastify: FastifyInstance;
  /** Stop taking new deliveries (they get 503) while in-flight ones finish. */
  stopAccepting(): void;
}

export async function buildApp(deps: AppDeps): Promise<App> {
  let accepting = true;
  const fastify = Fastify({
    loggerInstance: deps.logger,
    // Senders retry on timeouts; a slow sender must not hold a connection for ever.
    requestTimeout: 30_000,
    return503OnClosing: true,
  });

  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send({ error: 'body is larger than 1 MiB' });
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

  await fastify.register(healthRoutes({ database: deps.database, sources: deps.sources }));
  await fastify.register(
    webhookRoutes({
      sources: deps.sources,
      store: deps.store,
      accepting: () => accepting,
      storeTimeoutMs: deps.storeTimeoutMs ?? 10_000,
    }),
  );

  return {
    fastify,
    stopAccepting: () => {
      accepting = false;
    },
  };
}
