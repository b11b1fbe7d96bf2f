/**
 * PN-counter with a reset epoch. Payload: epoch stamp, entry count u32 LE, then per writer in
 * strictly increasing UTF-8 byte order: writer length u8, writer, p u64 LE, n u64 LE.
 * Entries with p = n = 0 are never stored (they equal absence), so encodings stay canonical.
 */
import { Buffer } from 'node:buffer';
import { badValue, compareUtf8 } from './bytes.ts';
import { isResetEmpty, mergeByEpoch, type LatticeKind } from './kind.ts';
import { checkWriter, compareStamps, readStamp, stampSize, writeStamp, ZERO_STAMP, type Stamp } from './stamp.ts';

/**
 * One writer's share of a counter: its total increments and total decrements so far.
 *
 * @example
 * const e: CounterEntry = { p: 5n, n: 2n }; // contributes 3
 */
export interface CounterEntry {
  readonly p: bigint;
  readonly n: bigint;
}

/**
 * A PN-counter: per writer, the maximum seen of its total increments `p` and total
 * decrements `n`. The value is the sum of p - n. A delete raises `epoch` and empties it.
 *
 * @example
 * const d = counter.add(current, 'host-1', 5n); // a delta
 * counter.total(merge(current ?? counter.empty(), d) as Counter)
 */
export interface Counter {
  readonly type: 'counter';
  readonly epoch: Stamp;
  readonly entries: ReadonlyMap<string, CounterEntry>;
}

const U64_MAX = 2n ** 64n - 1n;

function checkEntry(writer: string, e: CounterEntry): void {
  if (typeof e.p !== 'bigint' || typeof e.n !== 'bigint' || e.p < 0n || e.n < 0n || e.p > U64_MAX || e.n > U64_MAX) {
    throw badValue(`counter entry of ${JSON.stringify(writer)} is outside u64`);
  }
  if (e.p === 0n && e.n === 0n) throw badValue(`counter entry of ${JSON.stringify(writer)} is zero; omit it`);
}

/**
 * Counter helpers. `add` returns a delta: only `writer`'s entry, with its absolute new p/n,
 * at `current`'s epoch, so merging it into `current` (locally or on any replica) increments.
 *
 * @example
 * let c = counter.empty();
 * c = merge(c, counter.add(c, 'w', 3n)) as Counter;
 * c = merge(c, counter.add(c, 'w', -1n)) as Counter;
 * counter.total(c) // 2n
 */
export const counter = {
  empty(): Counter {
    return { type: 'counter', epoch: ZERO_STAMP, entries: new Map() };
  },
  total(c: Counter): bigint {
    let sum = 0n;
    for (const e of c.entries.values()) sum += e.p - e.n;
    return sum;
  },
  add(current: Counter | undefined, writer: string, delta: bigint): Counter {
    checkWriter(writer);
    const cur = current?.entries.get(writer) ?? { p: 0n, n: 0n };
    const next = delta >= 0n ? { p: cur.p + delta, n: cur.n } : { p: cur.p, n: cur.n - delta };
    if (next.p > U64_MAX || next.n > U64_MAX) throw badValue(`counter of ${JSON.stringify(writer)} overflows u64`);
    const entries = next.p === 0n && next.n === 0n ? new Map() : new Map([[writer, next]]);
    return { type: 'counter', epoch: current?.epoch ?? ZERO_STAMP, entries };
  },
} as const;

function mergeEntries(a: Counter, b: Counter): Counter {
  let out: Map<string, CounterEntry> | undefined;
  for (const [w, eb] of b.entries) {
    const ea = a.entries.get(w);
    if (ea && ea.p >= eb.p && ea.n >= eb.n) continue;
    out ??= new Map(a.entries);
    out.set(w, ea ? { p: ea.p > eb.p ? ea.p : eb.p, n: ea.n > eb.n ? ea.n : eb.n } : eb);
  }
  // Nothing in b above a: a already is the join (saves an allocation on redundant merges).
  return out ? { type: 'counter', epoch: a.epoch, entries: out } : a;
}

function sortedWriters(c: Counter): string[] {
  return [...c.entries.keys()].sort(compareUtf8);
}

export const counterKind: LatticeKind<Counter> = {
  type: 'counter',
  tag: 2,
  merge: (a, b) => mergeByEpoch(a, b, mergeEntries),
  equals(a, b) {
    if (compareStamps(a.epoch, b.epoch) !== 0 || a.entries.size !== b.entries.size) return false;
    for (const [w, ea] of a.entries) {
      const eb = b.entries.get(w);
      if (!eb || eb.p !== ea.p || eb.n !== ea.n) return false;
    }
    return true;
  },
  isDeleted: (l) => isResetEmpty(l.epoch, l.entries.size === 0),
  tombstone: (epoch) => ({ type: 'counter', epoch, entries: new Map() }),
  payloadSize(l) {
    let size = stampSize(l.epoch) + 4;
    for (const [w, e] of l.entries) {
      checkEntry(w, e);
      size += 1 + checkWriter(w) + 16;
    }
    return size;
  },
  writePayload(w, l) {
    writeStamp(w, l.epoch);
    w.u32(l.entries.size);
    for (const writer of sortedWriters(l)) {
      const e = l.entries.get(writer)!;
      const n = Buffer.byteLength(writer, 'utf8');
      w.u8(n);
      w.utf8(writer, n);
      w.u64(e.p);
      w.u64(e.n);
    }
  },
  readPayload(r) {
    const epoch = readStamp(r, 'counter.epoch');
    const count = r.u32('counter.count');
    // Each entry takes at least 17 bytes; checking up front stops a forged count early.
    if (count * 17 > r.remaining) throw r.fail(`counter claims ${count} entries in ${r.remaining} bytes`);
    const entries = new Map<string, CounterEntry>();
    let prev: string | undefined;
    for (let i = 0; i < count; i++) {
      const writer = r.utf8(r.u8('counter.writer length'), 'counter.writer');
      if (prev !== undefined && compareUtf8(prev, writer) >= 0) throw r.fail('counter writers must be unique and sorted');
      const p = r.u64('counter.p');
      const n = r.u64('counter.n');
      if (p === 0n && n === 0n) throw r.fail('counter entry with p = n = 0');
      entries.set(writer, { p, n });
      prev = writer;
    }
    return { type: 'counter', epoch, entries };
  },
};
