// The raw host imports, one declaration per function of the "cloudburst" import namespace
// (IMPORT_NAMESPACE in ./abi.ts). This file is the guest half of the ABI table in
// guest/README.md; the host provides exactly these names, and test/guest/abi.unit.test.ts checks
// that a guest calling every SDK function imports exactly this set.
//
// Conventions: strings and byte strings travel as (pointer, byte length) into linear memory;
// strings are UTF-8. Every import is a synchronous call that never allocates in the guest:
// a read that returns a variable amount of data stages it on the host and returns its length
// (or ABSENT), and the guest then allocates a buffer and calls `take` to copy it in. A failed
// host operation (a type mismatch, a lost KV tier) throws on the host side and fails the whole
// call, so no import returns an error code.
//
// `@external` needs string literals, hence "cloudburst" is spelled out instead of using
// IMPORT_NAMESPACE. Names are the ABI's snake_case names so this file reads like the table.

/** Stages the last-writer-wins value of a key; returns its byte length or ABSENT. */
// @ts-ignore: decorator
@external("cloudburst", "get")
export declare function get(keyPtr: usize, keyLen: i32): i32;

/** Copies the bytes staged by the last `get` or `set_members` to `dst`. */
// @ts-ignore: decorator
@external("cloudburst", "take")
export declare function take(dst: usize): void;

/** Writes a last-writer-wins value into the host's cache; flushed to the KV tier later. */
// @ts-ignore: decorator
@external("cloudburst", "put")
export declare function put(keyPtr: usize, keyLen: i32, valuePtr: usize, valueLen: i32): void;

/** Like `put`, but returns only once the KV tier acknowledged the write. */
// @ts-ignore: decorator
@external("cloudburst", "put_durable")
export declare function put_durable(keyPtr: usize, keyLen: i32, valuePtr: usize, valueLen: i32): void;

/** Deletes a key (a last-writer-wins tombstone). */
// @ts-ignore: decorator
@external("cloudburst", "del")
export declare function del(keyPtr: usize, keyLen: i32): void;

/** Adds `by` to this writer's share of a counter lattice; returns the new total. */
// @ts-ignore: decorator
@external("cloudburst", "counter_add")
export declare function counter_add(keyPtr: usize, keyLen: i32, by: i64): i64;

/** Returns the total of a counter lattice (0 when absent). */
// @ts-ignore: decorator
@external("cloudburst", "counter_get")
export declare function counter_get(keyPtr: usize, keyLen: i32): i64;

/** Adds a member to a grow-only set; returns 1 if it was not there before, else 0. */
// @ts-ignore: decorator
@external("cloudburst", "set_add")
export declare function set_add(keyPtr: usize, keyLen: i32, memberPtr: usize, memberLen: i32): i32;

/** Returns 1 if the grow-only set holds the member, else 0. */
// @ts-ignore: decorator
@external("cloudburst", "set_has")
export declare function set_has(keyPtr: usize, keyLen: i32, memberPtr: usize, memberLen: i32): i32;

/**
 * Stages the values of every concurrent version of a register (the primary first, deleted
 * ones left out); returns the staged byte length or ABSENT. Layout as `set_members`.
 */
// @ts-ignore: decorator
@external("cloudburst", "get_all")
export declare function get_all(keyPtr: usize, keyLen: i32): i32;

/**
 * Stages the members of a grow-only set; returns the staged byte length or ABSENT.
 * Staged layout: u32 LE count, then for each member a u32 LE length and its bytes.
 */
// @ts-ignore: decorator
@external("cloudburst", "set_members")
export declare function set_members(keyPtr: usize, keyLen: i32): i32;

/** Merges `value` into a max lattice; returns the new maximum. */
// @ts-ignore: decorator
@external("cloudburst", "max_put")
export declare function max_put(keyPtr: usize, keyLen: i32, value: i64): i64;

/** Returns the value of a max lattice, i64.MIN_VALUE when absent. */
// @ts-ignore: decorator
@external("cloudburst", "max_get")
export declare function max_get(keyPtr: usize, keyLen: i32): i64;

/** Writes a UTF-8 message to the function's log at one of the LOG_* levels. */
// @ts-ignore: decorator
@external("cloudburst", "log")
export declare function log(level: i32, msgPtr: usize, msgLen: i32): void;

/** Wall-clock time on the host, in milliseconds since the Unix epoch. */
// @ts-ignore: decorator
@external("cloudburst", "now")
export declare function now(): f64;

/** Stages the running function's id (UTF-8, unique across the cluster); returns its byte length. */
// @ts-ignore: decorator
@external("cloudburst", "id")
export declare function id(): i32;

/** Sends `msg` to the running function `to` (an id from `id`); returns at once. */
// @ts-ignore: decorator
@external("cloudburst", "send")
export declare function send(toPtr: usize, toLen: i32, msgPtr: usize, msgLen: i32): void;

/**
 * Stages the next message for this function, waiting up to `timeoutMs` (0: do not wait);
 * returns its byte length, or ABSENT when none came in time.
 */
// @ts-ignore: decorator
@external("cloudburst", "recv")
export declare function recv(timeoutMs: i32): i32;
