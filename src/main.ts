// Process entry: config -> secrets -> database -> server -> listen; shutdown on signals.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';
import { isUnavailable } from './db/errors.js';
import { openDatabase, type DatabaseHandle } from './db/open.js';
import { resolveSecrets, type ResolvedSecrets } from './local-secrets.js';
import { createLogger } from './log.js';
import { startServer, type RunningServer } from './server.js';
import { handleStrayErrors } from './stray-errors.js';

/**
 * How long a shutdown may take before the process exits anyway (with 1). HTTP needs less:
 * Apollo's drain cuts connections still open after 10 s. This bounds the rest, such as a
 * WebSocket client that never answers the close (ws waits 30 s for it) or a database that
 * does not answer, and stays under Kubernetes' default 30 s grace period, so the exit is the
 * service's own and logged rather than a SIGKILL.
 */
const SHUTDOWN_DEADLINE_MS = 25_000;

/** A database that is still starting (docker compose) is waited for, not fatal. */
async function openWithRetry(config: Config, logger: Logger): Promise<DatabaseHandle> {
  const deadline = Date.now() + 60_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await openDatabase({
        databaseUrl: config.databaseUrl,
        pgliteDir: join(config.dataDir, 'pglite'),
        preparedStatements: config.databasePreparedStatements,
      });
    } catch (error) {
      if (!isUnavailable(error) || Date.now() > deadline) throw error;
      logger.warn({ attempt, err: error }, 'database not reachable yet; retrying');
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
    }
  }
}

/** The command that runs a CLI of this project, from a checkout and in the Docker image. */
const cli = (script: string, args: string) => ({
  npm: `npm run ${script} -- ${args}`,
  docker: `docker compose exec app node dist/cli/${script}.js ${args}`,
});

function banner(server: RunningServer, resolved: ResolvedSecrets, config: Config): string {
  const lines = [
    '',
    `directory-sync is listening on ${server.url} (${server.database.description})`,
    '',
    `  Ory Polis webhooks   POST ${server.url}/webhooks/polis`,
    `  Stytch webhooks      POST ${server.url}/webhooks/stytch`,
    `  WorkOS webhooks      POST ${server.url}/webhooks/workos`,
    `  Health               GET  ${server.url}/healthz   ${server.url}/readyz`,
    `  GraphQL              POST ${server.url}/graphql   (WebSocket: ws${server.url.slice(4)}/graphql)`,
    `  GraphiQL             ${server.url}/graphiql`,
  ];
  if (server.metricsUrl) lines.push(`  Metrics              GET  ${server.metricsUrl}`);
  else if (config.metrics?.token) lines.push(`  Metrics              GET  ${server.url}/metrics   (Authorization: Bearer <METRICS_TOKEN>)`);
  const { generated, file } = resolved;
  if (generated.adminApiKey) {
    lines.push(
      '',
      `Local admin API key (generated for the embedded database, kept in ${file}):`,
      `  ${generated.adminApiKey}`,
      `Paste into GraphiQL's headers as {"Authorization": "Bearer ${generated.adminApiKey}"}`,
      'or create keys of your own with `npm run apikey -- create --name <label>` while the service is stopped.',
    );
  } else if (config.adminApiKey) {
    lines.push('', 'GraphQL: send ADMIN_API_KEY (from your environment) as  Authorization: Bearer <key>');
  } else {
    const create = cli('apikey', 'create --name admin');
    const embedded = server.database.kind === 'pglite';
    lines.push(
      '',
      embedded
        ? 'GraphQL needs an API key. Stop the service (the embedded database has one user at a time) and create one:'
        : 'GraphQL needs an API key. Create an admin key (the service can keep running):',
      `  ${create.npm}`,
      ...(embedded ? [] : [`  ${create.docker}      (under Docker Compose)`]),
      'or set ADMIN_API_KEY. `npm run apikey -- list` shows the keys there are.',
    );
    if (resolved.strayLocalKey) {
      lines.push(`(The admin key in ${resolved.strayLocalKey} is for the embedded database only: it does not open this one.)`);
    }
  }
  if (generated.polis || generated.stytch || generated.workos) {
    lines.push('', `Local webhook secrets (generated for development, kept in ${file}):`);
    if (generated.polis) lines.push(`  POLIS_WEBHOOK_SECRET=${generated.polis}`);
    if (generated.stytch) lines.push(`  STYTCH_WEBHOOK_SECRET=${generated.stytch}`);
    if (generated.workos) lines.push(`  WORKOS_WEBHOOK_SECRET=${generated.workos}`);
    lines.push('Configure these on the provider side, or set your own in the environment.');
  }
  // The trigger reads PORT like the service; say it when the service is not on the default.
  const port = new URL(server.url).port;
  const env = config.port !== 4000 ? `PORT=${port} ` : '';
  lines.push(
    '',
    'Send a signed sample event from another terminal:',
    `  ${env}npm run trigger -- stytch member.created`,
    `  ${env}npm run trigger -- stytch member.updated --set name="Ada King"`,
    '  npm run trigger -- --list',
    '',
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  let resolved: ResolvedSecrets;
  let logger: Logger;
  try {
    const config = loadConfig();
    logger = createLogger(config);
    handleStrayErrors(logger);
    resolved = await resolveSecrets(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const { config } = resolved;
  if (config.polisSecrets.length === 0) logger.warn('no POLIS_WEBHOOK_SECRET: every Polis delivery will be refused');
  if (config.stytchSecrets.length === 0) logger.warn('no STYTCH_WEBHOOK_SECRET: every Stytch delivery will be refused');
  if (config.workosSecrets.length === 0) logger.warn('no WORKOS_WEBHOOK_SECRET: every WorkOS delivery will be refused');

  const database = await openWithRetry(config, logger);
  let server: RunningServer;
  try {
    server = await startServer(config, logger, { database });
  } catch (error) {
    await database.close();
    throw error;
  }
  process.stdout.write(`${banner(server, resolved, config)}\n`);

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) {
      // A repeated signal does not cut the drain short: deliveries under way still get their
      // answers, and the deadline bounds the wait anyway. (Wrappers repeat signals too: tsx
      // sends one again to a child that has not confirmed it within 30 ms.)
      logger.warn({ signal }, 'already shutting down; still finishing in-flight deliveries');
      return;
    }
    stopping = true;
    // Not unref'd: should the shutdown wait on something that holds no handle, the process
    // must still leave through here, saying so, rather than exit 0 on an empty event loop.
    setTimeout(() => {
      logger.error({ signal, deadlineMs: SHUTDOWN_DEADLINE_MS }, 'shutdown did not finish in time; exiting anyway');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    // close() turns new deliveries away before it first waits, so anything arriving after this
    // line is logged is answered 503 or finds the port closed.
    const closed = server.close();
    logger.info({ signal }, 'shutting down: finishing in-flight deliveries');
    try {
      await closed;
      await database.close();
      logger.info({ signal }, 'shut down');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'unclean shutdown');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  process.stderr.write(`failed to start: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
