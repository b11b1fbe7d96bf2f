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
  /**
   * The last view handed out: values of one size in a row (a function reading many records
   * of one shape) get the same view object again instead of a new one each.
   */
  #view = this.#buf.subarray(0, 0);

  copy(src: Uint8Array): Uint8Array {
    const n = src.byteLength;
    if (n > KEEP_BYTES) return src.slice();
    if (n > this.#buf.length) this.#buf = new Uint8Array(Math.min(KEEP_BYTES, Math.max(n, this.#buf.length * 2)));
    this.#buf.set(src);
    if (this.#view.length !== n || this.#view.buffer !== this.#buf.buffer) this.#view = this.#buf.subarray(0, n);
    return this.#view;
  }
}
