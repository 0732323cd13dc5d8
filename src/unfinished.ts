// Deliveries left `applying`: a delivery with many events is applied in parts (directory/store.ts,
// ingestInParts), and a process that stopped before its last part leaves its row so, stored
// whole and partly applied. Each is applied again whole by replay, which the ordering guard
// makes safe: what its first parts applied comes out unchanged, the rest is applied. On the
// embedded database, which one process owns, that is everything left at start; on Postgres,
// where another instance may be applying one right now, only those older than a part could take.
import type { Logger } from 'pino';
import type { Database } from './db/open.js';
import { replayDeliveries } from './replay.js';
import type { SourceAdapter } from './sources/types.js';
import type { DirectoryStore } from './directory/store.js';

/** How old an `applying` delivery must be before another process takes it as abandoned. */
const ABANDONED_AFTER_MS = 2 * 60_000;
/** How often a shared database is looked at again. */
const EVERY_MS = 60_000;

export interface Unfinished {
  /** One look now: finishes what is left; resolves with how many it finished. */
  resume(): Promise<number>;
  stop(): Promise<void>;
}

export function resumeUnfinished(
  deps: {
    db: Database;
    store: DirectoryStore;
    sources: readonly SourceAdapter[];
    /** The embedded database: this process alone writes it. */
    soleOwner: boolean;
    /** Before this process took deliveries: what it receives itself is never taken as abandoned. */
    startedAt: Date;
  },
  logger: Pick<Logger, 'info' | 'warn'>,
): Unfinished {
  let running: Promise<number> | undefined;
  const resume = (): Promise<number> => {
    running ??= (async () => {
      // Alone: whatever was received before this process listened. Shared: what no live process
      // can still be applying.
      const before = deps.soleOwner ? deps.startedAt : new Date(Date.now() - ABANDONED_AFTER_MS);
      const report = await replayDeliveries(deps.db, deps.store, deps.sources, { status: 'applying', before });
      if (report.replayed > 0) {
        logger.info({ deliveries: report.replayed, transitions: report.transitions }, 'finished deliveries a stopped process had left half applied');
      }
      return report.replayed;
    })().finally(() => (running = undefined));
    return running;
  };
  const look = () => void resume().catch((error: unknown) => logger.warn({ err: error }, 'could not finish half-applied deliveries; trying again later'));
  look();
  const timer = deps.soleOwner ? undefined : setInterval(look, EVERY_MS);
  timer?.unref();
  return {
    resume,
    stop: async () => {
      clearInterval(timer);
      await running?.catch(() => {});
    },
  };
}
