// What the process does with an error that nothing caught, instead of Node's default (an
// unhandled rejection ends the process, printed to stderr without our context).
//
// - An unhandled rejection is logged and the process goes on. The promise settled with nobody
//   listening; nothing was cut off half-way. Everything the service acknowledges is awaited
//   inside its transaction, so such a rejection can only come from work nobody waits for
//   (a library's internals, a background task), and its failure has already reached whoever
//   depends on it. Ending the process for it would drop every delivery in flight and every
//   live subscription, and during a database outage, the likeliest moment for one, it would
//   take every instance down at once. It is still a bug: it is logged at error level, counted,
//   with the error's stack.
// - An uncaught exception is logged and the process exits with 1. It unwound a callback's
//   stack part-way, so what that callback was changing in memory may be half-done; the
//   database is not (transactions roll back), so a restart by the supervisor is the safe way
//   back.
import type { Logger } from 'pino';

export interface StrayErrorHandling {
  /** How many unhandled rejections were logged so far. */
  unhandledRejections(): number;
  /** Removes the handlers (tests, and a process that embeds the service). */
  remove(): void;
}

export function handleStrayErrors(
  logger: Logger,
  exit: (code: number) => void = (code) => process.exit(code),
): StrayErrorHandling {
  let rejections = 0;
  const onRejection = (reason: unknown) => {
    rejections++;
    logger.error(
      { err: reason, unhandledRejections: rejections },
      'unhandled promise rejection (a bug: please report it); the service keeps running',
    );
  };
  const onException = (error: Error, origin: string) => {
    logger.fatal({ err: error, origin }, 'uncaught exception; exiting so that a supervisor restarts the service');
    // pino writes synchronously to stdout by default, so the line is out before the exit.
    exit(1);
  };
  process.on('unhandledRejection', onRejection);
  process.on('uncaughtException', onException);
  return {
    unhandledRejections: () => rejections,
    remove: () => {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}
