// Time in tests. A test waits for a condition, never for a length of time; the deadlines left
// only turn a wait that would hang into a failure that says what it waited for. Each is
// written for the machine the suite was written on and scaled by TEST_TIME_SCALE, which
// vitest.config.ts measures once per run (test/support/calibrate.ts): on a machine three times
// slower, or busy with other work, every deadline is that much longer.
const fromEnv = Number(process.env.TEST_TIME_SCALE);

/** How much slower this machine is than the one the deadlines were written on (at least 1). */
export const timeScale = Number.isFinite(fromEnv) && fromEnv >= 1 ? fromEnv : 1;

/** A deadline of `ms` on the reference machine, on this one. */
export const budget = (ms: number): number => Math.ceil(ms * timeScale);
