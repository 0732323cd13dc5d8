import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

// graphql 16 ships CommonJS (main) and ESM (module) builds. Node, and so the service, loads
// the CommonJS one everywhere; vite would hand our sources the ESM one while dependencies
// (graphql-tools, graphql-ws) get CommonJS, and graphql refuses a schema "from another
// realm". Resolve it the way Node does.
const graphqlMain = createRequire(import.meta.url).resolve('graphql');

// Integration tests run once per database backend: always on embedded PGlite, and on a real
// Postgres when TEST_DATABASE_URL points at one (.ci/run always provides it).
const postgres = process.env.TEST_DATABASE_URL;

export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: graphqlMain }] },
  test: {
    globalSetup: ['./test/support/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    projects: [
      { extends: true as const, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        extends: true as const,
        test: {
          name: 'pglite',
          include: ['test/integration/**/*.test.ts'],
          env: { TEST_BACKEND: 'pglite' },
        },
      },
      ...(postgres
        ? [
            {
              extends: true as const,
              test: {
                name: 'postgres',
                include: ['test/integration/**/*.test.ts'],
                env: { TEST_BACKEND: 'postgres' },
              },
            },
          ]
        : []),
    ],
  },
});
