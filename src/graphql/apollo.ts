// Apollo Server over the directory schema: who may ask (API keys), what errors may say, and
// per-request loaders. Transport-free: src/http/graphql.ts mounts it on Fastify.
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import type { Viewer } from '../auth/viewer.js';
import type { Database } from '../db/open.js';
import { isUnavailable } from '../db/errors.js';
import type { GraphQLContext } from './context.js';
import { apiError } from './errors.js';
import { Loaders } from './loaders.js';
import { buildSchema } from './schema.js';

/** Turns an Authorization header into a viewer, or says why not. */
export type Authenticate = (authorization: string | undefined) => Promise<Viewer | { error: string }>;

export interface GraphQLOptions {
  db: Database;
  authenticate: Authenticate;
  logger: Logger;
  production: boolean;
  plugins?: ApolloServerPlugin<GraphQLContext>[];
}

const OWN_CODES = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'NOT_FOUND', 'SERVICE_UNAVAILABLE']);
// Apollo's own codes for requests it rejects before any resolver runs.
const APOLLO_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

export function createApollo(options: GraphQLOptions): ApolloServer<GraphQLContext> {
  const { logger } = options;
  return new ApolloServer<GraphQLContext>({
    schema: buildSchema(),
    csrfPrevention: true,
    // main.ts owns shutdown (finish deliveries, close the database); Apollo's own signal
    // handlers would stop it first and leave main's close waiting for ever.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: !options.production,
    // Introspection stays on: GraphiQL needs it. Issue 5 adds query limits and a switch.
    introspection: true,
    plugins: [ApolloServerPluginLandingPageDisabled(), ...(options.plugins ?? [])],
    formatError: (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
      const code = String(formatted.extensions?.code ?? '');
      if (OWN_CODES.has(code) || APOLLO_CODES.has(code)) {
        // Apollo prefixes errors thrown while building the context; ours are complete sentences.
        // A client's own mistake needs no server stack trace, even in development.
        const { stacktrace: _trace, ...extensions } = formatted.extensions ?? {};
        return { ...formatted, message: formatted.message.replace(/^Context creation failed: /, ''), extensions };
      }
      const original = unwrapResolverError(error);
      if (isUnavailable(original)) {
        logger.warn({ err: original }, 'GraphQL request failed: database unavailable');
        return {
          message: 'the database is unavailable; retry shortly',
          path: formatted.path,
          extensions: { code: 'SERVICE_UNAVAILABLE' },
        };
      }
      // Anything unexpected: log it in full, tell the client nothing about its insides.
      logger.error({ err: original, path: formatted.path }, 'GraphQL resolver failed');
      return {
        message: 'internal error',
        path: formatted.path,
        extensions: { code: 'INTERNAL_SERVER_ERROR', ...(options.production ? {} : { detail: formatted.message }) },
      };
    },
  });
}

/** The per-request context, or a 401 UNAUTHENTICATED error. */
export async function createContext(options: GraphQLOptions, authorization: string | undefined): Promise<GraphQLContext> {
  let viewer: Viewer | { error: string };
  try {
    viewer = await options.authenticate(authorization);
  } catch (error) {
    if (isUnavailable(error)) throw apiError('SERVICE_UNAVAILABLE', 'the database is unavailable; retry shortly');
    throw error;
  }
  if ('error' in viewer) throw apiError('UNAUTHENTICATED', viewer.error);
  return { viewer, db: options.db, loaders: new Loaders(options.db) };
}
