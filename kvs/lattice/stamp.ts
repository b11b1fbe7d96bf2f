/**
 * Hybrid logical clock stamps: what orders LWW writes and counter/set/max reset epochs.
 *
 * Layout in the codec (9 + writer bytes): `ms` u48 LE, `c` u16 LE, writer length u8, writer
 * UTF-8. Stamps are totally ordered by (ms, c, writer bytes), so two distinct writers never
 * tie and every replica picks the same winner.
 */
import { Buffer } from 'node:buffer';
import { CloudburstError } from '../../common/index.ts';
import { badValue, compareUtf8, isWellFormed, type ByteReader, type ByteWriter } from './bytes.ts';

/**
 * A hybrid logical clock timestamp: physical milliseconds (< 2^48), a logical counter
 * (< 2^16) and the id of the writer (UTF-8, < 256 bytes), which breaks ties.
 *
 * @example
 * const s: Stamp = { ms: Date.now(), c: 0, writer: 'host-1' };
 */
export interface Stamp {
  readonly ms: number;
  readonly c: number;
  readonly writer: string;
}

/** The bottom stamp: every real stamp is greater. Epoch-carrying lattices start here. */
export const ZERO_STAMP: Stamp = Object.freeze({ ms: 0, c: 0, writer: '' });

/**
 * What the codec can carry: ms in 48 bits, c in 16, a writer id of at most 255 UTF-8 bytes.
 *
 * @example
 * if (Buffer.byteLength(id) > STAMP_LIMITS.maxWriterBytes) throw new Error('writer id too long');
 */
export const STAMP_LIMITS = { maxMs: 2 ** 48 - 1, maxC: 0xffff, maxWriterBytes: 255 } as const;

/**
 * Orders stamps by ms, then c, then writer in UTF-8 byte order: the single tie-break rule.
 *
 * @example
 * compareStamps({ ms: 1, c: 0, writer: 'a' }, { ms: 1, c: 0, writer: 'b' }) < 0 // true
 */
export function compareStamps(a: Stamp, b: Stamp): number {
  if (a.ms !== b.ms) return a.ms < b.ms ? -1 : 1;
  if (a.c !== b.c) return a.c < b.c ? -1 : 1;
  const w = compareUtf8(a.writer, b.writer);
  return w < 0 ? -1 : w > 0 ? 1 : 0;
}

/** Throws KV_BAD_VALUE unless the writer id fits the codec (well-formed UTF-8, < 256 bytes). */
export function checkWriter(writer: string): number {
  if (typeof writer !== 'string' || !isWellFormed(writer)) throw badValue('writer id must be a well-formed string');
  const n = Buffer.byteLength(writer, 'utf8');
  if (n > STAMP_LIMITS.maxWriterBytes) throw badValue(`writer id is ${n} bytes; the limit is ${STAMP_LIMITS.maxWriterBytes}`);
  return n;
}

/** Validates a stamp and returns its encoded size. */
export function stampSize(s: Stamp): number {
  if (!Number.isInteger(s.ms) || s.ms < 0 || s.ms > STAMP_LIMITS.maxMs) throw badValue(`stamp ms out of range: ${s.ms}`);
  if (!Number.isInteger(s.c) || s.c < 0 || s.c > STAMP_LIMITS.maxC) throw badValue(`stamp counter out of range: ${s.c}`);
  return 9 + checkWriter(s.writer);
}

export function writeStamp(w: ByteWriter, s: Stamp): void {
  w.u48(s.ms);
  w.u16(s.c);
  const n = Buffer.byteLength(s.writer, 'utf8');
  w.u8(n);
  w.utf8(s.writer, n);
}

export function readStamp(r: ByteReader, what: string): Stamp {
  const ms = r.u48(`${what}.ms`);
  const c = r.u16(`${what}.c`);
  const writer = r.utf8(r.u8(`${what}.writer length`), `${what}.writer`);
  return { ms, c, writer };
}

/**
 * A hybrid logical clock (Kulkarni et al.): stamps follow physical time when it moves forward
 * and a logical counter when it does not, so they stay monotonic even if the wall clock steps
 * back, and `observe` keeps them causally after every stamp this writer has seen.
 *
 * @example
 * const hlc = new Hlc('host-1');
 * const a = hlc.now();
 * hlc.observe(remoteStamp);
 * const b = hlc.now(); // compareStamps(b, a) > 0 and compareStamps(b, remoteStamp) > 0
 */
export class Hlc {
  readonly #writer: string;
  readonly #clock: () => number;
  #ms = 0;
  #c = 0;

  constructor(writer: string, clock: () => number = Date.now) {
    checkWriter(writer);
    this.#writer = writer;
    this.#clock = clock;
  }

  get writer(): string {
    return this.#writer;
  }

  /** A stamp greater than every stamp this clock issued or observed before. */
  now(): Stamp {
    const pt = this.#physical();
    if (pt > this.#ms) {
      this.#ms = pt;
      this.#c = 0;
    } else {
      this.#advance(this.#ms, this.#c + 1);
    }
    return { ms: this.#ms, c: this.#c, writer: this.#writer };
  }

  /** Moves this clock past a stamp received from elsewhere (the HLC receive rule). */
  observe(remote: Stamp): void {
    const pt = this.#physical();
    const ms = Math.max(this.#ms, remote.ms, pt);
    let c: number;
    if (ms === this.#ms && ms === remote.ms) c = Math.max(this.#c, remote.c) + 1;
    else if (ms === this.#ms) c = this.#c + 1;
    else if (ms === remote.ms) c = remote.c + 1;
    else c = 0;
    this.#advance(ms, c);
  }

  /**
   * `observe` of a stamp at (`ms`, `c`), for a reader that has only those: the writer id
   * never moves a clock. Free when this clock is already at or past them (its next stamp is
   * after them anyway), which is what a host reading its own recent writes mostly finds.
   */
  observeTick(ms: number, c: number): void {
    if (ms < this.#ms || (ms === this.#ms && c <= this.#c)) return;
    this.observe({ ms, c, writer: '' });
  }

  #physical(): number {
    const pt = Math.floor(this.#clock());
    return pt > 0 ? Math.min(pt, STAMP_LIMITS.maxMs) : 0;
  }

  // The counter has 16 bits; when it overflows, logical time borrows one millisecond, which
  // physical time catches up with as soon as the wall clock passes it.
  #advance(ms: number, c: number): void {
    if (c > STAMP_LIMITS.maxC) {
      ms += 1;
      c = 0;
    }
    if (ms > STAMP_LIMITS.maxMs) throw new CloudburstError('INTERNAL', 'hybrid logical clock overflowed 2^48 ms');
    this.#ms = ms;
    this.#c = c;
  }
}
