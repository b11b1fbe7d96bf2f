/**
 * JSON on the wire, for the KV node and the function host alike: the one parser of request
 * bodies, and the one serializer of responses.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { CloudburstError } from './errors.ts';

/**
 * The deepest nesting of arrays and objects a JSON body may have (`[]` is 1 level,
 * `{"a": [1]}` 2). No request needs more than a few levels; the limit keeps every recursive
 * walk of a parsed body (JSON.stringify in an error message, argument checks) far from the
 * stack limit, which a body nested 20,000 deep reached.
 */
export const JSON_MAX_DEPTH = 64;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Whether `bytes` (JSON text, or something claiming to be) nests arrays and objects deeper
 * than `max`. One pass, no recursion, no allocation: brackets inside strings do not count, and
 * string contents are skipped with the native `indexOf`. Malformed input gets some answer;
 * JSON.parse then rejects it anyway.
 */
function nestsDeeperThan(bytes: Buffer, max: number): boolean {
  let depth = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const c = bytes[i]!;
    if (c === QUOTE) {
      // To the closing quote: the next quote preceded by an even number of backslashes.
      for (;;) {
        const q = bytes.indexOf(QUOTE, i + 1);
        if (q === -1) return false;
        let k = q - 1;
        while (bytes[k] === BACKSLASH) k--;
        i = q;
        if ((q - 1 - k) % 2 === 0) break;
      }
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/**
 * Parses a JSON request body: strict UTF-8 (invalid bytes are refused, never replaced with
 * U+FFFD), at most JSON_MAX_DEPTH levels of nesting, then JSON.parse. An empty body is
 * malformed; callers that accept one check before.
 *
 * @example
 * parseJsonBody(Buffer.from('{"keys": ["a"]}')); // { keys: ['a'] }
 * @throws CloudburstError `MALFORMED_JSON` (not UTF-8, not JSON), `INVALID_REQUEST` (nested too deep)
 */
export function parseJsonBody(body: Uint8Array): unknown {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (!isUtf8(bytes)) throw new CloudburstError('MALFORMED_JSON', 'the body is not valid UTF-8');
  if (nestsDeeperThan(bytes, JSON_MAX_DEPTH)) {
    throw new CloudburstError('INVALID_REQUEST', `the body nests arrays and objects deeper than ${JSON_MAX_DEPTH} levels`, { maxDepth: JSON_MAX_DEPTH });
  }
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new CloudburstError('MALFORMED_JSON', `the body is not valid JSON: ${(err as Error).message}`);
  }
}

/**
 * Serializes JSON, writing bigints (i64 results, counters) as numbers when exact and as
 * strings otherwise.
 *
 * @example
 * stringify({ n: 2n ** 60n }); // '{"n":"1152921504606846976"}'
 */
export function stringify(body: unknown): string {
  return JSON.stringify(body, (_k, v: unknown) =>
    typeof v === 'bigint' ? (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString()) : v);
}
