import { CloudburstError } from '../common/index.ts';

/**
 * Storage key layout: `{tenant}/{space}/{name}`. Every key the host stores in its cache or
 * the KV tier is namespaced this way: a tenant's names (modules, DAGs, user keys, futures,
 * inboxes) live under its own prefix, and records of different kinds never share a space.
 * A tenant name has no `/` (`checkTenantName`), so the prefix is unambiguous. Every function
 * here that builds a key takes the tenant: there is no default, so a forgotten tenant is a
 * type error rather than a silent `default`.
 */

/**
 * The tenant of a request that names none (the embedded default, `--insecure`), and the
 * home of platform-wide records (the host directory: `default/sys/host/{id}`).
 */
export const DEFAULT_TENANT = 'default';

export const SPACES = {
  /** User state: what guests and `/v1/kv` read and write. */
  user: 'k',
  /** Module bytes, content-addressed by sha256. */
  wasm: 'wasm',
  /** Registry entry of a module (JSON, LWW), by module name. */
  module: 'mod',
  /** Sets of names: a tenant's modules and DAGs; under DEFAULT_TENANT also the platform's hosts. */
  system: 'sys',
  /** Results of asynchronous calls, by future id. */
  future: 'fut',
  /** DAG definitions (JSON, LWW), by DAG name. */
  dag: 'dag',
  /** Inboxes of running functions (grow-only sets of messages), by function id. */
  message: 'msg',
  // Under the tenant `_system` only (auth/records.ts): tokens by hash, token names, tenants.
  token: 'tok',
  tokenName: 'tokname',
  tenant: 'tenant',
} as const;

/** A user key may be at most this many UTF-8 bytes (the tier allows 1024 with the prefix). */
export const MAX_USER_KEY_BYTES = 512;

export type Space = (typeof SPACES)[keyof typeof SPACES];

export function storageKey(tenant: string, space: Space, name: string): string {
  return `${tenant}/${space}/${name}`;
}

export function userPrefix(tenant: string): string {
  return `${tenant}/${SPACES.user}/`;
}

const USER_KEY = new RegExp(`^[^/]+/${SPACES.user}/`);

/** Whether a storage key is a user key (of any tenant): what placement looks for. */
export function isUserKey(storageKey: string): boolean {
  return USER_KEY.test(storageKey);
}

/**
 * The name part of a storage key (`{tenant}/{space}/{name}` -> `name`), for messages.
 *
 * @example
 * displayKey('default/k/cart/7'); // 'cart/7'
 */
export function displayKey(storageKey: string): string {
  const second = storageKey.indexOf('/', storageKey.indexOf('/') + 1);
  return second < 0 ? storageKey : storageKey.slice(second + 1);
}

// Control characters (C0, DEL, C1), U+FFFD (what a lossy decoder makes of invalid UTF-8) and
// lone surrogates (not encodable as UTF-8). With the `u` flag a surrogate pair is one code
// point, so only lone halves match the surrogate range.
const FORBIDDEN_CHARACTER = /[\p{Cc}\uFFFD\uD800-\uDFFF]/u;
/**
 * `.` and `..` are dot segments: URL parsing (every HTTP client's, and the router's) removes
 * them from a path even when percent-encoded (`%2E`), so `/v1/kv/{key}` could never reach them.
 * Every other key is one path segment once percent-encoded (`encodeURIComponent`).
 */
const DOT_SEGMENT = /^\.{1,2}$/;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * The one key rule, for guests and the HTTP API alike: 1 to MAX_USER_KEY_BYTES bytes of
 * UTF-8, no control character, no U+FFFD, not `.` or `..`. So every key a guest can write can
 * be read and deleted over `/v1/kv/{encodeURIComponent(key)}`. Returns the key.
 */
export function checkKeyName(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new CloudburstError('INVALID_KEY', 'a key must be a non-empty string');
  }
  const bytes = Buffer.byteLength(key, 'utf8');
  if (bytes > MAX_USER_KEY_BYTES) {
    throw new CloudburstError('INVALID_KEY', `a key may be at most ${MAX_USER_KEY_BYTES} bytes of UTF-8, this one is ${bytes}`);
  }
  const bad = FORBIDDEN_CHARACTER.exec(key);
  if (bad) {
    const code = bad[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new CloudburstError('INVALID_KEY', `a key may not contain control characters, U+FFFD or invalid UTF-8 (U+${code} at ${bad.index})`);
  }
  if (DOT_SEGMENT.test(key)) throw new CloudburstError('INVALID_KEY', `the key ${JSON.stringify(key)} cannot be a URL path segment: use another name`);
  return key;
}

/** Validates a user key of `tenant` (HTTP, `{"ref": key}`) and returns its storage key. */
export function userKey(tenant: string, key: unknown): string {
  return userPrefix(tenant) + checkKeyName(key);
}

/**
 * The same rule for a key a guest passes as `len` bytes of its memory: the length first, so
 * that `read` (the view of the guest's memory) is never taken of a region no key could fill.
 * Returns the key's name (without the storage prefix).
 */
export function guestKey(len: number, read: () => Uint8Array): string {
  if (len <= 0 || len > MAX_USER_KEY_BYTES) {
    throw new CloudburstError('INVALID_KEY', `a key must be 1 to ${MAX_USER_KEY_BYTES} bytes of UTF-8, not ${len}`);
  }
  return guestKeyName(read());
}

/** Printable ASCII (U+0020 to U+007E): valid UTF-8 as it stands, and no character of it is forbidden in a key. */
const PRINTABLE_MIN = 0x20;
const PRINTABLE_MAX = 0x7e;

/**
 * `guestKey` for a key of `len` bytes at `at` in `mem`, a view of the guest's whole memory
 * (the caller checked that the range lies inside it). A key of printable ASCII, the common
 * case, is read straight into a string: the same string the strict decoder makes, and
 * `checkKeyName` has nothing to refuse in it but a dot segment. Any other byte goes the
 * strict way (`guestKeyName`), with its errors. The guest's `get` and `put` name a key each;
 * a TextDecoder call and a view of the guest's memory per key were a tenth of a cached get.
 */
export function guestKeyAt(mem: Buffer, at: number, len: number): string {
  if (len <= 0 || len > MAX_USER_KEY_BYTES) return guestKey(len, () => mem.subarray(at, at + len));
  if (!printableKeyAt(mem, at, len)) return guestKeyName(mem.subarray(at, at + len));
  const text = mem.toString('latin1', at, at + len);
  return len <= 2 ? checkKeyName(text) : text;
}

/**
 * Whether the `len` bytes at `at` are printable ASCII: a key as they stand (their latin1
 * reading is their UTF-8 reading) unless a dot segment or too long, which the caller checks.
 */
export function printableKeyAt(mem: Uint8Array, at: number, len: number): boolean {
  const end = at + len;
  for (let i = at; i < end; i++) {
    const b = mem[i]!;
    if (b < PRINTABLE_MIN || b > PRINTABLE_MAX) return false;
  }
  return true;
}

/**
 * A key's bytes, decoded strictly (invalid UTF-8 is INVALID_KEY, not replaced), then checked by
 * `checkKeyName`. Returns the key's name.
 */
export function guestKeyName(bytes: Uint8Array): string {
  let text: string;
  try {
    text = STRICT_UTF8.decode(bytes);
  } catch {
    throw new CloudburstError('INVALID_KEY', 'a key must be valid UTF-8');
  }
  return checkKeyName(text);
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/;

/** Module names: 1-64 of letters, digits, `_` and `-`, not starting with `-`. */
export function checkModuleName(name: string): string {
  if (!NAME.test(name)) {
    throw new CloudburstError('INVALID_NAME', `invalid module name ${JSON.stringify(name)}: use 1-64 letters, digits, _ or -`);
  }
  return name;
}

/** DAG names follow the rules of module names (they are path segments and key names). */
export function checkDagName(name: string): string {
  if (!NAME.test(name)) {
    throw new CloudburstError('INVALID_NAME', `invalid DAG name ${JSON.stringify(name)}: use 1-64 letters, digits, _ or -`);
  }
  return name;
}
