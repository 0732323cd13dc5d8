// Wires the pieces together: database -> directory store -> sources -> HTTP app -> listening.
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from './config.js';
import { openDatabase, type DatabaseHandle } from './db/open.js';
import { createDirectoryStore } from './directory/store.js';
import { buildApp, type App } from './http/app.js';
import { createSources } from './sources/index.js';

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:4000 */
  url: string;
  app: App;
  database: DatabaseHandle;
  /** Stops taking deliveries, lets in-flight ones finish, closes the database. */
  close(): Promise<void>;
}

export interface StartOptions {
  /** An already open database (tests share one); otherwise opened from the config. */
  database?: DatabaseHandle;
  /** How long a webhook waits for the database before answering 503 (default 10 s). */
  storeTimeoutMs?: number;
}

export async function startServer(config: Config, logger: Logger, options: StartOptions = {}): Promise<RunningServer> {
  const database =
    options.database ??
    (await openDatabase({ databaseUrl: config.databaseUrl, pgliteDir: join(config.dataDir, 'pglite') }));
  const app = await buildApp({
    database,
    store: createDirectoryStore(database.db),
    sources: createSources(config),
    logger,
    storeTimeoutMs: options.storeTimeoutMs,
  });
  try {
    await app.fastify.listen({ port: config.port, host: config.host });
  } catch (error) {
    if (!options.database) await database.close();
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
      app.stopAccepting();
      await app.fastify.close();
      if (!options.database) await database.close();
    },
  };
}
