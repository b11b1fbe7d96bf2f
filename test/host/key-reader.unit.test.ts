import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyReader } from '../../host/executor/key-reader.ts';
import { guestKeyAt, MAX_USER_KEY_BYTES } from '../../host/keys.ts';

/** What a call of `f` gives: its string, or the code of what it threw. */
function verdict(f: () => string): string {
  try {
    return `ok:${f()}`;
  } catch (err) {
    return `err:${(err as { code?: string }).code}`;
  }
}

describe('KeyReader: the storage key a guest names, as prefix + guestKeyAt', () => {
  const printable = fc.uint8Array({ minLength: 1, maxLength: 24 }).map((b) => b.map((x) => 0x20 + (x % 0x5f)));
  const bytes = fc.oneof(printable, fc.uint8Array({ minLength: 1, maxLength: 24 }), fc.constantFrom(...['.', '..', '...', 'ab', '\u00e9t\u00e9'].map((s) => new Uint8Array(Buffer.from(s, 'utf8')))));
  const prefix = fc.constantFrom('default/k/', 'acme/k/', 't\u00e9/k/', '', 'x'.repeat(200));

  it('property: the same key or the same error, across reads under changing prefixes (one reader throughout)', () => {
    const reader = new KeyReader();
    fc.assert(fc.property(fc.array(fc.tuple(bytes, prefix, fc.nat(8)), { minLength: 1, maxLength: 8 }), (ops) => {
      for (const [b, p, before] of ops) {
        const mem = Buffer.alloc(before + b.length + 3, 0x5a);
        mem.set(b, before);
        const got = verdict(() => reader.read(mem, before, b.length, p));
        expect(got).toBe(verdict(() => p + guestKeyAt(mem, before, b.length)));
      }
    }), { numRuns: 3000 });
  });

  it('a key read under one prefix leaves nothing behind for the next, shorter one', () => {
    const reader = new KeyReader();
    const mem = Buffer.from('user:1234567890');
    expect(reader.read(mem, 0, mem.length, 'a-long-tenant-name/k/')).toBe('a-long-tenant-name/k/user:1234567890');
    expect(reader.read(mem, 0, 6, 'b/k/')).toBe('b/k/user:1');
    expect(reader.read(mem, 5, 3, 'b/k/')).toBe('b/k/123');
  });

  it('the longest key a guest may name is read whole; one byte more is INVALID_KEY', () => {
    const reader = new KeyReader();
    const mem = Buffer.alloc(MAX_USER_KEY_BYTES + 1, 0x71);
    expect(reader.read(mem, 0, MAX_USER_KEY_BYTES, 'default/k/')).toBe(`default/k/${'q'.repeat(MAX_USER_KEY_BYTES)}`);
    expect(() => reader.read(mem, 0, MAX_USER_KEY_BYTES + 1, 'default/k/')).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
  });
});
