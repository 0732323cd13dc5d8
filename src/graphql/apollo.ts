// Apollo Server over the directory schema: who may ask (API keys), what errors may say, and
// per-request loaders. Transport-free: src/http/graphql.ts mounts it on Fastify.
import { spanAttributes } from '../lib/tracing.js';
import { trustedDocumentsPlugin, type TrustedDocuments } from './trusted-documents.js';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled, ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { GraphQLError, type FormattedExecutionResult, type GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import type { AuthResult } from '../auth/api-keys.js';
import type { Database } from '../db/open.js';
import { isUnavailable } from '../db/errors.js';
import type { GraphQLContext, PublicRaw, ReconcileStarter, ReplayRunner } from './context.js';
import { apiError } from './errors.js';
import { createErrorFormatter, outageStatus } from './format-error.js';
import { costError, limitRules, parseOptions, type QueryLimits } from './limits.js';
import { Loaders } from './loaders.js';

/** Turns an Authorization header into a viewer, or says why not. */
export type Authenticate = (authorization: string | undefined) => Promise<AuthResult>;

export interface GraphQLOptions {
  schema: GraphQLSchema;
  db: Database;
  authenticate: Authenticate;
  logger: Logger;
  production: boolean;
  limits: QueryLimits;
  /** After the service's own: the read path's (src/read), the drain, metrics. */
  plugins?: ApolloServerPlugin<GraphQLContext>[];
  /** How a result is written out (the read path's writes its JSON text as Postgres wrote it). */
  stringifyResult?: (result: FormattedExecutionResult) => string;
  /** Backs the replayDeliveries mutation. */
  replay?: ReplayRunner;
  /** Backs the reconcile mutation. */
  reconcile?: ReconcileStarter;
  /** What of `raw` tenant keys see. */
  publicRaw: PublicRaw;
  /** Told when a mutation changed a tenant's app settings: recompute its members now. */
  appSettingsChanged?: () => void;
  /** GRAPHQL_TRUSTED_DOCUMENTS, read: what viewers other than admin keys may run. */
  trustedDocuments?: TrustedDocuments;
  /** Where a query reads (a read replica, or the primary): set when DATABASE_READ_URLS names replicas. */
  readsForQuery?: () => Database;
}

/**
 * Queries read where `forQuery` says (a replica within the lag bound); mutations stay on the
 * primary. Decided once the operation is known, before the read path or any resolver reads.
 */
const queriesRead = (forQuery: () => Database): ApolloServerPlugin<GraphQLContext> => ({
  requestDidStart: async () => ({
    didResolveOperation: async ({ operation, contextValue }) => {
      if (operation?.operation !== 'query') return;
      const db = forQuery();
      if (db === contextValue.db) return;
      contextValue.db = db;
      contextValue.loaders = new Loaders(db);
    },
  }),
});

/** Names the operation on its span (http/graphql.ts makes it); nothing without tracing. */
const operationSpan: ApolloServerPlugin<GraphQLContext> = {
  requestDidStart: async () => ({
    didResolveOperation: async ({ operation, operationName }) => {
      spanAttributes({ 'graphql.operation.type': operation?.operation ?? 'unknown', ...(operationName ? { 'graphql.operation.name': operationName } : {}) });
    },
  }),
};

/** Apollo would run a subscription over HTTP as if it were a query; say where they live. */
const subscriptionsOverWebSocketOnly: ApolloServerPlugin<GraphQLContext> = {
  requestDidStart: async () => ({
    didResolveOperation: async ({ operation }) => {
      if (operation?.operation === 'subscription') {
        throw new GraphQLError('subscriptions are served over WebSocket at /graphql (the graphql-ws protocol), not over HTTP', {
          extensions: { code: 'BAD_REQUEST', http: { status: 400 } },
        });
      }
    },
  }),
};

/** The cost needs the variables, so it is checked once the operation is known, not in validation. */
const costLimit = (limits: QueryLimits): ApolloServerPlugin<GraphQLContext> => ({
  requestDidStart: async () => ({
    didResolveOperation: async ({ schema, document, operationName, request }) => {
      const error = costError(limits, schema, document, operationName, request.variables);
      if (error) throw new GraphQLError(error.message, { extensions: { ...error.extensions, http: { status: 400 } } });
    },
  }),
});

export function createApollo(options: GraphQLOptions): ApolloServer<GraphQLContext> {
  return new ApolloServer<GraphQLContext>({
    schema: options.schema,
    // A request that carries Authorization was preflighted by any browser (it is not a
    // CORS-safelisted header), so it cannot be a cross-site forgery: clients that send a GET
    // with only Authorization (urql's default) are served, as Apollo's own preflight headers are.
    csrfPrevention: { requestHeaders: ['x-apollo-operation-name', 'apollo-require-preflight', 'authorization'] },
    // main.ts owns shutdown (finish deliveries, close the database); Apollo's own signal
    // handlers would stop it first and leave main's close waiting for ever.
    stopOnTerminationSignals: false,
    includeStacktraceInErrorResponses: !options.production,
    introspection: options.limits.introspection,
    parseOptions: parseOptions(options.limits),
    validationRules: limitRules(options.limits),
    // One operation per request: a batch would multiply every limit by its length.
    allowBatchedHttpRequests: false,
    plugins: [
      ApolloServerPluginLandingPageDisabled(),
      // src/http/graphql.ts marks every answer no-store; this plugin would hook every resolved
      // field to work out the same (no field has a cache hint), a measurable share of a page's CPU.
      ApolloServerPluginCacheControlDisabled(),
      subscriptionsOverWebSocketOnly,
      operationSpan,
      ...(options.trustedDocuments ? [trustedDocumentsPlugin(options.trustedDocuments)] : []),
      ...(options.readsForQuery ? [queriesRead(options.readsForQuery)] : []),
      costLimit(options.limits),
      outageStatus,
      ...(options.plugins ?? []),
    ],
    formatError: createErrorFormatter(options),
    ...(options.stringifyResult ? { stringifyResult: options.stringifyResult } : {}),
  });
}

/** The per-request context, or the refusal: 401 UNAUTHENTICATED, 403 FORBIDDEN (a token that may read nothing), 503. */
export async function createContext(
  options: Pick<GraphQLOptions, 'authenticate' | 'db' | 'replay' | 'reconcile' | 'publicRaw' | 'appSettingsChanged'>,
  /** The Authorization header, or its authentication already under way (the HTTP route's, for its limits). */
  credential: string | undefined | Promise<AuthResult>,
): Promise<GraphQLContext> {
  let viewer: AuthResult;
  try {
    viewer = await (typeof credential === 'object' ? credential : options.authenticate(credential));
  } catch (error) {
    if (isUnavailable(error)) throw apiError('SERVICE_UNAVAILABLE', 'the database is unavailable; retry shortly');
    throw error;
  }
  if ('error' in viewer) {
    // A refused credential refuses the request: FORBIDDEN here is 403, not a field's error.
    if (viewer.code === 'FORBIDDEN') throw apiError('FORBIDDEN', viewer.error, { http: { status: 403 } });
    throw apiError(viewer.code ?? 'UNAUTHENTICATED', viewer.error);
  }
  return {
    viewer,
    db: options.db,
    publicRaw: options.publicRaw,
    loaders: new Loaders(options.db),
    ...(options.replay ? { replay: options.replay } : {}),
    ...(options.reconcile ? { reconcile: options.reconcile } : {}),
    ...(options.appSettingsChanged ? { appSettingsChanged: options.appSettingsChanged } : {}),
  };
}
