// Messages between running functions: every call has an id, and any function that knows it
// (passed as an argument, or found in the KV tier) can send it bytes while both run.

import * as host from "./imports";
import { takeBytes, takeString, utf8 } from "./memory";

/**
 * The running function's id, unique across the cluster (`{host}.{call}`): give it to others
 * (through the KV tier, or as an argument) so that they can `send` to this call.
 */
export function id(): string {
  const s = takeString(host.id());
  assert(s !== null, "cloudburst: the host staged no id");
  return s!;
}

/**
 * Sends `msg` to the running function `to`. Returns at once; messages from one sender to one
 * receiver arrive in the order sent. A message for a function that is not running (yet) is
 * kept for a while, then parked in the KV tier (see host/README.md).
 */
export function send(to: string, msg: Uint8Array): void {
  const t = utf8(to);
  host.send(changetype<usize>(t), t.byteLength, msg.dataStart, msg.byteLength);
}

/** Sends the UTF-8 bytes of `msg`. */
export function sendString(to: string, msg: string): void {
  const t = utf8(to);
  const m = utf8(msg);
  host.send(changetype<usize>(t), t.byteLength, changetype<usize>(m), m.byteLength);
}

/**
 * The next message for this function, waiting up to `timeoutMs` milliseconds for one
 * (0: only what is already there); null when none came in time. The wait ends early at the
 * call's deadline.
 */
export function recv(timeoutMs: i32): Uint8Array | null {
  return takeBytes(host.recv(timeoutMs));
}

/** Like `recv`, decoded as UTF-8. */
export function recvString(timeoutMs: i32): string | null {
  return takeString(host.recv(timeoutMs));
}
