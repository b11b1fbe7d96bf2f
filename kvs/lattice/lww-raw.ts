/**
 * A register's encoding read and written in place, for the host's hot paths: a plain read
 * copies the primary value straight out of the cache's bytes (no Lattice object, no copy of
 * its own), and a plain write later than the stored register replaces it without decoding
 * it. Everything here agrees byte for byte with `encode`/`decode` and with the LWW merge
 * (lww.ts; test/kvs/lww-raw.unit.test.ts checks both).
 *
 * Layout (codec.ts, lww.ts, stamp.ts): version u8, tag u8, then the primary version: ms u48,
 * c u16, writer length u8, writer UTF-8, flags u8, for a value its length u32 and bytes, then
 * causal metadata and siblings when the flags say so.
 */
import { Buffer } from 'node:buffer';
import { CODEC_VERSION } from './codec.ts';
import { LWW_FLAGS, lwwKind, type Lww } from './lww.ts';
import { checkWriter, STAMP_LIMITS, type Hlc } from './stamp.ts';
import { badValue } from './bytes.ts';

/** Offsets of the primary version's stamp in an encoded register. */
const MS_AT = 2;
const C_AT = 8;
const WRITER_LEN_AT = 10;
const WRITER_AT = 11;
/** Codec header + stamp without its writer + flags + value length: an encoded plain write is this plus writer and value. */
const PLAIN_OVERHEAD = 2 + 9 + 1 + 4;
/** A scratch buffer up to this size is kept for the next encoding; a larger value gets one of its own. */
const SCRATCH_KEEP_BYTES = 64 * 1024;

/**
 * Whether `bytes` is an encoded register whose primary version is a plain (last-writer-wins)
 * write or tombstone with no causal metadata and no siblings: then its stamp alone decides
 * every merge with another plain write.
 */
export function isPlainRegister(bytes: Uint8Array): boolean {
  if (bytes.length < WRITER_AT + 1 || bytes[0] !== CODEC_VERSION || bytes[1] !== lwwKind.tag) return false;
  const flagAt = WRITER_AT + bytes[WRITER_LEN_AT]!;
  return flagAt < bytes.length && (bytes[flagAt]! & (LWW_FLAGS.causal | LWW_FLAGS.siblings)) === 0;
}

/** Whether `bytes` is an encoded register (any register: plain, causal, with siblings). */
export function isRegister(bytes: Uint8Array): boolean {
  return bytes.length > WRITER_AT && bytes[0] === CODEC_VERSION && bytes[1] === lwwKind.tag;
}

/**
 * Moves `hlc` past the primary stamp of an encoded register (`isRegister`), as
 * `hlc.observe(decode(bytes).stamp)` does for what a read returns (the primary has the
 * greatest stamp of the register's versions).
 */
export function observeRegister(hlc: Hlc, bytes: Uint8Array): void {
  hlc.observeTick(readU48(bytes, MS_AT), bytes[C_AT]! | (bytes[C_AT + 1]! << 8));
}

/** The primary stamp's ms of an encoded register (`isRegister`): what `observeRegister` observes, with `registerC`. */
export function registerMs(bytes: Uint8Array): number {
  return readU48(bytes, MS_AT);
}

/** The primary stamp's counter of an encoded register (`isRegister`). */
export function registerC(bytes: Uint8Array): number {
  return bytes[C_AT]! | (bytes[C_AT + 1]! << 8);
}

function readU48(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16)) + (b[at + 3]! | (b[at + 4]! << 8) | (b[at + 5]! << 16)) * 0x1000000;
}

/**
 * Encodes plain register writes (no causal metadata, no siblings) into one reused buffer,
 * and tells whether such a write beats a stored plain register without decoding it. One per
 * thread: what `encode` returns is valid until its next call.
 */
export class PlainRegisterCodec {
  #scratch = Buffer.allocUnsafe(4096);
  #writer = '';
  #writerBytes: Buffer = Buffer.alloc(0);

  /** Whether `l` is a write this codec takes (plain: no causal metadata, no siblings). */
  static takes(l: Lww): boolean {
    return l.causal === undefined && l.siblings === undefined;
  }

  #writerOf(writer: string): Buffer {
    if (writer !== this.#writer) {
      checkWriter(writer);
      this.#writerBytes = Buffer.from(writer, 'utf8');
      this.#writer = writer;
    }
    return this.#writerBytes;
  }

  /** The size `encode(l)` has. */
  size(l: Lww): number {
    return PLAIN_OVERHEAD + this.#writerOf(l.stamp.writer).length + (l.tombstone ? -4 : l.value.byteLength);
  }

  /**
   * `encode(l)` for a plain write (`takes(l)`), in the scratch buffer: valid until the next
   * call. Throws KV_BAD_VALUE for what `encode` refuses (a stamp out of range, a tombstone
   * with bytes).
   */
  encode(l: Lww): Uint8Array {
    const { ms, c } = l.stamp;
    if (!Number.isInteger(ms) || ms < 0 || ms > STAMP_LIMITS.maxMs) throw badValue(`stamp ms out of range: ${ms}`);
    if (!Number.isInteger(c) || c < 0 || c > STAMP_LIMITS.maxC) throw badValue(`stamp counter out of range: ${c}`);
    if (l.tombstone && l.value.byteLength !== 0) throw badValue('an lww tombstone carries no value bytes');
    const writer = this.#writerOf(l.stamp.writer);
    const n = this.size(l);
    let out = this.#scratch;
    if (n > out.length) {
      out = Buffer.allocUnsafe(n <= SCRATCH_KEEP_BYTES ? Math.max(n, out.length * 2) : n);
      if (out.length <= SCRATCH_KEEP_BYTES) this.#scratch = out;
    }
    out[0] = CODEC_VERSION;
    out[1] = lwwKind.tag;
    out.writeUIntLE(ms, MS_AT, 6);
    out.writeUInt16LE(c, C_AT);
    out[WRITER_LEN_AT] = writer.length;
    writer.copy(out, WRITER_AT);
    let at = WRITER_AT + writer.length;
    out[at++] = l.tombstone ? LWW_FLAGS.tombstone : 0;
    if (!l.tombstone) {
      out.writeUInt32LE(l.value.byteLength, at);
      out.set(l.value, at + 4);
    }
    return out.subarray(0, n);
  }

  /**
   * Whether the plain write `l` beats the stored plain register `old` (`isPlainRegister`)
   * by its stamp alone: a strictly greater stamp (ms, c, then writer bytes) wins the LWW
   * merge whatever the values. False when the stamps tie or `old`'s is greater: then the
   * caller merges the decoded values (the tie-breaks look at more than the stamp).
   */
  newer(l: Lww, old: Uint8Array): boolean {
    const { ms, c } = l.stamp;
    const oldMs = readU48(old, MS_AT);
    if (ms !== oldMs) return ms > oldMs;
    const oldC = old[C_AT]! | (old[C_AT + 1]! << 8);
    if (c !== oldC) return c > oldC;
    const mine = this.#writerOf(l.stamp.writer);
    const len = old[WRITER_LEN_AT]!;
    return Buffer.compare(mine, old.subarray(WRITER_AT, WRITER_AT + len)) > 0;
  }
}
