// A guest that holds a worker for a while, for the tenants benchmark (tools/bench/tenants.ts).

import { now } from "cloudburst";

/** Busy-waits `ms` milliseconds of host time; returns the time waited. */
export function busy(ms: f64): f64 {
  const start = now();
  let elapsed = 0.0;
  while (elapsed < ms) elapsed = now() - start;
  return elapsed;
}
