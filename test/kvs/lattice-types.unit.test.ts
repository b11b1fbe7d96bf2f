import { describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import {
  compareStamps,
  counter,
  decode,
  encode,
  equals,
  gset,
  isDeleted,
  isLatticeType,
  LATTICE_TYPES,
  lww,
  max,
  merge,
  peekType,
  tombstoneFor,
  ZERO_STAMP,
  type Counter,
  type GSet,
  type Lattice,
  type Max,
} from '../../kvs/index.ts';

const te = new TextEncoder();
const s = (ms: number, c = 0, writer = 'w') => ({ ms, c, writer });
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return err instanceof CloudburstError ? err.code : `not a CloudburstError: ${String(err)}`;
  }
  return undefined;
}

describe('stamp', () => {
  it('compareStamps: orders by ms, then c, then writer', () => {
    expect(compareStamps(s(1, 9, 'z'), s(2, 0, 'a'))).toBeLessThan(0);
    expect(compareStamps(s(2, 1, 'a'), s(2, 0, 'z'))).toBeGreaterThan(0);
    expect(compareStamps(s(2, 1, 'a'), s(2, 1, 'b'))).toBeLessThan(0);
    expect(compareStamps(s(2, 1, 'a'), s(2, 1, 'a'))).toBe(0);
    expect(compareStamps(ZERO_STAMP, s(0, 0, ''))).toBe(0);
  });

  it('compareStamps: writers tie-break in UTF-8 byte order, not UTF-16 order', () => {
    // U+FFFD sorts before U+1F600 in UTF-8 (EF.. < F0..) but after it in UTF-16 (FFFD > D83D).
    expect(Buffer.compare(Buffer.from('\uFFFD'), Buffer.from('\u{1F600}'))).toBeLessThan(0);
    expect(compareStamps(s(1, 0, '\uFFFD'), s(1, 0, '\u{1F600}'))).toBeLessThan(0);
    expect(compareStamps(s(1, 0, 'a'), s(1, 0, 'ab'))).toBeLessThan(0);
  });
});

describe('lattice codec layout', () => {
  it('encode: lww is version, tag, stamp, flag, u32 length and bytes', () => {
    const bytes = encode(lww.write(Uint8Array.of(0xaa), s(1, 2, 'w')));
    expect(hex(bytes)).toBe('0101' + '010000000000' + '0200' + '0177' + '00' + '01000000' + 'aa');
    expect(hex(encode(lww.tombstone(s(1, 2, 'w'))))).toBe('0101' + '010000000000' + '0200' + '0177' + '01');
  });

  it('encode: counter entries are sorted by writer with u64 p and n', () => {
    const c: Counter = { type: 'counter', epoch: ZERO_STAMP, entries: new Map([['b', { p: 1n, n: 0n }], ['a', { p: 0n, n: 2n }]]) };
    expect(hex(encode(c))).toBe(
      '0102' + '000000000000' + '0000' + '00' + '02000000' +
        '0161' + '0000000000000000' + '0200000000000000' +
        '0162' + '0100000000000000' + '0000000000000000',
    );
  });

  it('encode: set members are length-prefixed, max has a presence flag', () => {
    const set: GSet = { type: 'set', epoch: ZERO_STAMP, members: [Uint8Array.of(1), Uint8Array.of(2, 3)] };
    expect(hex(encode(set))).toBe('0103' + '000000000000' + '0000' + '00' + '02000000' + '0100000001' + '020000000203');
    expect(hex(encode(max.put(undefined, -1n)))).toBe('0104' + '000000000000' + '0000' + '00' + '01' + 'ffffffffffffffff');
    expect(hex(encode({ type: 'max', epoch: ZERO_STAMP, value: null }))).toBe('0104' + '000000000000' + '0000' + '00' + '00');
  });

  it('decode: a decoded value does not alias the input buffer', () => {
    const bytes = Buffer.from(encode(lww.write(Uint8Array.of(1, 2, 3), s(1))));
    const v = decode(bytes) as { value: Uint8Array };
    bytes.fill(0);
    expect([...v.value]).toEqual([1, 2, 3]);
  });

  it('decode: unknown tag is KV_UNKNOWN_TYPE, bad header KV_BAD_VALUE', () => {
    expect(codeOf(() => decode(Uint8Array.of(1, 99)))).toBe('KV_UNKNOWN_TYPE');
    expect(codeOf(() => peekType(Uint8Array.of(1, 0)))).toBe('KV_UNKNOWN_TYPE');
    expect(codeOf(() => decode(Uint8Array.of(2, 1)))).toBe('KV_BAD_VALUE');
    expect(codeOf(() => decode(Uint8Array.of(1)))).toBe('KV_BAD_VALUE');
    expect(codeOf(() => decode(new Uint8Array(0)))).toBe('KV_BAD_VALUE');
    expect(codeOf(() => decode('nope' as unknown as Uint8Array))).toBe('KV_BAD_VALUE');
    expect(peekType(encode(counter.empty()))).toBe('counter');
  });

  it('decode: trailing bytes are rejected', () => {
    const bytes = encode(max.put(undefined, 5n));
    expect(codeOf(() => decode(Buffer.concat([bytes, Uint8Array.of(0)])))).toBe('KV_BAD_VALUE');
  });

  it('decode: a forged huge length or count fails without allocating it', () => {
    const lwwHuge = Buffer.from('0101' + '010000000000' + '0000' + '00' + '00' + 'ffffffff', 'hex');
    const setHuge = Buffer.from('0103' + '000000000000' + '0000' + '00' + 'ffffffff', 'hex');
    const counterHuge = Buffer.from('0102' + '000000000000' + '0000' + '00' + 'ffffffff', 'hex');
    const memberHuge = Buffer.from('0103' + '000000000000' + '0000' + '00' + '01000000' + 'ffffff7f', 'hex');
    const before = process.memoryUsage().arrayBuffers;
    for (const b of [lwwHuge, setHuge, counterHuge, memberHuge]) expect(codeOf(() => decode(b))).toBe('KV_BAD_VALUE');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
  });

  it('decode: unsorted or duplicate set members are rejected (one value, one encoding)', () => {
    const prefix = '0103' + '000000000000' + '0000' + '00' + '02000000';
    expect(codeOf(() => decode(Buffer.from(prefix + '0100000002' + '0100000001', 'hex')))).toBe('KV_BAD_VALUE');
    expect(codeOf(() => decode(Buffer.from(prefix + '0100000001' + '0100000001', 'hex')))).toBe('KV_BAD_VALUE');
    expect(decode(Buffer.from(prefix + '0100000001' + '0100000002', 'hex')).type).toBe('set');
  });

  it('decode: unsorted, duplicate or zero counter entries are rejected', () => {
    const prefix = '0102' + '000000000000' + '0000' + '00' + '02000000';
    const entry = (w: string, p: number) => '01' + Buffer.from(w).toString('hex') + `0${p}00000000000000` + '0000000000000000';
    expect(codeOf(() => decode(Buffer.from(prefix + entry('b', 1) + entry('a', 1), 'hex')))).toBe('KV_BAD_VALUE');
    expect(codeOf(() => decode(Buffer.from(prefix + entry('a', 1) + entry('a', 2), 'hex')))).toBe('KV_BAD_VALUE');
    expect(codeOf(() => decode(Buffer.from(prefix + entry('a', 0) + entry('b', 1), 'hex')))).toBe('KV_BAD_VALUE');
    expect(decode(Buffer.from(prefix + entry('a', 1) + entry('b', 1), 'hex')).type).toBe('counter');
  });

  it('decode: invalid UTF-8 writers and bad flags are rejected', () => {
    expect(codeOf(() => decode(Buffer.from('0101' + '010000000000' + '0000' + '01ff' + '01', 'hex')))).toBe('KV_BAD_VALUE');
    expect(codeOf(() => decode(Buffer.from('0101' + '010000000000' + '0000' + '00' + '02', 'hex')))).toBe('KV_BAD_VALUE');
    expect(codeOf(() => decode(Buffer.from('0104' + '000000000000' + '0000' + '00' + '02', 'hex')))).toBe('KV_BAD_VALUE');
  });

  it('encode: values that break their invariants are KV_BAD_VALUE', () => {
    const bad: Lattice[] = [
      { type: 'set', epoch: ZERO_STAMP, members: [Uint8Array.of(2), Uint8Array.of(1)] },
      { type: 'counter', epoch: ZERO_STAMP, entries: new Map([['a', { p: -1n, n: 0n }]]) },
      { type: 'counter', epoch: ZERO_STAMP, entries: new Map([['a', { p: 0n, n: 0n }]]) },
      { type: 'max', epoch: ZERO_STAMP, value: 2n ** 63n },
      { type: 'lww', stamp: s(1), tombstone: true, value: Uint8Array.of(1) },
      lww.write(Uint8Array.of(1), s(2 ** 48)),
      lww.write(Uint8Array.of(1), s(1, 0x10000)),
      lww.write(Uint8Array.of(1), s(1, 0, 'x'.repeat(256))),
      lww.write(Uint8Array.of(1), s(1, 0, '\ud800')),
    ];
    for (const l of bad) expect(codeOf(() => encode(l))).toBe('KV_BAD_VALUE');
    expect(codeOf(() => encode({ type: 'map' } as unknown as Lattice))).toBe('KV_UNKNOWN_TYPE');
  });
});

describe('lww', () => {
  it('lww: the greater stamp wins, whatever the order', () => {
    const a = lww.write(te.encode('old'), s(1));
    const b = lww.write(te.encode('new'), s(2));
    expect(merge(a, b)).toBe(b);
    expect(merge(b, a)).toBe(b);
  });

  it('lww: a later write wins over a tombstone, an earlier one does not', () => {
    const del = lww.tombstone(s(5));
    expect(isDeleted(merge(del, lww.write(te.encode('x'), s(4))))).toBe(true);
    expect(isDeleted(merge(del, lww.write(te.encode('x'), s(6))))).toBe(false);
  });

  it('lww: equal stamps resolve the same way on every replica', () => {
    const a = lww.write(te.encode('a'), s(1));
    const b = lww.write(te.encode('b'), s(1));
    const t = lww.tombstone(s(1));
    expect(merge(a, b)).toBe(b);
    expect(merge(b, a)).toBe(b);
    expect(merge(a, t)).toBe(t);
    expect(merge(t, b)).toBe(t);
  });
});

describe('counter', () => {
  it('counter: add returns a delta that increments when merged, anywhere', () => {
    let c = counter.empty();
    const d1 = counter.add(c, 'w1', 5n);
    expect([...d1.entries]).toEqual([['w1', { p: 5n, n: 0n }]]);
    c = merge(c, d1) as Counter;
    c = merge(c, counter.add(c, 'w1', -2n)) as Counter;
    c = merge(c, counter.add(c, 'w2', 10n)) as Counter;
    expect(counter.total(c)).toBe(13n);
    // Re-delivering a delta changes nothing (idempotence makes retries safe).
    expect(counter.total(merge(c, d1) as Counter)).toBe(13n);
  });

  it('counter: add of zero to an absent writer is an empty delta', () => {
    expect(counter.add(undefined, 'w', 0n).entries.size).toBe(0);
  });

  it('counter: overflow past u64 is KV_BAD_VALUE', () => {
    const c = counter.add(undefined, 'w', 2n ** 64n - 1n);
    expect(codeOf(() => counter.add(c, 'w', 1n))).toBe('KV_BAD_VALUE');
  });

  it('counter: a delete wins over increments from a cache that had not seen it', () => {
    const before = counter.add(undefined, 'w', 3n);
    const del = tombstoneFor('counter', s(10)) as Counter;
    const stale = counter.add(before, 'w', 1n); // made at the old epoch
    const merged = merge(merge(before, del), stale) as Counter;
    expect(isDeleted(merged)).toBe(true);
    expect(counter.total(merged)).toBe(0n);
    const fresh = counter.add(merged, 'w', 2n);
    expect(counter.total(merge(merged, fresh) as Counter)).toBe(2n);
  });

  it('counter: an empty counter that was never reset is not deleted', () => {
    expect(isDeleted(counter.empty())).toBe(false);
  });
});

describe('set', () => {
  it('set: add and has, members stay sorted and unique', () => {
    let set: GSet | undefined;
    for (const m of ['b', 'a', 'c', 'a']) set = merge(set ?? gset.add(undefined, te.encode(m)), gset.add(set, te.encode(m))) as GSet;
    expect(set!.members.map((m) => Buffer.from(m).toString())).toEqual(['a', 'b', 'c']);
    expect(gset.has(set!, te.encode('b'))).toBe(true);
    expect(gset.has(set!, te.encode('d'))).toBe(false);
  });

  it('set: a delete resets; adds made after it survive', () => {
    const s1 = gset.add(undefined, te.encode('x'));
    const del = tombstoneFor('set', s(3)) as GSet;
    const after = merge(merge(s1, del), gset.add(del, te.encode('y'))) as GSet;
    expect(after.members.map((m) => Buffer.from(m).toString())).toEqual(['y']);
    expect(isDeleted(after)).toBe(false);
  });
});

describe('max', () => {
  it('max: keeps the largest i64; bottom is null', () => {
    const m = merge(merge(max.put(undefined, -5n), max.put(undefined, 7n)), { type: 'max', epoch: ZERO_STAMP, value: null }) as Max;
    expect(m.value).toBe(7n);
    expect(codeOf(() => max.put(undefined, 2n ** 63n))).toBe('KV_BAD_VALUE');
  });
});

describe('lattice registry', () => {
  it('isLatticeType: accepts the four names only', () => {
    expect(LATTICE_TYPES).toEqual(['lww', 'counter', 'set', 'max']);
    for (const t of LATTICE_TYPES) expect(isLatticeType(t)).toBe(true);
    for (const x of ['map', '', 'toString', 'constructor', 1, null]) expect(isLatticeType(x)).toBe(false);
  });

  it('tombstoneFor: every type has a delete that reads as deleted', () => {
    for (const t of LATTICE_TYPES) {
      const del = tombstoneFor(t, s(1));
      expect(del.type).toBe(t);
      expect(isDeleted(del)).toBe(true);
      expect(equals(decode(encode(del)), del)).toBe(true);
    }
  });
});
