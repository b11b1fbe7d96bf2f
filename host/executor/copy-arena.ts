/** Size of one chunk that small copies are carved out of. */
const CHUNK_BYTES = 64 * 1024;
/** Copies larger than this get an array of their own (a chunk holds at least 16 of the others). */
const MAX_SHARED_BYTES = 4 * 1024;

/**
 * Copies of bytes out of a guest's memory (the values its puts pass), carved out of shared
 * chunks: one allocation per CHUNK_BYTES instead of one per value (a 1 KiB Uint8Array of its
 * own costs an ArrayBuffer backing store, and the garbage collector its accounting). A chunk
 * is never written again once a copy is handed out of it, so a copy stays valid as long as
 * anything holds it (the call's overlay, a session's record of its writes); the chunk is
 * freed when the last of its copies is.
 */
export class CopyArena {
  #chunk = new Uint8Array(0);
  #at = 0;

  copy(src: Uint8Array): Uint8Array {
    const n = src.byteLength;
    if (n > MAX_SHARED_BYTES) return src.slice();
    if (this.#at + n > this.#chunk.length) {
      this.#chunk = new Uint8Array(CHUNK_BYTES);
      this.#at = 0;
    }
    const out = this.#chunk.subarray(this.#at, this.#at + n);
    out.set(src);
    this.#at += n;
    return out;
  }
}
