/** Bytes kept up to this size are copied into the reused buffer; larger ones get a copy of their own (not kept). */
const KEEP_BYTES = 64 * 1024;

/**
 * One buffer that copies are made into again and again: a read's value handed to the guest
 * (staged for its `take`) costs a memcpy, not an allocation. What `copy` returns is valid
 * until its next call. Values over KEEP_BYTES are copied into a fresh array, so the thread
 * keeps at most KEEP_BYTES for this.
 */
export class ReusedBytes {
  #buf = new Uint8Array(4096);

  copy(src: Uint8Array): Uint8Array {
    const n = src.byteLength;
    if (n > KEEP_BYTES) return src.slice();
    if (n > this.#buf.length) this.#buf = new Uint8Array(Math.min(KEEP_BYTES, Math.max(n, this.#buf.length * 2)));
    this.#buf.set(src);
    return this.#buf.subarray(0, n);
  }
}
