import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { calibrate, REFERENCE_MS } from './test/support/calibrate.js';

// graphql 16 ships CommonJS (main) and ESM (module) builds. Node, and so the service, loads
// the CommonJS one everywhere; vite would hand our sources the ESM one while dependencies
// (graphql-tools, graphql-ws) get CommonJS, and graphql refuses a schema "from another
// realm". Resolve it the way Node does.
const graphqlMain = createRequire(import.meta.url).resolve('graphql');

// Integration tests run once per database backend: always on embedded PGlite, and on a real
// Postgres when TEST_DATABASE_URL points at one (.ci/run always provides it).
const postgres = process.env.TEST_DATABASE_URL;

// Deadlines in tests scale with how slow this machine is now (test/support/time.ts). Measured
// once here, in the main process; the workers inherit it through the environment, and
// TEST_TIME_SCALE set by hand wins.
// (vitest may load this file more than once in a run: measure only the first time.)
if (!process.env.TEST_TIME_SCALE_SOURCE) {
  const calibration = calibrate(process.env.TEST_TIME_SCALE);
  process.env.TEST_TIME_SCALE = String(calibration.scale);
  process.env.TEST_TIME_SCALE_SOURCE =
    calibration.source === 'measured'
      ? `measured: ${calibration.measuredMs!.toFixed(0)} ms for a workload of ${REFERENCE_MS} ms on the reference machine`
      : 'set by hand';
}
const calibration = { scale: Number(process.env.TEST_TIME_SCALE) };
const scaled = (ms: number) => Math.ceil(ms * calibration.scale);

export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphqlMain }] },
  test: {
    globalSetup: ['./test/support/global-setup.ts'],
    // One test file per core, not vitest's default of one fewer: most of an integration
    // test's time is spent waiting on service processes, sockets, Postgres and timers, so on
    // two cores two files at a time take about half as long (15 minutes to 8 in CI).
    maxWorkers: availableParallelism(),
    // Test files share their worker and its loaded modules instead of each importing the whole
    // service afresh: that import alone was 1.5 s a file, a quarter of CI's run. What a file
    // leaves behind (a pending timer, a socket, a late rejection) then shows in the next one,
    // so files clean up after themselves; process-wide state is reset where a library keeps it
    // (Polis's store: test/interop/support/polis.ts).
    isolate: false,
    // A test or hook that runs past these is hung, not slow: they only turn a hang into a
    // failure, and are far above what any test takes on the reference machine.
    testTimeout: scaled(120_000),
    // expect.poll waits for a condition; its default of 1 s is a speed budget, not a hang guard.
    expect: { poll: { timeout: scaled(15_000) } },
    hookTimeout: scaled(180_000),
    projects: [
      { extends: true as const, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true as const,
        test: {
          name: 'pglite',
          include: ['test/integration/**/*.test.ts', 'test/interop/**/*.test.ts'],
          env: { TEST_BACKEND: 'pglite' },
        },
      },
      ...(postgres
        ? [
            {
              extends: true as const,
              test: {
                name: 'postgres',
                include: ['test/integration/**/*.test.ts', 'test/interop/**/*.test.ts'],
                env: { TEST_BACKEND: 'postgres' },
              },
            },
          ]
        : []),
      // Behind PgBouncer in transaction mode (docs/running.md), the suites' main files: ingest
      // (duplicates, concurrency, group commit), live (subscriptions, two processes) and isolation.
      ...(postgres && process.env.TEST_PGBOUNCER
        ? [
            {
              extends: true as const,
              test: {
                name: 'pgbouncer',
                include: [
                  'test/integration/duplicates.test.ts',
                  'test/integration/concurrency.test.ts',
                  'test/integration/group-commit.property.test.ts',
                  'test/integration/subscriptions.test.ts',
                  'test/integration/live-instances.test.ts',
                  'test/integration/graphql-isolation.test.ts',
                ],
                env: { TEST_BACKEND: 'postgres', TEST_POOLER: '1' },
              },
            },
          ]
        : []),
    ],
  },
});
