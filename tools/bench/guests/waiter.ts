// A guest that mostly waits, for the autoscale benchmark (tools/bench/autoscale.ts): it holds a
// worker without using a core, so a host's capacity is its workers, not this machine's CPUs.

import { recv } from "cloudburst";

/** Waits `ms` milliseconds in `recv` for a message that never comes; returns 1 if one came anyway. */
export function wait(ms: i32): i32 {
  return recv(ms) === null ? 0 : 1;
}
