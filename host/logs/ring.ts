import type { LogLine } from './log-line.ts';

/**
 * One function's recent log lines on one host: a circular buffer, oldest first, in increasing
 * `seq` (lines are pushed in the order the host numbers them), so that "the lines after seq s"
 * is a binary search. Bounded by the caller (LogStore): it says when to drop the oldest.
 *
 * @example
 * const ring = new LineRing(1000);
 * ring.push(line, 180);
 * ring.after(41, 100); // the lines with seq > 41, at most 100, oldest first
 */
/** Slots a new ring starts with. */
const INITIAL_SLOTS = 8;

export class LineRing {
  /** Slots, grown by doubling up to `capacity` (a function that logs little costs little). */
  #slots: (LogLine | undefined)[] = new Array<LogLine | undefined>(INITIAL_SLOTS);
  #sizes: number[] = new Array<number>(INITIAL_SLOTS).fill(0);
  #head = 0;
  #size = 0;
  /** What the lines held cost (LogStore's accounting: message length plus a fixed overhead). */
  bytes = 0;
  /** Lines dropped from this ring by the bounds since it was made. */
  dropped = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`a ring holds at least one line, not ${capacity}`);
  }

  get size(): number {
    return this.#size;
  }

  /** Adds a line (its seq above every line held); when full, drops the oldest first. */
  push(line: LogLine, bytes: number): void {
    if (this.#size === this.capacity) this.dropOldest();
    else if (this.#size === this.#slots.length) this.#grow();
    const at = (this.#head + this.#size) % this.#slots.length;
    this.#slots[at] = line;
    this.#sizes[at] = bytes;
    this.#size++;
    this.bytes += bytes;
  }

  /** Twice the slots (at most `capacity`), the lines moved to the start in order. */
  #grow(): void {
    const n = Math.min(this.capacity, this.#slots.length * 2);
    const slots = new Array<LogLine | undefined>(n);
    const sizes = new Array<number>(n).fill(0);
    for (let i = 0; i < this.#size; i++) {
      const from = (this.#head + i) % this.#slots.length;
      slots[i] = this.#slots[from];
      sizes[i] = this.#sizes[from]!;
    }
    this.#slots = slots;
    this.#sizes = sizes;
    this.#head = 0;
  }

  /** Drops the oldest line; answers what it cost (0 when empty). */
  dropOldest(): number {
    if (this.#size === 0) return 0;
    const bytes = this.#sizes[this.#head]!;
    this.#slots[this.#head] = undefined;
    this.#head = (this.#head + 1) % this.#slots.length;
    this.#size--;
    this.bytes -= bytes;
    this.dropped++;
    return bytes;
  }

  #at(i: number): LogLine {
    return this.#slots[(this.#head + i) % this.#slots.length]!;
  }

  /** The lines with seq above `seq`, oldest first, at most `limit` of them (the oldest such). */
  after(seq: number, limit: number): LogLine[] {
    let lo = 0;
    let hi = this.#size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.#at(mid).seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    const out: LogLine[] = [];
    for (let i = lo; i < this.#size && out.length < limit; i++) out.push(this.#at(i));
    return out;
  }

  /** The newest `limit` lines, oldest first. */
  last(limit: number): LogLine[] {
    const out: LogLine[] = [];
    for (let i = Math.max(0, this.#size - limit); i < this.#size; i++) out.push(this.#at(i));
    return out;
  }
}
