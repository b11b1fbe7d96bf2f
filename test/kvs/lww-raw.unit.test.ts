import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compareStamps, encode, equals, Hlc, isPlainRegister, isRegister, lww, merge, observeRegister, PlainRegisterCodec, type Lww,
} from '../../kvs/index.ts';
import { counterArb, lwwArb, maxArb, PROPERTY, setArb, stampArb } from './arbitraries.ts';

const plainArb: fc.Arbitrary<Lww> = fc.oneof(
  fc.tuple(fc.uint8Array({ maxLength: 5000 }), stampArb).map(([v, s]) => lww.write(v, s)),
  stampArb.map((s) => lww.tombstone(s)),
);

describe('registers read and written in place (lww-raw.ts): byte for byte what encode, decode and merge do', () => {
  it('encodes a plain write exactly as encode does, whatever came before in its reused buffer', () => {
    const codec = new PlainRegisterCodec();
    fc.assert(fc.property(plainArb, (l) => {
      const bytes = codec.encode(l);
      expect(Buffer.from(bytes).equals(Buffer.from(encode(l)))).toBe(true);
      expect(codec.size(l)).toBe(bytes.byteLength);
    }), PROPERTY);
  });

  it('refuses what encode refuses', () => {
    const codec = new PlainRegisterCodec();
    for (const bad of [lww.write(new Uint8Array(1), { ms: -1, c: 0, writer: 'w' }), lww.write(new Uint8Array(1), { ms: 1, c: 0x10000, writer: 'w' }), lww.write(new Uint8Array(1), { ms: 1, c: 0, writer: 'x'.repeat(256) })]) {
      expect(() => encode(bad)).toThrow(expect.objectContaining({ code: 'KV_BAD_VALUE' }));
      expect(() => codec.encode(bad)).toThrow(expect.objectContaining({ code: 'KV_BAD_VALUE' }));
    }
  });

  it('says a plain write is newer exactly when its stamp is greater, and then the merge is that write', () => {
    const codec = new PlainRegisterCodec();
    fc.assert(fc.property(plainArb, plainArb, (old, l) => {
      const newer = codec.newer(l, encode(old));
      expect(newer).toBe(compareStamps(l.stamp, old.stamp) > 0);
      if (newer) expect(equals(merge(old, l), l)).toBe(true);
    }), PROPERTY);
  });

  it('tells plain registers from causal ones, registers with siblings and other types', () => {
    fc.assert(fc.property(lwwArb, (l) => {
      const r = l as Lww;
      expect(isRegister(encode(l))).toBe(true);
      expect(isPlainRegister(encode(l))).toBe(r.causal === undefined && r.siblings === undefined);
    }), PROPERTY);
    fc.assert(fc.property(fc.oneof(counterArb, setArb, maxArb), (l) => {
      expect(isRegister(encode(l))).toBe(false);
      expect(isPlainRegister(encode(l))).toBe(false);
    }), PROPERTY);
    for (const junk of [new Uint8Array(0), new Uint8Array([1, 1]), new Uint8Array([2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])]) {
      expect(isRegister(junk)).toBe(false);
      expect(isPlainRegister(junk)).toBe(false);
    }
  });

  it('moves a clock past the stamp of what it read, as observe does', () => {
    fc.assert(fc.property(lwwArb, fc.nat(2 ** 40), (l, now) => {
      const hlc = new Hlc('reader', () => now);
      observeRegister(hlc, encode(l));
      const next = hlc.now();
      expect(next.ms > (l as Lww).stamp.ms || (next.ms === (l as Lww).stamp.ms && next.c > (l as Lww).stamp.c)).toBe(true);
    }), PROPERTY);
  });

  it('observeTick leaves a clock alone only when its next stamp is after the tick anyway', () => {
    const hlc = new Hlc('w', () => 1000);
    const a = hlc.now(); // (1000, 0)
    hlc.observeTick(999, 7);
    hlc.observeTick(1000, 0);
    const b = hlc.now();
    expect(b).toEqual({ ms: 1000, c: 1, writer: 'w' });
    hlc.observeTick(1000, 40);
    expect(hlc.now()).toEqual({ ms: 1000, c: 42, writer: 'w' });
    hlc.observeTick(5000, 3);
    expect(hlc.now()).toEqual({ ms: 5000, c: 5, writer: 'w' });
    expect(compareStamps(b, a)).toBeGreaterThan(0);
  });
});
