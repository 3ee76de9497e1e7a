import { defineConfig } from 'vitest/config';

// unit: pure logic, no services. integration / e2e: real Kafka, ClickHouse, Prometheus, resolved
// by test/helpers/global-setup.ts (env vars → testcontainers → local stack). If none can be had,
// the run fails; it never skips into green.
export default defineConfig({
  test: {
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        // Loading libtensorflow in a beforeAll takes seconds, more on a busy machine: 10 s was too short.
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 180_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          testTimeout: 1_200_000,
          hookTimeout: 600_000,
        },
      },
      {
        extends: true,
        test: {
          // The fault suite on its own private stack (test/faults/global-setup.ts); one scenario
          // at a time, since some kill the stack's ClickHouse or broker.
          name: 'faults',
          include: ['test/faults/scenarios/**/*.test.ts'],
          globalSetup: ['test/faults/global-setup.ts'],
          poolOptions: { forks: { singleFork: true } },
          env: { PIXELFLOW_FAULTS_MODE: 'full' },
          testTimeout: 900_000,
          hookTimeout: 600_000,
        },
      },
      {
        extends: true,
        test: {
          // The short version inside `npm test`: the kills most likely to regress, fewer images.
          name: 'faults-short',
          // (poison, with its third process, stays in the full suite to keep this under ~2 minutes).
          include: ['test/faults/scenarios/preprocess-kill.test.ts', 'test/faults/scenarios/serve-kill.test.ts'],
          globalSetup: ['test/faults/global-setup.ts'],
          poolOptions: { forks: { singleFork: true } },
          env: { PIXELFLOW_FAULTS_MODE: 'short', PIXELFLOW_FAULTS_IMAGES: '300', PIXELFLOW_FAULTS_RATE: '50' },
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
      {
        extends: true,
        test: {
          // Soak on the shared stack (it kills nothing): PIXELFLOW_SOAK_MINUTES, 30 by default.
          name: 'soak',
          include: ['test/soak/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          testTimeout: 3 * 60 * 60_000,
          hookTimeout: 600_000,
        },
      },
      {
        extends: true,
        test: {
          // The 2-minute soak inside `npm test`.
          name: 'soak-short',
          include: ['test/soak/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          env: { PIXELFLOW_SOAK_MINUTES: '2' },
          testTimeout: 600_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
