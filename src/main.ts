// Process entry: config -> secrets -> database -> server -> listen; shutdown on signals.
import { join } from 'node:path';
import type { Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from './config.js';
import { describeOpenFailure, isUnavailable } from './db/errors.js';
import { describeDatabaseUrl, openDatabase, type DatabaseHandle } from './db/open.js';
import { PgliteLockedError } from './db/pglite-lock.js';
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

/** Why the service cannot start, said in one line without a stack: a person can act on it. */
class StartupError extends Error {}

/** How long an unreachable database is waited for at start (Postgres starting beside us). */
const DATABASE_WAIT_MS = 60_000;
/** How often a wait that goes on says so: not once per attempt, so the reason stays in view. */
const DATABASE_WAIT_REPORT_MS = 15_000;

/**
 * A database that is still starting (docker compose) is waited for, not fatal. One line says
 * where, why and what to check; while the wait goes on, a short line every 15 s; giving up, or a
 * failure that waiting cannot mend (a wrong password, a database that does not exist), ends the
 * start with that same line.
 */
async function openWithRetry(config: Config, logger: Logger): Promise<DatabaseHandle> {
  const where = config.databaseUrl ? `Postgres at ${describeDatabaseUrl(config.databaseUrl)}` : `the embedded database in ${join(config.dataDir, 'pglite')}`;
  const started = Date.now();
  let reported = 0;
  for (let attempt = 1; ; attempt++) {
    try {
      const database = await openDatabase({
        databaseUrl: config.databaseUrl,
        pgliteDir: join(config.dataDir, 'pglite'),
        preparedStatements: config.databasePreparedStatements,
        ...(config.databaseSessionUrl ? { sessionUrl: config.databaseSessionUrl } : {}),
        readUrls: config.databaseReadUrls,
        readMaxLagSeconds: config.databaseReadMaxLagSeconds,
        onReplicaChange: (replica, was) => {
          if (!replica.up) logger.warn({ replica: replica.name }, 'read replica down: its reads go to the primary until it answers again');
          else if (replica.lagSeconds !== undefined && replica.lagSeconds > config.databaseReadMaxLagSeconds)
            logger.warn({ replica: replica.name, lagSeconds: replica.lagSeconds }, 'read replica behind DATABASE_READ_MAX_LAG_SECONDS: left out of queries until it catches up');
          else logger.info({ replica: replica.name, was: was.up ? 'behind' : 'down' }, 'read replica serving reads');
        },
      });
      if (attempt > 1) logger.info({ attempt }, `${where} is reachable`);
      return database;
    } catch (error) {
      if (error instanceof PgliteLockedError) throw new StartupError(error.message);
      const reason = describeOpenFailure(error, where);
      if (!isUnavailable(error)) throw new StartupError(reason);
      const waited = Date.now() - started;
      if (waited > DATABASE_WAIT_MS) throw new StartupError(`${reason} (waited ${Math.round(waited / 1000)} s)`);
      if (attempt === 1) {
        logger.warn(`${reason}. Waiting up to ${DATABASE_WAIT_MS / 1000} s for it.`);
        reported = waited;
      } else if (waited - reported >= DATABASE_WAIT_REPORT_MS) {
        logger.warn(`still cannot open ${where} after ${Math.round(waited / 1000)} s; waiting`);
        reported = waited;
      }
      await new Promise((r) => setTimeout(r, Math.min(5000, 250 * 2 ** attempt)));
    }
  }
}

/** The command that runs a CLI of this project, from a checkout and in the Docker image. */
const cli = (script: string, args: string) => ({
  npm: `npm run ${script} -- ${args}`,
  docker: `docker compose exec app node dist/cli/${script}.js ${args}`,
});

const shellQuote = (value: string) => (/^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replaceAll("'", `'\\''`)}'`);

/**
 * The settings a CLI run from another terminal needs to open this service's database: that
 * terminal has not got this one's environment, and without them a CLI opens the embedded
 * database in ./data. Outside production the database URL is printed whole, password and all,
 * as the local secrets are; in production the banner may end up in collected logs, so it names
 * the setting instead.
 */
function databaseSettings(config: Config): string {
  if (config.databaseUrl) {
    return config.env === 'production' ? 'DATABASE_URL=<the same as this service> ' : `DATABASE_URL=${shellQuote(config.databaseUrl)} `;
  }
  return config.dataDir !== './data' ? `DATA_DIR=${shellQuote(config.dataDir)} ` : '';
}

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
      `or create keys of your own with \`${databaseSettings(config)}npm run apikey -- create --name <label>\` while the service is stopped.`,
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
      `  ${databaseSettings(config)}${create.npm}`,
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
  const known = error instanceof StartupError;
  process.stderr.write(`failed to start: ${known ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
