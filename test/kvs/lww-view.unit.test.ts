import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { counter, encode, lww, lwwValueView } from '../../kvs/index.ts';

describe('lwwValueView: the value of an encoded LWW register without decoding it', () => {
  it('is exactly the value bytes, for any value and writer', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), fc.string({ maxLength: 40 }), fc.nat(2 ** 40), (value, writer, ms) => {
      const view = lwwValueView(encode(lww.write(value, { ms, c: 3, writer })));
      expect(view && Buffer.from(view).equals(Buffer.from(value))).toBe(true);
    }), { numRuns: 300 });
  });

  it('is null for a tombstone, and refuses other types and truncated bytes', () => {
    expect(lwwValueView(encode(lww.tombstone({ ms: 5, c: 0, writer: 'w' })))).toBeNull();
    expect(() => lwwValueView(encode(counter.add(undefined, 'w', 1n)))).toThrow(expect.objectContaining({ code: 'KV_BAD_VALUE' }));
    const full = encode(lww.write(Buffer.from('hello'), { ms: 5, c: 0, writer: 'w' }));
    for (let cut = 0; cut < full.length; cut++) {
      expect(() => lwwValueView(full.subarray(0, cut))).toThrow(expect.objectContaining({ code: 'KV_BAD_VALUE' }));
    }
  });
});
