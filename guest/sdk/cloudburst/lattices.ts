// Lattice types: values whose concurrent updates merge instead of overwriting each other, so
// calls running at the same time on different hosts never lose an update.

import * as host from "./imports";
import { takeMembers, utf8 } from "./memory";

/**
 * Counters that only merge, never overwrite: concurrent `add`s on any hosts all count.
 *
 * ```ts
 * const views = counter.add("page:/home", 1);
 * ```
 */
export namespace counter {
  /** Adds `by` (may be negative) to the counter at `key`; returns the new total. */
  export function add(key: string, by: i64): i64 {
    const k = utf8(key);
    return host.counter_add(changetype<usize>(k), k.byteLength, by);
  }

  /** Returns the total of the counter at `key`, 0 when absent. */
  export function get(key: string): i64 {
    const k = utf8(key);
    return host.counter_get(changetype<usize>(k), k.byteLength);
  }
}

/**
 * Grow-only sets of byte strings: members can be added, never removed.
 *
 * ```ts
 * if (set.addString("seen", userId)) log.info("first visit of " + userId);
 * ```
 */
export namespace set {
  /** Adds `member` to the set at `key`; returns true if it was not a member before. */
  export function add(key: string, member: Uint8Array): bool {
    const k = utf8(key);
    return host.set_add(changetype<usize>(k), k.byteLength, member.dataStart, member.byteLength) != 0;
  }

  /** Adds the UTF-8 bytes of `member`; returns true if it was not a member before. */
  export function addString(key: string, member: string): bool {
    const k = utf8(key);
    const m = utf8(member);
    return host.set_add(changetype<usize>(k), k.byteLength, changetype<usize>(m), m.byteLength) != 0;
  }

  /** Returns true if the set at `key` holds `member`. */
  export function has(key: string, member: Uint8Array): bool {
    const k = utf8(key);
    return host.set_has(changetype<usize>(k), k.byteLength, member.dataStart, member.byteLength) != 0;
  }

  /** Returns true if the set at `key` holds the UTF-8 bytes of `member`. */
  export function hasString(key: string, member: string): bool {
    const k = utf8(key);
    const m = utf8(member);
    return host.set_has(changetype<usize>(k), k.byteLength, changetype<usize>(m), m.byteLength) != 0;
  }

  /** Returns the members of the set at `key` (empty when absent), in the host's order. */
  export function members(key: string): Uint8Array[] {
    const k = utf8(key);
    return takeMembers(host.set_members(changetype<usize>(k), k.byteLength));
  }

  /** Returns the members of the set at `key` decoded as UTF-8. */
  export function membersString(key: string): string[] {
    const raw = members(key);
    const out = new Array<string>(raw.length);
    for (let i = 0; i < raw.length; i++) {
      const m = unchecked(raw[i]);
      unchecked(out[i] = String.UTF8.decodeUnsafe(m.dataStart, <usize>m.length));
    }
    return out;
  }
}

/**
 * Registers that keep the largest value ever written: a high-water mark.
 *
 * ```ts
 * max.put("best-score", score);
 * ```
 */
export namespace max {
  /** Merges `v` into the register at `key`; returns the new maximum. */
  export function put(key: string, v: i64): i64 {
    const k = utf8(key);
    return host.max_put(changetype<usize>(k), k.byteLength, v);
  }

  /** Returns the maximum at `key`, or i64.MIN_VALUE when absent. */
  export function get(key: string): i64 {
    const k = utf8(key);
    return host.max_get(changetype<usize>(k), k.byteLength);
  }
}
