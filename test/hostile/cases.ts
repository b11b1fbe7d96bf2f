/**
 * What the hostile-input suite sends, and the hostile pieces its generators are made of.
 */
import fc from 'fast-check';
import type { ErrorCode } from '../../common/index.ts';

/**
 * One request that must be refused. `path` is the request target as it goes on the wire
 * (percent-encode what must arrive exactly). `raw` cases are written byte for byte on a socket
 * (each character of `path` one byte), for targets no HTTP client would send.
 */
export interface Case {
  /** The route it aims at (a row name of HOST_ROUTES or KV_ROUTES), for the failure report. */
  readonly route: string;
  readonly method: string;
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
  readonly raw?: boolean;
  /** The codes the server may answer (a refusal the caller caused: 4xx). */
  readonly expect: readonly ErrorCode[];
  /**
   * Refused by the router, before any credential is looked at (an unknown route, a wrong
   * method): the credential does not change the answer.
   */
  readonly routing?: boolean;
  /** A KV batch whose every entry is refused: 200 with an error per entry (kvs/README.md). */
  readonly perEntry?: boolean;
}

export type CaseArb = fc.Arbitrary<Case>;

/**
 * encodeURIComponent, but a lone surrogate (which it refuses) goes as the three bytes UTF-8
 * would give it (`%ED%A0%80` for U+D800): invalid UTF-8 on the wire, as a hostile client sends.
 */
export function enc(s: string): string {
  let out = '';
  for (const c of s) {
    // for...of yields a pair as one string and a lone surrogate alone.
    const code = c.charCodeAt(0);
    if (c.length === 1 && code >= 0xd800 && code <= 0xdfff) {
      out += [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)].map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else {
      out += encodeURIComponent(c);
    }
  }
  return out;
}

/** Strings that URLs, percent-encoding, JSON and UTF-8 treat specially. */
export const PIECES = [
  'a', 'Z', '0', '-', '_', '.', '..', '/', '%', '%2F', '%00', '?', '#', ' ', '+', '&', '=', '\\', ':', '@', '~', "'", '"', '<', '*',
  '\u00e9', '\u65e5\u672c', '\u{1F600}', '\uFEFF', '\u00A0', '\u200B', '\u0000', '\u0001', '\u001f', '\n', '\r', '\t', '\u007f',
  '\u0085', '\uFFFD', '\uD800', '\uDFFF', '${x}', '../', '..\\', '%2e%2e', 'etc/passwd',
];

/** Any string, biased to the pieces above, very long ones and lone surrogates. */
export const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.array(fc.constantFrom(...PIECES), { minLength: 0, maxLength: 8 }).map((a) => a.join('')) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 16 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(65), 'x'.repeat(513), '\u00e9'.repeat(257), '\u{1F600}'.repeat(200), 'a'.repeat(70_000)) },
);

/** A module or DAG name that is not a name (checkModuleName): INVALID_NAME. Never `.`/`..`/empty, which change the route. */
export const badName = hostileString.filter((s) => s !== '' && s !== '.' && s !== '..' && !/^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/.test(s));

/** A good name that nothing has. */
export const missingName = fc.stringMatching(/^[a-z][a-z0-9_-]{0,20}$/).map((s) => `zz-${s}`);

/** Numbers JSON and our types get wrong: out of every integer range, not finite, -0, non-integers. */
export const hostileNumberText = fc.constantFrom(
  '1e309', '-1e309', '9223372036854775808', '-9223372036854775809', '18446744073709551616', '1.5', '-0', '0.0000001', '1e-400',
  '4294967296', '-2147483649', '340282366920938463463374607431768211456', '0x10', 'NaN', 'Infinity', '-Infinity', '1e3',
);

/** JSON values of the wrong shape for whatever a route expects, as text. */
export const wrongJson: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('null', 'true', '0', '""', '[]', '{}', '[[]]', '{"": {}}', '"\\u0000"', '[null]', '{"__proto__": {"x": 1}}', '{"constructor": {"prototype": {}}}'),
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
);

/** Bodies that are not JSON at all: truncated, trailing garbage, comments, bare words, invalid UTF-8 inside a string. */
export const malformedJson: fc.Arbitrary<Uint8Array | string> = fc.oneof(
  fc.constantFrom('{', '[', '{"args": [', '{"a":1,}', '[1,]', "{'a': 1}", 'undefined', 'NaN', '{"a":1}{"b":2}', '{"a":1} x', '/* c */ {}', '01', '{"a":"\\x41"}', '\u00ff', ' '),
  fc.uint8Array({ minLength: 1, maxLength: 3 }).map((bad) => Buffer.concat([Buffer.from('{"args": ["'), Buffer.from(bad.map((b) => 0x80 | (b & 0x3f))), Buffer.from('"]}')])),
  fc.constantFrom(Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xc0, 0xaf]), Buffer.from('["\xff"]', 'latin1'), Buffer.from([0xfe, 0xff, 0x00, 0x7b])),
);

/** Nesting past the JSON parser's depth limit, up to very deep. */
export const deepJson = fc.integer({ min: 65, max: 20_000 }).chain((depth) =>
  fc.constantFrom('[', '{"a":').map((open) => (open === '[' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth))),
);

/**
 * A body a JSON route must refuse whatever its shape: MALFORMED_JSON or INVALID_REQUEST
 * (deep), with the codes `shape` adds for well-formed JSON of the wrong shape.
 */
export function jsonBodies(shape: fc.Arbitrary<string>, shapeCodes: readonly ErrorCode[]): fc.Arbitrary<{ body: Uint8Array | string; expect: readonly ErrorCode[] }> {
  return fc.oneof(
    malformedJson.map((body) => ({ body, expect: ['MALFORMED_JSON'] as const })),
    deepJson.map((body) => ({ body, expect: ['INVALID_REQUEST'] as const })),
    shape.map((body) => ({ body, expect: shapeCodes })),
  );
}

/** Segments that climb out of a route's prefix, raw (resolved by URL parsing) or encoded (one segment). */
export function traversal(prefix: string): fc.Arbitrary<{ path: string; raw: boolean; escapes: boolean }> {
  const depth = prefix.split('/').filter(Boolean).length;
  return fc.oneof(
    // Raw: climbs to the root and lands on a path no route has.
    fc.record({ extra: fc.nat(3), tail: fc.constantFrom('etc/passwd', 'x', 'v2/kv/a', 'proc/self/environ', '') })
      .map(({ extra, tail }) => ({ path: `${prefix}/${'../'.repeat(depth + extra)}${tail}`, raw: true, escapes: true })),
    // Encoded: stays one segment (the route's parameter).
    fc.constantFrom('..%2F..%2Fetc%2Fpasswd', '%2E%2E%2F%2E%2E%2Fsys', '..%5C..%5Cwin', 'a%2F..%2F..%2Fb', '%2e%2e%2fdefault%2fmod%2fcounter')
      .map((seg) => ({ path: `${prefix}/${seg}`, raw: false, escapes: false })),
  );
}

/** A path for a name parameter. */
export const named = (prefix: string, name: string, suffix = ''): string => `${prefix}/${enc(name)}${suffix}`;
