// Wires the pieces together: directory store -> sources -> HTTP app -> listening, on a database
// the caller opened (main.ts waits for it; tests bring their own) and still owns.
import type { Logger } from 'pino';
import { createAuthenticator } from './auth/api-keys.js';
import type { Config } from './config.js';
import type { DatabaseHandle } from './db/open.js';
import { createDirectoryStore } from './directory/store.js';
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
}

export async function startServer(config: Config, logger: Logger, options: StartOptions): Promise<RunningServer> {
  const { database } = options;
  const authenticate = createAuthenticator(database.db, {
    bootstrapKeys: config.adminApiKey ? [config.adminApiKey] : [],
    onError: (error) => logger.warn({ err: error }, 'could not record an API key\'s last use'),
  });
  const app = await buildApp({
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
      corsOrigins: config.corsOrigins,
    },
  });
  await app.fastify.listen({ port: config.port, host: config.host });
  const address = app.fastify.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host;
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    app,
    database,
    close: async () => {
      app.stopAccepting();
      await app.close();
      await authenticate.flush();
    },
  };
}
