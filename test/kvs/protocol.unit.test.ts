import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import { checkKey, decodeFrame, encodeFrame, FRAME_MISSING, KV_LIMITS, KV_ROUTES, keyPath } from '../../kvs/index.ts';
import { PROPERTY } from './arbitraries.ts';

describe('protocol', () => {
  it('frames: decodeFrame(encodeFrame(x)) returns the entries', () => {
    const entryArb = fc.record({
      key: fc.string({ unit: 'grapheme', maxLength: 20 }),
      value: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(fc.array(entryArb, { maxLength: 10 }), (entries) => {
        const decoded = decodeFrame(encodeFrame(entries));
        expect(decoded.map((e) => e.key)).toEqual(entries.map((e) => e.key));
        decoded.forEach((e, i) => {
          const want = entries[i]!.value;
          if (want === undefined) expect(e.value).toBeUndefined();
          else expect(Buffer.compare(e.value!, want)).toBe(0);
        });
      }),
      PROPERTY,
    );
  });

  it('frames: the layout is u16 key length, key, u32 value length, value', () => {
    const bytes = encodeFrame([{ key: 'ab', value: Uint8Array.of(7) }, { key: 'c', value: undefined }]);
    expect(Buffer.from(bytes).toString('hex')).toBe('0200' + '6162' + '01000000' + '07' + '0100' + '63' + 'ffffffff');
    expect(FRAME_MISSING).toBe(0xffffffff);
  });

  it('frames: truncated or random frames fail with INVALID_REQUEST only', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          decodeFrame(bytes);
        } catch (err) {
          expect(err).toBeInstanceOf(CloudburstError);
          expect((err as CloudburstError).code).toBe('INVALID_REQUEST');
        }
      }),
      PROPERTY,
    );
    expect(() => decodeFrame(Uint8Array.of(5, 0, 1))).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });

  it('frames: more entries than the limit are refused', () => {
    const frame = encodeFrame(Array.from({ length: 3 }, () => ({ key: 'k', value: undefined })));
    expect(() => decodeFrame(frame, 2)).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });

  it('checkKey: 1..1024 bytes of well-formed UTF-8', () => {
    expect(checkKey('a')).toBe('a');
    expect(checkKey('x'.repeat(KV_LIMITS.maxKeyBytes))).toHaveLength(1024);
    expect(checkKey('\u{1F600}'.repeat(256))).toBeDefined(); // 1024 bytes
    for (const bad of ['', 'x'.repeat(1025), '\u{1F600}'.repeat(257), '\udfff', 'a\ud800b', 42, null]) {
      expect(() => checkKey(bad)).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
    }
  });

  it('keyPath: URL-encodes the key under the keys route', () => {
    expect(keyPath('default/k/a b')).toBe('/kv/v1/keys/default%2Fk%2Fa%20b');
  });

  it('routes: every route name and method/path pair is unique', () => {
    expect(new Set(KV_ROUTES.map((r) => r.name)).size).toBe(KV_ROUTES.length);
    expect(new Set(KV_ROUTES.map((r) => `${r.method} ${r.path}`)).size).toBe(KV_ROUTES.length);
  });
});
