// How hard the randomised tests search (property runs, fuzz cases, crash cycles). TEST_EFFORT
// multiplies every such size: 1, the default, is what `npm test` and CI run, and nothing may run
// less (a smaller value is refused, so a run cannot quietly test less than CI does). A longer
// search, say before a release or after a change to the ordering rules, is TEST_EFFORT=10.
// PROPERTY_RUNS=<n> still sets one file's run count exactly, with PROPERTY_SEED to replay a failure.
const raw = process.env.TEST_EFFORT;

function parseEffort(): number {
  if (raw === undefined || raw === '') return 1;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 1) {
    throw new Error(`TEST_EFFORT=${raw}: must be a number of at least 1 (1 is what CI runs; more searches longer)`);
  }
  return value;
}

export const effort = parseEffort();

/** `base` scaled by TEST_EFFORT, or PROPERTY_RUNS where it is set (to replay or narrow one file). */
export function propertyRuns(base: number): number {
  const exact = Number(process.env.PROPERTY_RUNS);
  if (process.env.PROPERTY_RUNS && Number.isInteger(exact) && exact > 0) return exact;
  return Math.ceil(base * effort);
}

/** A count (crash cycles, generated events) scaled by TEST_EFFORT. */
export const scaled = (base: number): number => Math.ceil(base * effort);

/** For the run's header: what the randomised tests will do. */
export function effortLine(): string {
  return `Randomised tests at effort ×${effort} (${raw ? 'TEST_EFFORT' : 'default, as in CI'}; TEST_EFFORT=10 searches ten times longer)`;
}
