/**
 * The one error type of the platform, with stable codes as data.
 *
 * Every failure a user can see carries one of these codes. The table gives each code its
 * HTTP status and whether it is the caller's fault (CLI exit 1) or the system's (exit 2).
 * Codes are never reused or renamed: clients match on them. `test/errors.unit.test.ts` keeps
 * this table and the README's error table in sync, in both directions.
 *
 * @example
 * throw new CloudburstError('UNKNOWN_FUNCTION', `no function named ${name}`)
 */
export const ERROR_CODES = {
  // Requests
  MALFORMED_JSON: { status: 400, userFault: true, summary: 'the body is not valid JSON, or not valid UTF-8' },
  INVALID_REQUEST: { status: 400, userFault: true, summary: 'the request is well-formed JSON but not of the expected shape (also: nested deeper than 64 levels)' },
  BODY_TOO_LARGE: { status: 413, userFault: true, summary: 'the body is over the route\'s size limit' },
  UNKNOWN_ROUTE: { status: 404, userFault: true, summary: 'no such route' },
  METHOD_NOT_ALLOWED: { status: 405, userFault: true, summary: 'the route exists but not with this method' },
  INVALID_NAME: { status: 400, userFault: true, summary: 'a module, function or key name is empty, too long or has forbidden characters' },
  // Who may do what
  UNAUTHENTICATED: { status: 401, userFault: true, summary: 'no credential, or a token that is unknown, expired or revoked: send `authorization: Bearer <token>`' },
  FORBIDDEN: { status: 403, userFault: true, summary: 'the token\'s scopes do not allow this route, or the route is cluster-internal (it needs the cluster credential)' },
  QUOTA_EXCEEDED: { status: 429, userFault: true, summary: 'the tenant is over one of its quotas; nothing was done; `Retry-After` says when to try again where waiting helps' },
  UNKNOWN_TENANT: { status: 404, userFault: true, summary: 'no tenant with this name' },
  UNKNOWN_TOKEN: { status: 404, userFault: true, summary: 'no token with this name' },
  NAME_TAKEN: { status: 409, userFault: true, summary: 'a tenant or token with this name exists already' },
  // Modules and functions
  INVALID_WASM: { status: 400, userFault: true, summary: 'the upload is not a valid WebAssembly module (or is truncated, or its start function failed or used state)' },
  FORBIDDEN_IMPORT: { status: 400, userFault: true, summary: 'the module imports something the host does not provide, or a host function with another signature' },
  MISSING_TYPES: { status: 400, userFault: true, summary: 'the module has no usable cloudburst type section (build it with `cloudburst build`), or its exports do not have the signatures it declares' },
  MEMORY_LIMIT: { status: 400, userFault: true, summary: 'the module asks for more memory than the host allows, or does not import its memory' },
  UNKNOWN_MODULE: { status: 404, userFault: true, summary: 'no module with this name' },
  UNKNOWN_FUNCTION: { status: 404, userFault: true, summary: 'no function with this name' },
  INVALID_ARGUMENTS: { status: 400, userFault: true, summary: 'wrong number or types of arguments for the function' },
  FUTURE_NOT_FOUND: { status: 404, userFault: true, summary: 'no future with this id (or it was never created)' },
  FUTURE_FAILED: { status: 424, userFault: true, summary: 'a {"future": id} argument names a call that failed; the message carries its error' },
  REF_NOT_FOUND: { status: 400, userFault: true, summary: 'a {"ref": key} argument names a key that does not exist' },
  // DAGs
  UNKNOWN_DAG: { status: 404, userFault: true, summary: 'no DAG with this name' },
  DAG_CYCLE: { status: 400, userFault: true, summary: 'the DAG\'s edges form a cycle (or a self edge); the message names it' },
  DAG_DISCONNECTED: { status: 400, userFault: true, summary: 'the DAG falls into unconnected groups of functions; the message lists them' },
  DAG_SINKS: { status: 400, userFault: true, summary: 'a DAG must have exactly one sink (function without successors); the message lists them' },
  DAG_STEP_TIMEOUT: { status: 504, userFault: false, summary: 'a step of the DAG did not report within the deadline, in every run (a host died?); the message names it' },
  // Running guests
  CALL_TIMEOUT: { status: 504, userFault: true, summary: 'the function ran past its deadline and was stopped' },
  GUEST_TRAP: { status: 500, userFault: true, summary: 'the function trapped (unreachable, out-of-bounds access, division by zero...) or broke the ABI (a result pointing outside its memory, state used in its start function)' },
  GUEST_ABORT: { status: 500, userFault: true, summary: 'the function called abort() (a failed assertion or thrown error)' },
  GUEST_OUT_OF_MEMORY: { status: 500, userFault: true, summary: 'the function needed more memory than its limit (its linear memory, or its uncommitted writes)' },
  BUILD_FAILED: { status: 400, userFault: true, summary: 'the AssemblyScript source did not compile (the CLI prints asc\'s diagnostics)' },
  // State
  KEY_NOT_FOUND: { status: 404, userFault: true, summary: 'no value under this key' },
  INVALID_KEY: { status: 400, userFault: true, summary: 'the key is empty, too long or not UTF-8' },
  KV_UNKNOWN_TYPE: { status: 400, userFault: true, summary: 'unknown lattice type' },
  KV_TYPE_MISMATCH: { status: 409, userFault: true, summary: 'the key already holds a value of another lattice type' },
  KV_BAD_VALUE: { status: 400, userFault: true, summary: 'the encoded lattice value is malformed or truncated' },
  KV_VALUE_TOO_LARGE: { status: 413, userFault: true, summary: 'the value is over the size limit for one key (67,107,840 bytes for a register, 64 MiB encoded for any value); nothing was written' },
  KV_RING_VERSION: { status: 409, userFault: true, summary: 'the node does not replicate this key under its (newer) ring; the body carries the ring, merge it and retry' },
  KV_UNAVAILABLE: { status: 503, userFault: false, summary: 'the KV tier could not be reached or did not acknowledge in time' },
  // The host itself
  OVERLOADED: { status: 503, userFault: false, summary: 'the host\'s call queue is full, or it serves as many log streams as it allows (in all, or to the tenant); retry later' },
  HOST_UNAVAILABLE: { status: 503, userFault: false, summary: 'a function host could not be reached' },
  FORWARD_TIMEOUT: { status: 504, userFault: false, summary: 'the call was forwarded to another host, which did not answer before the call\'s deadline (its link cut?): the call may have run there, or not; the message names the host' },
  CONSISTENCY_UNAVAILABLE: { status: 503, userFault: false, summary: 'a causal request, or a client session, needed a version that did not reach this host before its deadline' },
  NOT_READY: { status: 503, userFault: false, summary: 'the server is not ready to serve yet (starting, or a KV node catching up); its /readyz says so' },
  SHUTTING_DOWN: { status: 503, userFault: false, summary: 'the server is stopping (draining)' },
  INTERNAL: { status: 500, userFault: false, summary: 'an unexpected error; the server log has details' },
} as const satisfies Record<string, { status: number; userFault: boolean; summary: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

export class CloudburstError extends Error {
  override readonly name = 'CloudburstError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message?: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code].summary, options);
    this.code = code;
    this.details = details;
  }

  get status(): number {
    return ERROR_CODES[this.code].status;
  }

  get userFault(): boolean {
    return ERROR_CODES[this.code].userFault;
  }

  /** The JSON body every HTTP error response carries: `{"error": {"code", "message", ...details}}`. */
  toJSON(): { error: { code: ErrorCode; message: string } & Record<string, unknown> } {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** Rebuilds a CloudburstError from an error body another node sent us (`{"error": {...}}`). */
export function errorFromBody(body: unknown, fallback: ErrorCode = 'INTERNAL'): CloudburstError {
  const err = (body as { error?: { code?: unknown; message?: unknown } } | null)?.error;
  const code = isErrorCode(err?.code) ? err.code : fallback;
  const message = typeof err?.message === 'string' ? err.message : undefined;
  return new CloudburstError(code, message);
}
