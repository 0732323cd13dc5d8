// GraphQL over WebSocket (the graphql-ws protocol) at /graphql, on the same HTTP server as
// everything else: graphql-ws's `use/ws` adapter over ws, with who-is-asking settled once, on
// connect, from the connection params. Subscriptions join the process's fan-out, which writes
// their live messages to the socket itself (pushSink below), in graphql-ws's own format.
import { trustedText, type TrustedDocuments } from '../graphql/trusted-documents.js';
import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { getOperationAST, GraphQLError, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { MessageType, stringifyMessage } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { WebSocket, WebSocketServer } from 'ws';
import { limitKeyOf, type Viewer } from '../auth/viewer.js';
import type { Database } from '../db/open.js';
import { isUnavailable } from '../db/errors.js';
import type { Authenticate } from '../graphql/apollo.js';
import type { GraphQLContext, GraphQLFanout, PublicRaw } from '../graphql/context.js';
import type { ErrorFormatter } from '../graphql/format-error.js';
import { costError, introspectionRules, limitRules, parseOptions, type QueryLimits } from '../graphql/limits.js';
import { createDocumentCache } from '../graphql/subscriptions/documents.js';
import { subscribeShared } from '../graphql/subscriptions/execute.js';
import type { Frame, PushSink } from '../live/fanout.js';
import { Loaders } from '../graphql/loaders.js';
import { truncate } from '../lib/truncate.js';
import { rateLimitMessage, type KeyRateLimit } from './key-rate-limit.js';

/** Close codes this server uses (graphql-ws's own are 44xx/4500 too; these are documented). */
export const WS_CLOSE = {
  /** Missing, bad or revoked API key, or a refused or expired token (graphql-ws's Forbidden). */
  forbidden: 4403,
  /** The client read too slowly and its buffer overflowed: reconnect with `after`. */
  overflow: 4413,
  /** The database (or a token's JWKS) could not be reached to check the credential: try again later. */
  unavailable: 1013,
  /** The key already holds WS_MAX_SOCKETS_PER_KEY sockets here, or opened them too fast (GRAPHQL_RATE_PER_KEY). */
  tooManySockets: 4429,
  /** The server is shutting down. */
  goingAway: 1001,
} as const;

export interface GraphqlWsDeps {
  server: Server;
  path: string;
  schema: GraphQLSchema;
  db: Database;
  fanout: GraphQLFanout;
  authenticate: Authenticate;
  formatError: ErrorFormatter;
  logger: Logger;
  production: boolean;
  limits: QueryLimits;
  /** Operations one socket may run at once. */
  maxSubscriptions: number;
  /** Sockets one key may hold open. */
  maxSocketsPerKey: number;
  /** Operations one key may run at once, over all its sockets. */
  maxSubscriptionsPerKey: number;
  /** What of `raw` tenant keys see. */
  publicRaw: PublicRaw;
  /** Largest message accepted; a bigger one closes the socket with 1009. */
  maxPayload: number;
  /** Socket opens and operations one key may start per minute (its own budget, apart from HTTP's). */
  rateLimit: KeyRateLimit;
  /** Told when a subscriber is cut off for reading too slowly (4413). */
  onOverflow?: () => void;
  /** Told how each operation started: its type (unknown when it never parsed) and outcome. */
  onOperationStarted?: (type: string, outcome: 'success' | 'error') => void;
  /** GRAPHQL_TRUSTED_DOCUMENTS, read: what viewers other than admin keys may run. */
  trustedDocuments?: TrustedDocuments | undefined;
}

export interface GraphqlWs {
  /** Closes every socket with 1001 and stops taking new ones. */
  dispose(): Promise<void>;
  /** Key ids of the open sockets (bootstrap admin keys have none). */
  activeKeyIds(): Iterable<string>;
  /** Closes every socket authenticated with one of these keys. */
  closeKeys(keyIds: ReadonlySet<string>): void;
  /** Open sockets and the operations they run, for the metrics. */
  stats(): { sockets: number; subscriptions: number };
}

/**
 * How long a closed socket may take to answer the close handshake. A client that has stopped
 * reading (or ignores the close) never answers, and ws would keep it, and everything queued
 * for it, for 30 s; a few seconds is enough for one that is still reading to see the close code.
 */
const CLOSE_GRACE_MS = 3000;

/** The longest a Node timer waits (about 24.8 days); a token valid longer is closed then, early. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The server's sockets. ws reports an oversized message as an error on the socket, which it
 * then closes with 1009 itself; graphql-ws prints every socket error to stderr with its stack
 * as "an internal error". A client's oversized message is neither: it is logged as what it is,
 * in the JSON logs.
 */
function serverSockets(logger: Logger): typeof WebSocket {
  return class extends WebSocket {
    // Every close this server makes is firm, graphql-ws's own included (4408 when no
    // connection_init came in time, 4400 for a bad message): a client that ignores the close
    // frame is cut off after a short grace instead of being held for ws's 30 s.
    override close(code?: number, reason?: string | Buffer): void {
      super.close(code, reason);
      setTimeout(() => {
        if (this.readyState !== this.CLOSED) this.terminate();
      }, CLOSE_GRACE_MS).unref();
    }

    override emit(event: string | symbol, ...args: unknown[]): boolean {
      const error = args[0] as { code?: string } | undefined;
      if (event === 'error' && error?.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') {
        logger.info('WebSocket closed: a message was larger than the limit (1009)');
        return true;
      }
      return super.emit(event, ...args);
    }
  };
}

// A type alias, not an interface: graphql-ws wants an index-signature-compatible record.
/**
 * `stream`: the connection's TCP socket (the upgrade request's, which ws writes to), kept when
 * the request is let go, for corking a batch of pushes (pushSink).
 */
type Extra = { viewer?: Viewer; started?: Set<string>; stream?: Duplex };

/** `authorization` from the connection params, whatever its case (GraphiQL sends `Authorization`). */
function authorizationOf(params: Readonly<Record<string, unknown>> | undefined): string | undefined {
  if (!params) return undefined;
  for (const [key, value] of Object.entries(params)) {
    if (key.toLowerCase() === 'authorization' && typeof value === 'string') return value;
  }
  return undefined;
}

/**
 * The text of a `next` message up to its payload, as graphql-ws writes it (its own
 * stringifyMessage, so the protocol's format lives there alone): a pushed payload is already
 * JSON, and is written after it without being parsed and written again.
 */
function nextMessagePrefix(id: string): string {
  const empty = stringifyMessage<MessageType.Next>({ id, type: MessageType.Next, payload: {} });
  const tail = '{}}';
  if (!empty.endsWith(tail)) throw new Error(`graphql-ws wrote a next message this server cannot extend: ${empty}`);
  return empty.slice(0, -tail.length);
}

/**
 * Where one operation's live messages go: straight onto its socket, as graphql-ws would write
 * them (byte for byte), without an await per message. A batch's messages are written under one
 * cork of the connection's TCP socket (the upgrade request's, which ws writes to), so a socket
 * gets them in one system call. Messages ws has not yet handed to the operating system are
 * counted: a client that stops reading is cut off at the buffer limit.
 */
function pushSink(socket: WebSocket, stream: Duplex, id: string): PushSink {
  const prefix = nextMessagePrefix(id);
  let unsent = 0;
  const sent = () => {
    unsent--;
  };
  return {
    get unsent() {
      return unsent;
    },
    push(frames: readonly Frame[], from: number) {
      if (socket.readyState !== WebSocket.OPEN) return;
      stream.cork();
      for (let i = from; i < frames.length; i++) {
        unsent++;
        socket.send(`${prefix}${frames[i]!.payload}}`, sent);
      }
      stream.uncork();
    },
  };
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> =>
  typeof value === 'object' && value !== null && Symbol.asyncIterator in value;

export function attachGraphqlWs(deps: GraphqlWsDeps): GraphqlWs {
  const { logger, db, fanout } = deps;
  // ws closes the socket (1009) on a bigger message before reading it whole: no operation
  // needs more than the HTTP body limit for GraphQL.
  const wss = new WebSocketServer({
    server: deps.server,
    path: deps.path,
    maxPayload: deps.maxPayload,
    WebSocket: serverSockets(logger),
  });
  const sessions = new Map<WebSocket, Viewer>();
  /** Each key's open sockets, and what each runs (graphql-ws keeps `subscriptions` current). */
  const byKey = new Map<string, Map<WebSocket, { subscriptions: Record<string, unknown> }>>();
  const keyOf = limitKeyOf;
  const documents = createDocumentCache(deps.schema, {
    rules: [...limitRules(deps.limits), ...introspectionRules(deps.limits)],
    parseOptions: parseOptions(deps.limits),
  });
  const formatErrors = (errors: readonly GraphQLError[]) => errors.map((e) => deps.formatError(e.toJSON(), e));
  // A pushed payload as graphql-ws's onNext below would make it.
  const render = (result: ExecutionResult) => JSON.stringify(result.errors ? { ...result, errors: formatErrors(result.errors) } : result);

  const graphqlWs = useServer<Record<string, unknown> | undefined, Extra>(
    {
      schema: deps.schema,
      // Internal errors' messages in close reasons only outside production.
      isProd: deps.production,
      onConnect: async (ctx) => {
        const { socket } = ctx.extra;
        let result: Awaited<ReturnType<Authenticate>>;
        try {
          result = await deps.authenticate(authorizationOf(ctx.connectionParams));
        } catch (error) {
          if (!isUnavailable(error)) throw error;
          logger.warn({ err: error }, 'WebSocket refused: database unavailable');
          socket.close(WS_CLOSE.unavailable, 'database unavailable; retry shortly');
          return false;
        }
        if ('error' in result) {
          if (result.code === 'SERVICE_UNAVAILABLE') {
            socket.close(WS_CLOSE.unavailable, truncate(result.error, 120));
            return false;
          }
          // The reason says what is wrong, as the HTTP 401 does (close reasons stay short).
          socket.close(WS_CLOSE.forbidden, truncate(result.error, 120));
          return false;
        }
        const key = keyOf(result);
        const rate = await deps.rateLimit.take(key);
        if (!rate.ok) {
          logger.info({ key: result.name }, 'WebSocket refused: key over its rate limit');
          socket.close(WS_CLOSE.tooManySockets, truncate(rateLimitMessage(deps.rateLimit.perMinute, rate.retryAfterSeconds), 120));
          return false;
        }
        const sockets = byKey.get(key) ?? new Map<WebSocket, { subscriptions: Record<string, unknown> }>();
        if (sockets.size >= deps.maxSocketsPerKey) {
          logger.info({ key: result.name }, 'WebSocket refused: too many sockets for this key');
          socket.close(WS_CLOSE.tooManySockets, `this key already holds ${deps.maxSocketsPerKey} sockets here (WS_MAX_SOCKETS_PER_KEY)`);
          return false;
        }
        sockets.set(socket, ctx);
        byKey.set(key, sockets);
        ctx.extra.viewer = result;
        // Settled: the upgrade request (its headers and all) need not live as long as the socket.
        ctx.extra.stream = ctx.extra.request.socket;
        (ctx.extra as { request?: unknown }).request = undefined;
        sessions.set(socket, result);
        // A token's socket lasts as long as the token: then 4403, and the client reconnects
        // with a fresh one and resumes from its last cursor.
        const expiresAt = result.expiresAt;
        const expiry = expiresAt
          ? setTimeout(
              () => {
                logger.info({ key: result.name }, 'WebSocket closed: its token expired');
                socket.close(WS_CLOSE.forbidden, 'token expired; reconnect with a fresh token, resubscribe with after: <last cursor>');
              },
              Math.min(MAX_TIMER_MS, Math.max(0, expiresAt.getTime() - Date.now())),
            )
          : undefined;
        expiry?.unref();
        socket.once('close', () => {
          clearTimeout(expiry);
          sessions.delete(socket);
          sockets.delete(socket);
          if (sockets.size === 0 && byKey.get(key) === sockets) byKey.delete(key);
        });
        logger.debug({ key: result.name }, 'WebSocket connected');
        return true;
      },
      onSubscribe: async (ctx, _id, payload) => {
        // This operation is already counted among the socket's.
        if (Object.keys(ctx.subscriptions).length > deps.maxSubscriptions) {
          return [
            new GraphQLError(
              `this socket already runs ${deps.maxSubscriptions} operations, the limit (WS_MAX_SUBSCRIPTIONS): complete one or open another socket`,
              { extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: 'WS_MAX_SUBSCRIPTIONS', maximum: deps.maxSubscriptions } },
            ),
          ];
        }
        const viewer = ctx.extra.viewer;
        if (viewer) {
          // This operation is already counted among the socket's, so among the key's.
          let running = 0;
          for (const other of byKey.get(keyOf(viewer))?.values() ?? []) running += Object.keys(other.subscriptions).length;
          if (running > deps.maxSubscriptionsPerKey) {
            return [
              new GraphQLError(
                `this key already runs ${deps.maxSubscriptionsPerKey} operations here, the limit (WS_MAX_SUBSCRIPTIONS_PER_KEY): complete some first`,
                {
                  extensions: {
                    code: 'TOO_MANY_SUBSCRIPTIONS',
                    limit: 'WS_MAX_SUBSCRIPTIONS_PER_KEY',
                    maximum: deps.maxSubscriptionsPerKey,
                  },
                },
              ),
            ];
          }
        }
        // Counted after the caps: graphql-ws counts this operation among the socket's before
        // calling here, so the caps must be read before anything awaits, or operations sent
        // together would each see the others and all be refused.
        if (viewer) {
          const rate = await deps.rateLimit.take(keyOf(viewer));
          if (!rate.ok) {
            return [
              new GraphQLError(rateLimitMessage(deps.rateLimit.perMinute, rate.retryAfterSeconds), {
                extensions: {
                  code: 'TOO_MANY_REQUESTS',
                  limit: 'GRAPHQL_RATE_PER_KEY',
                  maximum: deps.rateLimit.perMinute,
                  retryAfterSeconds: rate.retryAfterSeconds,
                },
              }),
            ];
          }
        }
        let query = payload.query;
        if (deps.trustedDocuments && viewer) {
          // graphql-ws needs a query string: a trusted id comes with an empty one.
          const persisted = payload.extensions?.persistedQuery as { sha256Hash?: unknown } | undefined;
          const text = trustedText(deps.trustedDocuments, viewer, query, typeof persisted?.sha256Hash === 'string' ? persisted.sha256Hash : undefined);
          if (text instanceof GraphQLError) return [text];
          if (text !== undefined) query = text;
        }
        const document = documents.get(query);
        if (!('kind' in document)) return document;
        const tooCostly = costError(deps.limits, deps.schema, document, payload.operationName, payload.variables);
        if (tooCostly) return [tooCostly];
        return { schema: deps.schema, document, operationName: payload.operationName, variableValues: payload.variables };
      },
      context: (ctx, id): GraphQLContext => {
        const { socket, stream, viewer } = ctx.extra;
        // onConnect ran first: graphql-ws refuses operations before the connection is acked.
        if (!viewer || !stream) throw new Error('operation on an unauthenticated socket');
        // Made on first use: a subscription reads through each event's loaders instead, and
        // ten thousand idle subscriptions should not each hold a set of empty ones.
        let loaders: Loaders | undefined;
        return {
          viewer,
          db,
          publicRaw: deps.publicRaw,
          get loaders() {
            return (loaders ??= new Loaders(db));
          },
          live: {
            fanout,
            target: {
              sink: pushSink(socket, stream, id),
              render,
              overflow: () => {
                logger.warn({ key: viewer.name }, 'WebSocket closed: subscriber too slow, buffer overflowed');
                deps.onOverflow?.();
                socket.close(WS_CLOSE.overflow, 'too slow: buffer overflowed; resubscribe with after: <last cursor>');
              },
            },
          },
        };
      },
      subscribe: subscribeShared,
      onOperation: (ctx, id, _payload, args, result) => {
        const type = getOperationAST(args.document, args.operationName)?.operation ?? 'unknown';
        // graphql-ws has awaited the result before calling here.
        const settled = result as ExecutionResult | AsyncIterable<unknown>;
        const failed = !isAsyncIterable(settled) && (settled.errors?.length ?? 0) > 0;
        if (!failed) (ctx.extra.started ??= new Set()).add(id);
        deps.onOperationStarted?.(type, failed ? 'error' : 'success');
        return undefined;
      },
      onComplete: (ctx, id) => {
        ctx.extra.started?.delete(id);
      },
      onError: (ctx, id, payload, errors) => {
        // An operation refused before it ran; one that fails later was counted when it started.
        if (!ctx.extra.started?.delete(id)) {
          const document = documents.get(payload.query);
          const type = 'kind' in document ? (getOperationAST(document, payload.operationName)?.operation ?? 'unknown') : 'unknown';
          deps.onOperationStarted?.(type, 'error');
        }
        return formatErrors(errors);
      },
      onNext: (_ctx, _id, _payload, _args, result) =>
        result.errors ? { ...result, errors: formatErrors(result.errors) } : undefined,
    },
    wss,
  );

  return {
    dispose: async () => {
      // graphql-ws closes them too, with the same code; closing first (firmly, as every close
      // here) keeps a client that has stopped reading from holding the shutdown for ws's 30 s.
      for (const socket of wss.clients) socket.close(WS_CLOSE.goingAway, 'Going away');
      await graphqlWs.dispose();
    },
    stats: () => {
      let subscriptions = 0;
      for (const sockets of byKey.values()) for (const { subscriptions: running } of sockets.values()) subscriptions += Object.keys(running).length;
      return { sockets: wss.clients.size, subscriptions };
    },
    activeKeyIds: function* () {
      for (const viewer of sessions.values()) if (viewer.keyId) yield viewer.keyId;
    },
    closeKeys: (keyIds) => {
      for (const [socket, viewer] of sessions) {
        if (viewer.keyId && keyIds.has(viewer.keyId)) {
          logger.info({ key: viewer.name }, 'WebSocket closed: API key revoked');
          socket.close(WS_CLOSE.forbidden, 'API key revoked');
        }
      }
    },
  };
}
