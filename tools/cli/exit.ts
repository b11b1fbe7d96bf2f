/**
 * The CLI's exit codes and how it reports an error (README, "Errors": "Exit codes"). One table,
 * so that every command means the same by the same number:
 *
 * - 0: done;
 * - 1: refused for the caller's mistake: an error code whose fault is the caller's (common/
 *   errors.ts `userFault`), from the platform or from the CLI's own checks of a value
 *   (BUILD_FAILED, a TLS file that is not PEM, a port in use);
 * - 2: the system's fault: the host or the KV tier unreachable, unavailable, timing out, an
 *   internal error; retrying later may help;
 * - 3: nothing failed, but it is not there (yet): a future still pending, a cluster that was
 *   stopped;
 * - 64: a usage error (the command line itself: an unknown command or flag, a value outside a
 *   flag's choices, a missing argument), found before anything started. 64 is EX_USAGE of
 *   sysexits.h: 2, the other common choice for usage, has meant "the system's fault" here
 *   since the first CLI, and scripts retry on it.
 */
import { CloudburstError, ERROR_CODES, type ErrorCode } from '../../common/index.ts';

export const EXIT = { ok: 0, caller: 1, system: 2, notThere: 3, usage: 64 } as const;

/** A mistake in the command line (exit 64); its code, for `--json`, is INVALID_REQUEST. */
export class UsageError extends CloudburstError {
  constructor(message: string) {
    super('INVALID_REQUEST', message);
  }
}

/** The exit code of a failure with `code`. */
export const exitOf = (err: CloudburstError): number => (err instanceof UsageError ? EXIT.usage : ERROR_CODES[err.code].userFault ? EXIT.caller : EXIT.system);

/**
 * Prints a failure on stderr, as `error CODE: message` or (with `--json`) as the HTTP API's
 * error body on one line, `{"error": {"code", "message", ...details}, "exit": N}` (details: what
 * the platform's answer carried, e.g. the `key` of a KV_TYPE_MISMATCH), and returns the exit
 * code.
 */
export function reportError(err: CloudburstError | { code: ErrorCode; message: string }, exit: number, json: boolean): number {
  if (json) {
    const body = err instanceof CloudburstError ? err.toJSON() : { error: { code: err.code, message: err.message } };
    console.error(JSON.stringify({ ...body, exit }));
  } else {
    console.error(`error ${err.code}: ${err.message}`);
  }
  return exit;
}

/** The codes whose messages name request fields. */
const FIELD_CODES: ReadonlySet<ErrorCode> = new Set(['INVALID_REQUEST', 'INVALID_ARGUMENTS', 'MALFORMED_JSON']);

/**
 * The platform's error in the CLI's words: the request fields the CLI filled from flags named
 * as those flags (`timeoutMs must be ...` of `--timeout 0` reads `--timeout must be ...`).
 *
 * @example
 * inFlagTerms(err, { timeoutMs: '--timeout' })
 */
export function inFlagTerms<E>(err: E, fields: Readonly<Record<string, string>>): E {
  // Only refusals of the request's shape speak of its fields (not, say, CONSISTENCY_UNAVAILABLE's
  // "consistency", which is no flag's fault).
  if (!(err instanceof CloudburstError) || err instanceof UsageError || !FIELD_CODES.has(err.code)) return err;
  let message = err.message;
  for (const [field, flag] of Object.entries(fields)) message = message.replace(new RegExp(`"?\\b${field}\\b"?`, 'g'), flag);
  if (message === err.message) return err;
  return new CloudburstError(err.code, message, err.details, { cause: err }) as E;
}
