/**
 * The shape of the logs API (README, "The HTTP API"; host/README.md, "Logs"): one line of a
 * function's log as `GET /v1/functions/{fn}/logs` and the log stream give it, and one failed
 * call as `GET /v1/errors` gives it. The dashboard and `cloudburst dev` read these shapes.
 */

/** The levels of the guest SDK's `log.debug/info/warn/error`, by their number on the ABI. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A level's name from the number a guest logged with (anything unknown reads as `info`). */
export function levelName(level: number): LogLevel {
  return LOG_LEVELS[level] ?? 'info';
}

/**
 * One line of a function's log, as it leaves a host.
 *
 * @example
 * { seq: 42, time: 1764883200123, host: "a1b2c3d4e5f6", callId: "a1b2c3d4e5f6.k3.17",
 *   fn: "hello.greet", level: "info", message: "greeting ada" }
 */
export interface LogLine {
  /** Its place in the host's log, over every function of the host: the cursor counts these. */
  seq: number;
  /** When the guest logged it (ms since the epoch); the failure's line: when the call ended. */
  time: number;
  /** The host that ran the call (its id). */
  host: string;
  /** The call that logged it (`GET /v1/errors` and the `x-cloudburst-call-id` answer header name calls so). */
  callId: string;
  fn: string;
  level: LogLevel;
  message: string;
  /** Only on the line a failed call adds (level `error`): its error code. */
  code?: string;
}

/** A failed call as `GET /v1/errors` lists it: its failure and its log lines (the failure's line last). */
export interface ErrorEntry {
  time: number;
  host: string;
  fn: string;
  callId: string;
  code: string;
  message: string;
  logs: LogLine[];
}
