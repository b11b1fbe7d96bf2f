/**
 * A request target as the host's router matches it (`paths: 'url'`, router.ts): parsed as a
 * URL (dot segments resolved, characters a URL escapes escaped, `\` read as `/`, a fragment
 * dropped), then empty segments dropped.
 *
 * Parsing with `new URL` costs ~2 us a request (a URL object, its getters, a split and a join):
 * ~1.5% of the host's main thread under `math.square` load. Almost every target is plain
 * (`/v1/functions/math.square/call`), and for a plain one that parse changes nothing: this
 * answers those by scanning the characters once, and gives everything else to `new URL`.
 */

/** The path to match (no empty segments) and the query string (`?...`, or empty). */
export interface SplitTarget {
  readonly path: string;
  readonly search: string;
}

/**
 * Whether a character is one `new URL` keeps as it is in a path and in a query, with no
 * special meaning to it: letters, digits, and `-._~!$&()*+,;=:@/`. Not `%` (`%2e` is a dot
 * segment), `\` (a slash), `'` (escaped in a query), `#` (a fragment), `?` (handled apart),
 * nor space, controls, quotes, `<>^{|}` and non-ASCII (escaped).
 */
const PLAIN = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&()*+,;=:@/') PLAIN[c.charCodeAt(0)] = 1;

const SLASH = 0x2f;
const DOT = 0x2e;
const QUESTION = 0x3f;

/**
 * @example
 * splitTarget('/v1//kv/a/?fresh') // { path: '/v1/kv/a', search: '?fresh' }
 */
export function splitTarget(target: string): SplitTarget {
  return plain(target) ?? parsed(target);
}

/** The split of a plain target, or undefined when `new URL` has to say. */
function plain(target: string): SplitTarget | undefined {
  const n = target.length;
  // Not `//...` either: a URL parser reads that as a host (`//evil/x` is the path `/x`).
  if (n === 0 || target.charCodeAt(0) !== SLASH || (n > 1 && target.charCodeAt(1) === SLASH)) return undefined;
  let query = -1;
  // Whether the path needs its empty segments dropped: `//`, or a trailing slash.
  let empty = false;
  for (let i = 0; i < n; i++) {
    const c = target.charCodeAt(i);
    if (c === QUESTION) {
      if (query === -1) query = i;
      continue;
    }
    if (c >= 128 || PLAIN[c] === 0) return undefined;
    if (query !== -1) continue;
    if (c === SLASH) {
      const next = i + 1 < n ? target.charCodeAt(i + 1) : -1;
      // A segment that starts with a dot may be `.` or `..`: let the URL parser resolve it.
      if (next === DOT) return undefined;
      if (next === SLASH || next === -1 || next === QUESTION) empty = true;
    }
  }
  const rawPath = query === -1 ? target : target.slice(0, query);
  // `new URL` drops a lone `?` (an empty query): `search` is '' then, as here.
  const search = query === -1 || query === n - 1 ? '' : target.slice(query);
  return { path: empty ? dropEmpty(rawPath) : rawPath, search };
}

function parsed(target: string): SplitTarget {
  const url = new URL(target, 'http://host');
  return { path: dropEmpty(url.pathname), search: url.search };
}

function dropEmpty(path: string): string {
  return `/${path.split('/').filter(Boolean).join('/')}`;
}
