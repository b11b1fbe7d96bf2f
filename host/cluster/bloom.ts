/**
 * A Bloom filter over strings: the compact key-set summary a host publishes so that
 * schedulers elsewhere can tell which keys it probably caches. False positives only cost a
 * less local placement; there are no false negatives.
 *
 * @example
 * const b = Bloom.forCount(keys.length); for (const k of keys) b.add(k);
 * Bloom.fromBase64(b.toBase64()).has('default/k/big-array'); // true
 */
export class Bloom {
  readonly bits: Uint8Array;
  readonly hashes: number;

  constructor(bits: Uint8Array, hashes: number) {
    this.bits = bits;
    this.hashes = hashes;
  }

  /** About 1% false positives at `count` keys (10 bits and 7 hashes per key). */
  static forCount(count: number): Bloom {
    const bytes = Math.max(128, Math.ceil((Math.max(count, 1) * 10) / 8));
    return new Bloom(new Uint8Array(bytes), 7);
  }

  static fromBase64(text: string, hashes = 7): Bloom {
    return new Bloom(new Uint8Array(Buffer.from(text, 'base64')), hashes);
  }

  toBase64(): string {
    return Buffer.from(this.bits.buffer, this.bits.byteOffset, this.bits.byteLength).toString('base64');
  }

  // Two FNV-1a variants combined by double hashing (Kirsch-Mitzenmacher).
  #positions(key: string, visit: (bit: number) => boolean): boolean {
    let h1 = 0x811c9dc5;
    let h2 = 0x01000193;
    for (let i = 0; i < key.length; i++) {
      const c = key.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 15);
    }
    const m = this.bits.length * 8;
    const a = h1 >>> 0;
    const b = (h2 | 1) >>> 0; // odd, and unsigned: `|` alone would give a negative int32
    for (let i = 0; i < this.hashes; i++) {
      const bit = (a + i * b) % m;
      if (!visit(bit)) return false;
    }
    return true;
  }

  add(key: string): void {
    this.#positions(key, (bit) => {
      this.bits[bit >>> 3]! |= 1 << (bit & 7);
      return true;
    });
  }

  has(key: string): boolean {
    return this.#positions(key, (bit) => (this.bits[bit >>> 3]! & (1 << (bit & 7))) !== 0);
  }
}
