import type { GuestLog } from '../executor/protocol.ts';

/** A call's log lines and id, kept with the error a failed call threw. */
export interface CallLogs {
  callId: string;
  logs: GuestLog[];
}

/**
 * The logs of failed calls, by their error: the error's JSON body stays `{"error": {...}}` for
 * every caller, and only a call that asked for its logs (`?logs=1`, `"logs": true`) answers
 * them, read here (routes.ts). Weak: an error nobody answers takes its lines with it.
 */
const byError = new WeakMap<Error, CallLogs>();

/**
 * Keeps `logs` with `err` (a failed call's, on the host that ran it or that forwarded it);
 * answers `err`.
 *
 * @example
 * throw withCallLogs(new CloudburstError(code, message), { callId, logs: outcome.logs });
 */
export function withCallLogs<E extends Error>(err: E, logs: CallLogs): E {
  byError.set(err, logs);
  return err;
}

/** The logs a failed call's error carries, if it came from a call. */
export function callLogsOf(err: unknown): CallLogs | undefined {
  return err instanceof Error ? byError.get(err) : undefined;
}
