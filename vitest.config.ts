import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Bundle dist/ (the executor worker runs from dist/worker.js) and build the guest
    // fixtures with asc, once per run.
    globalSetup: ['test/setup/bundle.ts', 'test/setup/build-guests.ts'],
    setupFiles: ['test/setup/leaks.ts'],
    // End-to-end tests start real servers and processes: give them room, and keep files in
    // separate forks so that a crashed server cannot take the others down.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
  },
});
