// What an error may tell a client, the same over HTTP (Apollo) and WebSocket (graphql-ws):
// our own codes and GraphQL's request errors pass as they are; a database outage is a plain
// SERVICE_UNAVAILABLE; anything else is logged in full and masked.
import type { ApolloServerPlugin } from '@apollo/server';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLError, GraphQLFormattedError } from 'graphql';
import type { Logger } from 'pino';
import { isUnavailable } from '../db/errors.js';
import type { GraphQLContext } from './context.js';

const OWN_CODES = new Set([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'SERVICE_UNAVAILABLE',
  'CURSOR_EXPIRED',
  'TOO_MANY_SUBSCRIPTIONS',
  'TOO_MANY_REQUESTS',
  // graphql/trusted-documents.ts
  'PERSISTED_QUERY_NOT_ALLOWED',
]);
// Apollo's own codes for requests it rejects before any resolver runs.
const APOLLO_CODES = new Set([
  'GRAPHQL_PARSE_FAILED',
  'GRAPHQL_VALIDATION_FAILED',
  'BAD_REQUEST',
  'OPERATION_RESOLUTION_FAILURE',
  'PERSISTED_QUERY_NOT_FOUND',
  'PERSISTED_QUERY_NOT_SUPPORTED',
]);

export type ErrorFormatter = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

export function createErrorFormatter(options: { logger: Logger; production: boolean }): ErrorFormatter {
  const { logger, production } = options;
  return (formatted, error) => {
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
      extensions: { code: 'INTERNAL_SERVER_ERROR', ...(production ? {} : { detail: formatted.message }) },
    };
  };
}

/** Whether an error Apollo or graphql-ws is about to report comes from a database outage. */
const isOutage = (error: GraphQLError) =>
  error.extensions?.code === 'SERVICE_UNAVAILABLE' || isUnavailable(unwrapResolverError(error));

/**
 * Apollo plugin: an answer that has no data because the database is down is HTTP 503, as when
 * the outage is found while checking the key. A resolver's failed query carries no HTTP status
 * of its own, so Apollo would answer 200 with `data: null`, which caches, proxies and clients
 * take for an answer; a 503 tells them to retry. Partial data (the database went or came back
 * mid-request) stays 200, as the GraphQL-over-HTTP spec requires, its errors still saying
 * SERVICE_UNAVAILABLE.
 */
export const outageStatus: ApolloServerPlugin<GraphQLContext> = {
  requestDidStart: async () => ({
    willSendResponse: async ({ errors, response }) => {
      const data = response.body.kind === 'single' ? response.body.singleResult.data : response.body.initialResult.data;
      if ((data ?? null) === null && errors?.some(isOutage)) response.http.status = 503;
    },
  }),
};
