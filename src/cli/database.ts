// The database a maintenance command (apikey, replay, reconcile) works on: the one the service
// would open with the same settings. Said on stderr before anything else, because a new terminal
// that lacks the service's DATABASE_URL opens the embedded database in DATA_DIR instead, and a
// key made there would not open the service.
import { join } from 'node:path';
import type { Config } from '../config.js';
import { describeOpenFailure } from '../db/errors.js';
import { describeDatabaseUrl, openDatabase, type DatabaseHandle } from '../db/open.js';
import { PgliteLockedError } from '../db/pglite-lock.js';

/** The database could not be opened; the message says where, why and what to check. */
export class DatabaseOpenError extends Error {}

/** Where the command's database is, as the line it prints says it. */
export function databaseInUse(config: Pick<Config, 'databaseUrl' | 'dataDir'>): string {
  return config.databaseUrl
    ? `Postgres at ${describeDatabaseUrl(config.databaseUrl)} (from DATABASE_URL)`
    : `the embedded database in ${join(config.dataDir, 'pglite')} (DATABASE_URL is not set)`;
}

export async function openForCommand(
  command: string,
  config: Pick<Config, 'databaseUrl' | 'dataDir' | 'databaseSessionUrl' | 'databasePreparedStatements'>,
  poolSize: number,
): Promise<DatabaseHandle> {
  const where = databaseInUse(config);
  process.stderr.write(`${command}: using ${where}\n`);
  try {
    return await openDatabase({
      databaseUrl: config.databaseUrl,
      pgliteDir: join(config.dataDir, 'pglite'),
      poolSize,
      preparedStatements: config.databasePreparedStatements,
      ...(config.databaseSessionUrl ? { sessionUrl: config.databaseSessionUrl } : {}),
    });
  } catch (error) {
    if (error instanceof PgliteLockedError) throw error;
    throw new DatabaseOpenError(describeOpenFailure(error, where.replace(/ \(.*\)$/, '')));
  }
}
