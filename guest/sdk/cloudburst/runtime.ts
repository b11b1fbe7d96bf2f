// What the host offers besides state: logging and its clock.

import { LOG_DEBUG, LOG_ERROR, LOG_INFO, LOG_WARN } from "./abi";
import * as host from "./imports";
import { utf8 } from "./memory";

/**
 * Writes to the function's log on the host, tagged with the call it belongs to.
 *
 * ```ts
 * log.info("resized " + width.toString() + "px");
 * ```
 */
export namespace log {
  export function debug(msg: string): void { write(LOG_DEBUG, msg); }
  export function info(msg: string): void { write(LOG_INFO, msg); }
  export function warn(msg: string): void { write(LOG_WARN, msg); }
  export function error(msg: string): void { write(LOG_ERROR, msg); }

  function write(level: i32, msg: string): void {
    const m = utf8(msg);
    host.log(level, changetype<usize>(m), m.byteLength);
  }
}

/**
 * The host's wall-clock time in milliseconds since the Unix epoch (like `Date.now()`).
 *
 * ```ts
 * const started = now();
 * work();
 * log.debug("took " + (now() - started).toString() + " ms");
 * ```
 */
export function now(): f64 {
  return host.now();
}
