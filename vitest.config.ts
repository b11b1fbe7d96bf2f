import { defineConfig } from 'vitest/config';

// Three projects, chosen by a file's name and folder (test/README.md, "Projects"):
// - unit: `*.unit.test.ts`, in-process only; `test/setup/unit-guard.ts` fails a test that
//   listens, connects, starts a process or a worker thread. No global setup: a unit test that
//   loads built guests builds the ones it needs (`ensureGuests`).
// - cluster: the other files under a `cluster/` folder, several processes or nodes each.
// - e2e: everything else (servers on loopback, processes, executor workers).
const UNIT = '**/*.unit.test.ts';
const CLUSTER = ['test/cluster/**/*.test.ts', 'test/kvs/cluster/**/*.test.ts'];

// Bundle dist/ (the executor worker runs from dist/worker.js) and build the guest fixtures
// with asc, once per run (a second project running it finds everything up to date).
const SERVERS = {
  globalSetup: ['test/setup/bundle.ts', 'test/setup/build-guests.ts'],
  setupFiles: ['test/setup/leaks.ts'],
};

// Files run in separate forks, so that a crashed server cannot take the others down; the
// limits give a loaded machine room (tests wait for conditions, they do not time them): so
// does `expect.poll`'s default deadline, 30 s instead of vitest's 1 s.
const SHARED = {
  pool: 'forks',
  testTimeout: 60_000,
  hookTimeout: 120_000,
  teardownTimeout: 30_000,
  expect: { poll: { timeout: 30_000 } },
} as const;

export default defineConfig({
  test: {
    projects: [
      // Unit files share their fork's modules (isolate: false): they keep no state between
      // files, and it halves the run.
      { test: { ...SHARED, isolate: false, name: 'unit', include: [`test/${UNIT}`], setupFiles: ['test/setup/leaks.ts', 'test/setup/unit-guard.ts'] } },
      { test: { ...SHARED, ...SERVERS, name: 'e2e', include: ['test/**/*.test.ts'], exclude: [UNIT, ...CLUSTER] } },
      { test: { ...SHARED, ...SERVERS, name: 'cluster', include: CLUSTER, exclude: [UNIT] } },
    ],
  },
});
