// Wires the pieces together: directory store -> sources -> feed follower and subscription hub
// -> HTTP app (with WebSocket) -> listening, on a database the caller opened (main.ts waits for
// it; tests bring their own) and still owns.
import type { Server, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { createAuthenticator } from './auth/api-keys.js';
import { watchRevocations, type RevocationWatch } from './auth/revocations.js';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/open.js';
import { followFeed } from './directory/feed-follower.js';
import { createDirectoryStore } from './directory/store.js';
import { createLiveHub } from './graphql/live/hub.js';
import { buildApp, type App } from './http/app.js';
import { createSources } from './sources/index.js';

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:4000 */
  url: string;
  app: App;
  database: DatabaseHandle;
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
  /** See AppDeps.requestTimeoutMs (default 30 s). */
  requestTimeoutMs?: number;
}

export async function startServer(config: Config, logger: Logger, options: StartOptions): Promise<RunningServer> {
  const { database } = options;
  const authenticate = createAuthenticator(database.db, {
    bootstrapKeys: config.adminApiKey ? [config.adminApiKey] : [],
    onError: (error) => logger.warn({ err: error }, 'could not record an API key\'s last use'),
  });
  const follower = await followFeed(database, {
    pollIntervalMs: options.feedPollMs,
    onError: (error) => logger.warn({ err: error }, 'could not read the change feed; retrying'),
  });
  const hub = createLiveHub(follower, database.db, {
    bufferLimit: config.subscriptionBuffer,
    onError: (error) => logger.warn({ err: error }, 'subscription hub: a batch could not be preloaded or handed to a subscriber'),
  });
  const stopLive = async () => {
    await hub.stop();
    await follower.stop();
  };

  let app: App | undefined;
  let revocations: RevocationWatch | undefined;
  let drain: ConnectionDrain | undefined;
  try {
    app = await buildApp({
      database,
      store: createDirectoryStore(database.db),
      sources: createSources(config),
      logger,
      storeTimeoutMs: options.storeTimeoutMs,
      graphql: {
        db: database.db,
        authenticate,
        logger,
        production: config.env === 'production',
        limits: config.graphqlLimits,
        corsOrigins: config.corsOrigins,
      },
      hub,
      wsMaxSubscriptions: config.wsMaxSubscriptions,
      requestTimeoutMs: options.requestTimeoutMs,
    });
    const { ws } = app;
    revocations = await watchRevocations(database, {
      activeKeyIds: () => ws.activeKeyIds(),
      onRevoked: (keyIds) => ws.closeKeys(keyIds),
      intervalMs: options.keyRecheckMs,
      onError: (error) => logger.warn({ err: error }, 'could not re-check the API keys of open WebSockets'),
    });
    drain = drainConnections(app.fastify.server);
    await app.fastify.listen({ port: config.port, host: config.host });
  } catch (error) {
    await revocations?.stop();
    await app?.close();
    await stopLive();
    throw error;
  }
  const address = app.fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    app,
    database,
    close: async () => {
      drain.begin();
      app.stopAccepting();
      await app.close();
      const unanswered = drain.unanswered();
      if (unanswered > 0) {
        logger.warn(
          { requests: unanswered },
          'requests still in progress were cut off by the shutdown; none was acknowledged, so their senders retry',
        );
      }
      await revocations.stop();
      await stopLive();
      await authenticate.flush();
    },
  };
}

interface ConnectionDrain {
  /** From now on every connection closes once it has answered what it was asked. */
  begin(): void;
  /** Requests open since begin() without a complete answer: once the server has closed, cut off. */
  unanswered(): number;
}

/**
 * What Node and Fastify leave undone when the server closes. Node drops the keep-alive
 * connections that are idle at that moment, but one busy with a request stays open once it has
 * answered, idle, and the shutdown waits for it until Apollo's drain cuts every connection
 * 10 s later: so while draining, connections are closed as soon as they go idle. A request
 * arriving meanwhile (its headers were still on the way) is answered 503 by Fastify
 * (return503OnClosing), which keeps headers already set: Retry-After tells the sender when to
 * come back, as the webhooks' own 503s do.
 */
function drainConnections(server: Server): ConnectionDrain {
  // Responses open when draining began or since; kept once draining, so that whatever is
  // unfinished after the server has closed is known to have been cut off (the server can
  // report itself closed before the sockets it destroyed have emitted 'close').
  const open = new Set<ServerResponse>();
  let draining = false;
  // After 'finish' Node has released the socket; a pipelined request already received keeps
  // its connection busy, so only connections with nothing left to do are closed.
  const closeIdle = () => setImmediate(() => server.closeIdleConnections());
  // Ahead of Fastify's own listener, so the headers are set before Fastify answers.
  server.prependListener('request', (_request, response: ServerResponse) => {
    open.add(response);
    response.once('close', () => {
      if (!draining) open.delete(response);
    });
    if (draining) {
      response.setHeader('retry-after', '5');
      response.once('finish', closeIdle);
    }
  });
  return {
    begin: () => {
      draining = true;
      for (const response of open) response.once('finish', closeIdle);
    },
    unanswered: () => [...open].filter((response) => !response.writableFinished).length,
  };
}
