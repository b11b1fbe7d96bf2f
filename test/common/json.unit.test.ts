import { describe, expect, it } from 'vitest';
import { JSON_MAX_DEPTH, parseJsonBody, stringify } from '../../common/index.ts';

const nested = (depth: number, inner = ''): string => '['.repeat(depth) + inner + ']'.repeat(depth);
const codeOf = (body: string | Buffer): string | undefined => {
  try {
    parseJsonBody(typeof body === 'string' ? Buffer.from(body) : body);
    return undefined;
  } catch (err) {
    return (err as { code?: string }).code;
  }
};

describe('parseJsonBody', () => {
  it('parseJsonBody: parses JSON bodies', () => {
    expect(parseJsonBody(Buffer.from('{"keys": ["a", "b"], "n": 1.5}'))).toEqual({ keys: ['a', 'b'], n: 1.5 });
    expect(parseJsonBody(Buffer.from('"\u00fc\u{1F600}"'))).toBe('\u00fc\u{1F600}');
    expect(parseJsonBody(new Uint8Array(Buffer.from('[1]')))).toEqual([1]);
  });

  it(`parseJsonBody: nesting up to ${JSON_MAX_DEPTH} levels is accepted, deeper is INVALID_REQUEST naming the limit`, () => {
    expect(parseJsonBody(Buffer.from(nested(JSON_MAX_DEPTH, '1')))).toBeDefined();
    expect(codeOf(nested(JSON_MAX_DEPTH + 1))).toBe('INVALID_REQUEST');
    expect(codeOf(`{"a": ${nested(JSON_MAX_DEPTH)}}`)).toBe('INVALID_REQUEST');
    expect(codeOf('{"a":'.repeat(JSON_MAX_DEPTH + 1) + '1' + '}'.repeat(JSON_MAX_DEPTH + 1))).toBe('INVALID_REQUEST');
    for (const depth of [20_000, 1_000_000]) {
      const err = (() => {
        try {
          parseJsonBody(Buffer.from(nested(depth)));
        } catch (e) {
          return e as { code: string; message: string };
        }
      })();
      expect(err?.code).toBe('INVALID_REQUEST');
      expect(err?.message).toContain(String(JSON_MAX_DEPTH));
    }
    // Siblings do not add up: depth is nesting, not the number of brackets.
    expect(parseJsonBody(Buffer.from(`[${Array.from({ length: 1000 }, () => nested(JSON_MAX_DEPTH - 1)).join(',')}]`))).toHaveLength(1000);
  });

  it('parseJsonBody: brackets and escaped quotes inside strings do not count as nesting', () => {
    const brackets = '['.repeat(1000) + '{'.repeat(1000);
    expect(parseJsonBody(Buffer.from(JSON.stringify({ s: brackets })))).toEqual({ s: brackets });
    const tricky = ['\\"[[[', '\\\\', '\\\\"', 'a\\\\\\"[[['.repeat(100) + '[', '"'.repeat(70) + '['.repeat(70)];
    expect(parseJsonBody(Buffer.from(JSON.stringify(tricky)))).toEqual(tricky);
    // A string that ends with an escaped backslash closes; the brackets after it count.
    expect(codeOf(`["\\\\", ${nested(JSON_MAX_DEPTH)}]`)).toBe('INVALID_REQUEST');
  });

  it('parseJsonBody: invalid UTF-8 is MALFORMED_JSON, never replaced with U+FFFD', () => {
    for (const bytes of [[0x22, 0xff, 0xfe, 0x22], [0x5b, 0x22, 0xc3, 0x22, 0x5d], [0x22, 0xed, 0xa0, 0x80, 0x22], [0x22, 0xc0, 0xaf, 0x22]]) {
      const body = Buffer.from(bytes);
      expect(() => parseJsonBody(body)).toThrow(expect.objectContaining({ code: 'MALFORMED_JSON', message: 'the body is not valid UTF-8' }));
    }
  });

  it('parseJsonBody: malformed and empty bodies are MALFORMED_JSON', () => {
    for (const body of ['', '{"a": [', 'nope', '[1,]', '"unterminated', ']]]]', nested(10).slice(0, 15)]) expect(codeOf(body)).toBe('MALFORMED_JSON');
  });
});

describe('stringify', () => {
  it('stringify: bigints are numbers when exact, strings beyond 2^53', () => {
    expect(stringify({ small: 42n, big: 2n ** 60n, neg: -(2n ** 53n), list: [1n] })).toBe('{"small":42,"big":"1152921504606846976","neg":"-9007199254740992","list":[1]}');
  });
});
