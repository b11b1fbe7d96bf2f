import { Buffer } from 'node:buffer';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { guestKeyAt, guestKeyName, MAX_USER_KEY_BYTES } from '../../host/keys.ts';

/** What a call of `f` gives: its string, or the code of what it threw. */
function verdict(f: () => string): string {
  try {
    return `ok:${f()}`;
  } catch (err) {
    return `err:${(err as { code?: string }).code}`;
  }
}

describe('guestKeyAt: a key read out of the guest\'s whole memory is the key guestKeyName reads', () => {
  const printable = fc.uint8Array({ minLength: 0, maxLength: 24 }).map((b) => b.map((x) => 0x20 + (x % 0x5f)));
  const bytes = fc.oneof(
    printable,
    fc.uint8Array({ minLength: 0, maxLength: 24 }),
    fc.constantFrom(...['.', '..', '...', '. ', 'a/b', '..a', '\u007f', '\u00e9t\u00e9', '\ufffd', '~'].map((s) => new Uint8Array(Buffer.from(s, 'utf8')))),
  );

  it('property: the same string or the same error code, wherever the key lies in memory', () => {
    fc.assert(fc.property(bytes, fc.nat(16), fc.nat(16), (b, before, after) => {
      const mem = Buffer.alloc(before + b.length + after, 0x41);
      mem.set(b, before);
      const strict = verdict(() => guestKeyName(b));
      const atLen = b.length === 0 ? 'err:INVALID_KEY' : strict;
      expect(verdict(() => guestKeyAt(mem, before, b.length))).toBe(atLen);
    }), { numRuns: 5000 });
  });

  it('the length rule holds first: 0 and more than MAX_USER_KEY_BYTES are INVALID_KEY', () => {
    const mem = Buffer.alloc(2 * MAX_USER_KEY_BYTES, 0x61);
    expect(guestKeyAt(mem, 0, MAX_USER_KEY_BYTES)).toBe('a'.repeat(MAX_USER_KEY_BYTES));
    expect(() => guestKeyAt(mem, 0, MAX_USER_KEY_BYTES + 1)).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
    expect(() => guestKeyAt(mem, 0, 0)).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
  });

  it('dot segments and control characters are refused, as over HTTP', () => {
    const at = (s: string): string => verdict(() => guestKeyAt(Buffer.from(`xx${s}yy`, 'latin1'), 2, Buffer.byteLength(s, 'latin1')));
    expect(at('.')).toBe('err:INVALID_KEY');
    expect(at('..')).toBe('err:INVALID_KEY');
    expect(at('...')).toBe('ok:...');
    expect(at('a\u007fb')).toBe('err:INVALID_KEY');
    expect(at('a\u0001b')).toBe('err:INVALID_KEY');
    expect(at('user:42 name~')).toBe('ok:user:42 name~');
  });
});
