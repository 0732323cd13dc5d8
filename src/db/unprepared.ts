// The mark of statements that are not to be prepared (see alwaysPrepared in open.ts).

/**
 * Starts a statement that should not be prepared: one whose text changes with its input (a
 * VALUES list as long as a batch), run once per batch, where preparing would only fill each
 * connection's statement cache (and Postgres's memory) with one-off texts.
 */
export const UNPREPARED = '/* unprepared */ ';
