// The Cloudburst paper's gossip experiment: n functions run at once, each holding a number, and
// compute the average. `gossip` does it by push-sum over direct messages; `gather` does it
// through the KV tier (everyone writes its number, everyone reads all of them). Start n calls
// of one of them at the same time (async calls), with the same `run` and indexes 0..n-1.
//
// Push-sum (Kempe et al. 2003): each function holds a pair (s, w) = (value, 1). Every round it
// halves the pair, keeps one half and sends the other to a random peer; what it receives is
// added in. s/w at every function converges to the average of the values, and mass is never
// created, only moved (mass sent to a function that already stopped is lost, but the ratio at
// everyone else stays an average, so estimates are unaffected).

import { getString, get, putDurable, id, send, recv, now } from "cloudburst";

/** A function stops once its estimate moved less than this (relative) for STABLE rounds in a row... */
const TOLERANCE: f64 = 0.001;
const STABLE: i32 = 6;
/** ...and has done at least this many rounds (so that its mass mixed with everyone's). */
const MIN_ROUNDS: i32 = 25;
const MAX_ROUNDS: i32 = 500;

function bytesOf(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

function pair(s: f64, w: f64): Uint8Array {
  const b = new Uint8Array(16);
  store<f64>(b.dataStart, s);
  store<f64>(b.dataStart + 8, w);
  return b;
}

/**
 * One member of a push-sum gossip among `n` functions. Publishes its id under
 * `gossip/{run}/{index}` in the KV tier, reads the others' (waiting up to `maxMs` for them
 * all to start), then gossips until its estimate is stable. Returns its estimate of the
 * average of the `value`s.
 */
export function gossip(run: string, index: i32, n: i32, value: f64, maxMs: i32): f64 {
  assert(n >= 2 && index >= 0 && index < n, "gossip: need n >= 2 and 0 <= index < n");
  const started = now();
  putDurable("gossip/" + run + "/" + index.toString(), bytesOf(id()));
  let s = value;
  let w: f64 = 1.0;

  // Discovery through the KV tier. A peer that is already gossiping may send us mass
  // meanwhile: it is added in (push-sum messages commute).
  const peers: string[] = [];
  for (let j = 0; j < n; j++) peers.push("");
  let known = 0;
  while (known < n) {
    known = 0;
    for (let j = 0; j < n; j++) {
      if (peers[j].length == 0) {
        const p = getString("gossip/" + run + "/" + j.toString());
        if (p !== null) peers[j] = p;
      }
      if (peers[j].length > 0) known++;
    }
    if (known == n) break;
    assert(now() - started < <f64>maxMs, "gossip: not every peer published its id in time");
    // Waiting in recv also refreshes this call's view of the cache (see guest/README.md).
    const m = recv(5);
    if (m !== null) {
      s += load<f64>(m.dataStart);
      w += load<f64>(m.dataStart + 8);
    }
  }

  let prev = s / w;
  let stable = 0;
  for (let round = 1; round <= MAX_ROUNDS; round++) {
    let j = <i32>Math.floor(Math.random() * <f64>(n - 1));
    if (j >= index) j++;
    s *= 0.5;
    w *= 0.5;
    send(peers[j], pair(s, w));
    // Wait briefly for the first message of the round, then take whatever else is there.
    let m = recv(2);
    while (m !== null) {
      s += load<f64>(m.dataStart);
      w += load<f64>(m.dataStart + 8);
      m = recv(0);
    }
    const estimate = s / w;
    stable = Math.abs(estimate - prev) <= TOLERANCE * Math.abs(prev) ? stable + 1 : 0;
    prev = estimate;
    if (round >= MIN_ROUNDS && stable >= STABLE) break;
    if (now() - started > <f64>maxMs) break;
  }
  return s / w;
}

/**
 * The same average through the KV tier: writes `value` under `gather/{run}/{index}` and reads
 * the n values (waiting up to `maxMs` for all of them). Returns the exact average.
 */
export function gather(run: string, index: i32, n: i32, value: f64, maxMs: i32): f64 {
  const started = now();
  const mine = new Uint8Array(8);
  store<f64>(mine.dataStart, value);
  putDurable("gather/" + run + "/" + index.toString(), mine);
  const seen = new Array<bool>(n);
  let sum: f64 = 0;
  let count = 0;
  while (count < n) {
    for (let j = 0; j < n; j++) {
      if (seen[j]) continue;
      const v = get("gather/" + run + "/" + j.toString());
      if (v === null || v.length != 8) continue;
      seen[j] = true;
      sum += load<f64>(v.dataStart);
      count++;
    }
    if (count == n) break;
    assert(now() - started < <f64>maxMs, "gather: not every value was written in time");
    recv(5); // a wait that refreshes the view of the cache
  }
  return sum / <f64>n;
}
