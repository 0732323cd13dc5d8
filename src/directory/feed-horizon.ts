// How far retention has pruned the change feed (see retention/prune.ts). A reader resuming
// from a cursor checks it *after* reading: the prune and the horizon move in one statement, so
// a horizon still at or below the cursor once the rows are read means none was missing.
import { eq } from 'drizzle-orm';
import type { Database } from '../db/open.js';
import { feedHorizon } from '../db/schema.js';

/** Every change with seq at or below this is gone (0: nothing was ever pruned). */
export async function readFeedHorizon(db: Database): Promise<number> {
  const [row] = await db.select({ through: feedHorizon.prunedThrough }).from(feedHorizon).where(eq(feedHorizon.id, 1));
  return row?.through ?? 0;
}
