import { defineConfig } from 'vitest/config';

// Integration tests run once per database backend: always on embedded PGlite, and on a real
// Postgres when TEST_DATABASE_URL points at one (.ci/run always provides it).
const postgres = process.env.TEST_DATABASE_URL;

export default defineConfig({
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
