/**
 * The hostile-input suite's knobs (test/README.md, "The hostile-input suite"): one seed for
 * every property of a run, and the number of cases, both overridable from the environment so
 * that a failure found in CI replays exactly and a developer can run a million cases locally.
 *
 * - `CLOUDBURST_FUZZ_SEED`: the seed (default FUZZ_DEFAULT_SEED). A failing property prints
 *   it with the shrunk counterexample and its path (fast-check's report).
 * - `CLOUDBURST_FUZZ_RUNS`: the HTTP cases of a run, over all routes (default 10,000); the wasm
 *   mutants are a tenth of it (default 1,000).
 */
import type { Parameters as FcParameters } from 'fast-check';

export const FUZZ_DEFAULT_SEED = 1_200_612;
export const FUZZ_DEFAULT_RUNS = 10_000;

function envInt(name: string, fallback: number): number {
  const text = process.env[name];
  if (text === undefined || text === '') return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new Error(`${name} must be an integer, not ${JSON.stringify(text)}`);
  return n;
}

export const FUZZ_SEED = envInt('CLOUDBURST_FUZZ_SEED', FUZZ_DEFAULT_SEED);
export const FUZZ_RUNS = envInt('CLOUDBURST_FUZZ_RUNS', FUZZ_DEFAULT_RUNS);

/** The share of FUZZ_RUNS one property runs (at least one case). */
export function runs(share: number): number {
  return Math.max(1, Math.round(FUZZ_RUNS * share));
}

/**
 * fast-check's parameters for one property of the suite: the run's seed, `numRuns` cases.
 * No time limit: a property runs every case or fails.
 */
export function fuzzParams<T>(numRuns: number): FcParameters<T> {
  return { seed: FUZZ_SEED, numRuns, endOnFailure: false };
}

/** A test's deadline for `cases` HTTP cases (each answered well within 5 s), with room for a loaded machine. */
export function deadlineFor(cases: number, perCaseMs = 20): number {
  return 60_000 + cases * perCaseMs;
}
