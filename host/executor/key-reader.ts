import { Buffer } from 'node:buffer';
import { guestKeyAt, MAX_USER_KEY_BYTES, printableKeyAt } from '../keys.ts';

/** A dot segment (`.`, `..`) is the one printable ASCII key that is refused; it is at most this long. */
const DOT_SEGMENT_MAX = 2;
/** The longest storage prefix kept in the scratch buffer (`{tenant}/k/`; tenant names are at most 64 bytes). */
const MAX_PREFIX_BYTES = 128;

/**
 * Reads the storage keys a guest names (its call's tenant prefix, then the key's bytes) out of
 * a view of the guest's whole memory. A printable ASCII key under an ASCII prefix, the common
 * case, becomes ONE flat string, read out of a scratch buffer that holds the prefix followed
 * by the key's bytes: no separate name string, no concatenation that LMDB's key encoder and
 * the call's maps would flatten again. Everything else is `prefix + guestKeyAt(...)`, with
 * the same result and errors (keys.ts; test/host/key-reader.unit.test.ts).
 */
export class KeyReader {
  readonly #scratch = Buffer.allocUnsafe(MAX_PREFIX_BYTES + MAX_USER_KEY_BYTES);
  /** The prefix the scratch buffer starts with, and its length; '' when none is there. */
  #prefix = '';
  #prefixLen = 0;

  /** The storage key `prefix + name` of the `len` bytes at `at` in `mem` (a range inside it, `len` > 0). */
  read(mem: Buffer, at: number, len: number, prefix: string): string {
    if (len <= DOT_SEGMENT_MAX || len > MAX_USER_KEY_BYTES || !printableKeyAt(mem, at, len) || !this.#holds(prefix)) {
      return prefix + guestKeyAt(mem, at, len);
    }
    const s = this.#scratch;
    const p = this.#prefixLen;
    for (let i = 0; i < len; i++) s[p + i] = mem[at + i]!;
    return s.toString('latin1', 0, p + len);
  }

  /** Whether the scratch buffer starts with `prefix` (writing it there if it is short printable ASCII). */
  #holds(prefix: string): boolean {
    if (prefix === this.#prefix) return this.#prefixLen > 0;
    this.#prefix = prefix;
    this.#prefixLen = 0;
    if (prefix.length === 0 || prefix.length > MAX_PREFIX_BYTES) return false;
    for (let i = 0; i < prefix.length; i++) {
      const c = prefix.charCodeAt(i);
      if (c < 0x20 || c > 0x7e) return false;
      this.#scratch[i] = c;
    }
    this.#prefixLen = prefix.length;
    return true;
  }
}
