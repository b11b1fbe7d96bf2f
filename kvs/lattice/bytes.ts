/**
 * Bounds-checked little-endian byte reading and writing for the lattice codec and the batch
 * frames. Every read checks the remaining length first, so a forged length can never make us
 * allocate or copy more than the input actually holds.
 */
import { Buffer, isUtf8 } from 'node:buffer';
import { CloudburstError } from '../../common/index.ts';

/** Thrown for anything structurally wrong in encoded bytes. */
export function badValue(message: string): CloudburstError {
  return new CloudburstError('KV_BAD_VALUE', message);
}

/** Wraps a Uint8Array as a Buffer without copying (Buffer's fast native helpers). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Byte-wise order (shorter prefix first), the order set members and frames are sorted by. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.byteLength === b.byteLength && Buffer.compare(a, b) === 0;
}

/**
 * Compares two strings in the order of their UTF-8 bytes (which is code point order) without
 * encoding them. Plain `<` compares UTF-16 code units, which disagrees with UTF-8 when one side
 * has a surrogate pair and the other a BMP character at U+E000 or above.
 */
export function compareUtf8(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      // Shift surrogates above U+E000..U+FFFF so the comparison follows code points.
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x - y;
  }
  return a.length - b.length;
}

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** True when the string can be encoded to UTF-8 and back unchanged (no lone surrogates). */
export function isWellFormed(s: string): boolean {
  return !LONE_SURROGATE.test(s);
}

/** Sequential reader; all failures are KV_BAD_VALUE unless the caller supplies a factory. */
export class ByteReader {
  readonly #buf: Buffer;
  #pos = 0;
  readonly #fail: (message: string) => CloudburstError;

  constructor(bytes: Uint8Array, fail: (message: string) => CloudburstError = badValue) {
    this.#buf = asBuffer(bytes);
    this.#fail = fail;
  }

  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  get position(): number {
    return this.#pos;
  }

  fail(message: string): CloudburstError {
    return this.#fail(`${message} (at byte ${this.#pos})`);
  }

  #take(n: number, what: string): number {
    if (n > this.#buf.length - this.#pos) throw this.fail(`truncated ${what}: need ${n} bytes, have ${this.remaining}`);
    const at = this.#pos;
    this.#pos += n;
    return at;
  }

  u8(what = 'u8'): number {
    return this.#buf[this.#take(1, what)]!;
  }

  u16(what = 'u16'): number {
    return this.#buf.readUInt16LE(this.#take(2, what));
  }

  u32(what = 'u32'): number {
    return this.#buf.readUInt32LE(this.#take(4, what));
  }

  u48(what = 'u48'): number {
    return this.#buf.readUIntLE(this.#take(6, what), 6);
  }

  u64(what = 'u64'): bigint {
    return this.#buf.readBigUInt64LE(this.#take(8, what));
  }

  i64(what = 'i64'): bigint {
    return this.#buf.readBigInt64LE(this.#take(8, what));
  }

  /**
   * A COPY of the next n bytes: decoded lattices must never alias the caller's buffer.
   * Buffer.from copies small values into Node's shared pool, about twice as fast as a fresh
   * ArrayBuffer per value.
   */
  bytes(n: number, what = 'bytes'): Uint8Array {
    const at = this.#take(n, what);
    return Buffer.from(this.#buf.subarray(at, at + n));
  }

  /** A view (no copy) of the next n bytes, for callers that copy or discard it themselves. */
  view(n: number, what = 'bytes'): Buffer {
    const at = this.#take(n, what);
    return this.#buf.subarray(at, at + n);
  }

  /** Strict UTF-8: invalid sequences would not re-encode to the same bytes (not canonical). */
  utf8(n: number, what = 'string'): string {
    const at = this.#take(n, what);
    const view = this.#buf.subarray(at, at + n);
    if (!isUtf8(view)) throw this.fail(`${what} is not valid UTF-8`);
    return view.toString('utf8');
  }

  /** Rejects trailing garbage, which would give one value two encodings. */
  end(): void {
    if (this.#pos !== this.#buf.length) throw this.fail(`${this.remaining} trailing bytes`);
  }
}

/** Writes into an exactly pre-sized buffer; `finish` asserts the size computation was right. */
export class ByteWriter {
  readonly #buf: Buffer;
  #pos = 0;

  constructor(size: number) {
    // allocUnsafe is safe here: finish() proves every byte was written.
    this.#buf = Buffer.allocUnsafe(size);
  }

  u8(v: number): void {
    this.#buf[this.#pos++] = v;
  }

  u16(v: number): void {
    this.#pos = this.#buf.writeUInt16LE(v, this.#pos);
  }

  u32(v: number): void {
    this.#pos = this.#buf.writeUInt32LE(v, this.#pos);
  }

  u48(v: number): void {
    this.#pos = this.#buf.writeUIntLE(v, this.#pos, 6);
  }

  u64(v: bigint): void {
    this.#pos = this.#buf.writeBigUInt64LE(v, this.#pos);
  }

  i64(v: bigint): void {
    this.#pos = this.#buf.writeBigInt64LE(v, this.#pos);
  }

  bytes(b: Uint8Array): void {
    this.#buf.set(b, this.#pos);
    this.#pos += b.byteLength;
  }

  /** The caller has already measured the string with Buffer.byteLength. */
  utf8(s: string, byteLength: number): void {
    this.#pos += this.#buf.write(s, this.#pos, byteLength, 'utf8');
  }

  finish(): Buffer {
    if (this.#pos !== this.#buf.length) {
      throw new CloudburstError('INTERNAL', `encoder size mismatch: wrote ${this.#pos} of ${this.#buf.length} bytes`);
    }
    return this.#buf;
  }
}
