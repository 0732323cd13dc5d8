// What the maintenance commands (replay, reconcile) share: a mistake in the arguments exits 2
// with the usage, `--help` prints it, a known failure (configuration, the embedded database in
// use) exits 1 with its message, anything else 1 with its stack.
import { ConfigError } from '../config.js';
import { PgliteLockedError } from '../db/pglite-lock.js';
import { DatabaseOpenError } from './database.js';

/** Thrown by a command's argument parser; parseArgs throws TypeError for unknown options. */
export class UsageError extends Error {}

export function runCommand<A>(
  name: string,
  usage: string,
  parse: (argv: string[]) => A | 'help',
  body: (args: A) => Promise<number>,
): void {
  const main = async (): Promise<number> => {
    let args: A | 'help';
    try {
      args = parse(process.argv.slice(2));
    } catch (error) {
      if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error;
      console.error(`${name}: ${error.message}\n\n${usage}`);
      return 2;
    }
    if (args === 'help') {
      console.log(usage);
      return 0;
    }
    return body(args);
  };
  main()
    .then((code) => process.exit(code))
    .catch((error: unknown) => {
      const known = error instanceof ConfigError || error instanceof PgliteLockedError || error instanceof DatabaseOpenError;
      console.error(`${name}: ${known ? (error as Error).message : error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      process.exit(1);
    });
}
