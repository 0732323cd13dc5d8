// GraphQL over HTTP at /graphql (GET and POST), with CORS for the configured browser origins
// only. Registered in its own scope so its JSON body parsing and CORS never touch webhooks.
import { inSpan, SpanKind, tracing } from '../lib/tracing.js';
import cors from '@fastify/cors';
import type { ApolloServer } from '@apollo/server';
import { fastifyApolloHandler } from '@as-integrations/fastify';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { AuthResult } from '../auth/api-keys.js';
import { limitKeyOf } from '../auth/viewer.js';
import type { GraphQLContext } from '../graphql/context.js';
import { rateLimitMessage, type KeyRateLimit } from './key-rate-limit.js';

export interface GraphQLRouteDeps {
  apollo: ApolloServer<GraphQLContext>;
  /** Who the Authorization header names: done first, so the limits count the holder. */
  authenticate: (authorization: string | undefined) => Promise<AuthResult>;
  /** The request's context, from that authentication. */
  context: (authenticated: Promise<AuthResult>) => Promise<GraphQLContext>;
  /** Origins allowed to call the API from a browser; empty: none (same-origin GraphiQL still works). */
  corsOrigins: string[];
  /** Largest request body; a bigger one is answered 413. */
  bodyLimit: number;
  /** Requests one credential may have in progress at once; beyond, 429 (default: no limit). */
  maxConcurrentPerKey?: number;
  /** Requests one credential may start per minute; beyond, 429 with Retry-After. */
  rateLimit: KeyRateLimit;
  path?: string;
}

/** Requests in progress per holder (limitKeyOf: a key's row, a token's issuer and subject). */
function concurrencyLimiter(max: number) {
  const running = new Map<string, number>();
  return {
    tryAcquire(holder: string): (() => void) | undefined {
      const key = holder;
      const now = running.get(key) ?? 0;
      if (now >= max) return undefined;
      running.set(key, now + 1);
      let released = false;
      return () => {
        if (released) return;
        released = true;
        const left = (running.get(key) ?? 1) - 1;
        if (left <= 0) running.delete(key);
        else running.set(key, left);
      };
    },
  };
}

export const graphqlRoutes =
  (deps: GraphQLRouteDeps): FastifyPluginAsync =>
  async (fastify) => {
    await fastify.register(cors, {
      origin: deps.corsOrigins.length > 0 ? deps.corsOrigins : false,
      methods: ['GET', 'POST'],
      allowedHeaders: ['authorization', 'content-type', 'apollo-require-preflight', 'x-apollo-operation-name'],
      maxAge: 600,
    });
    // The authentication the limits waited for, handed on to the request's context.
    const authenticated = new WeakMap<object, Promise<AuthResult>>();
    const apolloHandler = fastifyApolloHandler(deps.apollo, {
      context: async (request) => deps.context(authenticated.get(request) ?? deps.authenticate(request.headers.authorization)),
    });
    // Each operation's span: the statements it sent are its events (db/open.ts onQuery, tracing on).
    const handler: typeof apolloHandler = function (this: FastifyInstance, request, reply) {
      return inSpan('graphql', { kind: SpanKind.SERVER, attributes: { 'dsync.instance': tracing.instance } }, async () => apolloHandler.call(this, request, reply));
    };
    const max = deps.maxConcurrentPerKey ?? Number.POSITIVE_INFINITY;
    const limiter = concurrencyLimiter(max);
    fastify.route({
      method: ['GET', 'POST'],
      url: deps.path ?? '/graphql',
      handler,
      bodyLimit: deps.bodyLimit,
      // Before the body is read: one holder's pile of slow requests must not take every database
      // connection from the others. The limits count who the credential names (a key's row, a
      // token's issuer and subject), however its header is spelled: `Bearer K`, `bearer  K` and
      // a fresh token of the same subject are one holder. A credential refused is answered 401
      // (or 403, 503) by the request itself, with nothing counted.
      onRequest: async (request, reply) => {
        // Every answer (401s too) is one credential's view of a directory: no cache keeps it.
        void reply.header('cache-control', 'no-store');
        const authentication = deps.authenticate(request.headers.authorization);
        authenticated.set(request, authentication);
        const viewer = await authentication.catch(() => undefined);
        if (!viewer || 'error' in viewer) return;
        const holder = limitKeyOf(viewer);
        const rate = await deps.rateLimit.take(holder);
        if (!rate.ok) {
          void reply.header('retry-after', String(rate.retryAfterSeconds));
          return reply.code(429).type('application/json').send(JSON.stringify({
            errors: [
              {
                message: rateLimitMessage(deps.rateLimit.perMinute, rate.retryAfterSeconds),
                extensions: {
                  code: 'TOO_MANY_REQUESTS',
                  limit: 'GRAPHQL_RATE_PER_KEY',
                  maximum: deps.rateLimit.perMinute,
                  retryAfterSeconds: rate.retryAfterSeconds,
                },
              },
            ],
          }));
        }
        const release = limiter.tryAcquire(holder);
        if (!release) {
          void reply.header('retry-after', '1');
          return reply.code(429).type('application/json').send(JSON.stringify({
            errors: [
              {
                message: `this key already has ${max} requests in progress (GRAPHQL_MAX_CONCURRENT_PER_KEY): wait for one to finish`,
                extensions: { code: 'TOO_MANY_REQUESTS', limit: 'GRAPHQL_MAX_CONCURRENT_PER_KEY', maximum: max },
              },
            ],
          }));
        }
        // Whether answered, failed or cut off by the client.
        reply.raw.once('close', release);
        reply.raw.once('finish', release);
      },
    });
  };
