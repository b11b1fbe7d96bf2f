/**
 * The lattice conformance suite: written once, run for every lattice type.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import {
  decode,
  encode,
  equals,
  isDeleted,
  LATTICE_TYPES,
  merge,
  peekType,
  tombstoneFor,
  type Lattice,
} from '../../kvs/index.ts';
import { ARBITRARIES, latticeArb, PROPERTY, stampArb } from './arbitraries.ts';

function expectDecodeOutcome(bytes: Uint8Array): void {
  let value: Lattice;
  try {
    value = decode(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(CloudburstError);
    expect(['KV_BAD_VALUE', 'KV_UNKNOWN_TYPE']).toContain((err as CloudburstError).code);
    return;
  }
  // Whatever decodes must be canonical: re-encoding gives back exactly the input.
  expect(Buffer.compare(encode(value), bytes)).toBe(0);
}

describe.each(LATTICE_TYPES)('lattice %s', (type) => {
  const arb = ARBITRARIES[type];

  it(`${type}: merge is commutative`, () => {
    fc.assert(
      fc.property(arb, arb, (a, b) => equals(merge(a, b), merge(b, a))),
      PROPERTY,
    );
  });

  it(`${type}: merge is associative`, () => {
    fc.assert(
      fc.property(arb, arb, arb, (a, b, c) => equals(merge(merge(a, b), c), merge(a, merge(b, c)))),
      PROPERTY,
    );
  });

  it(`${type}: merge is idempotent`, () => {
    fc.assert(
      fc.property(arb, arb, (a, b) => equals(merge(a, a), a) && equals(merge(merge(a, b), b), merge(a, b))),
      PROPERTY,
    );
  });

  it(`${type}: merge never mutates its inputs`, () => {
    fc.assert(
      fc.property(arb, arb, (a, b) => {
        const before = [encode(a), encode(b)];
        merge(a, b);
        return Buffer.compare(encode(a), before[0]!) === 0 && Buffer.compare(encode(b), before[1]!) === 0;
      }),
      PROPERTY,
    );
  });

  it(`${type}: decode(encode(x)) equals x`, () => {
    fc.assert(
      fc.property(arb, (x) => {
        const bytes = encode(x);
        return peekType(bytes) === type && equals(decode(bytes), x);
      }),
      PROPERTY,
    );
  });

  it(`${type}: encoding is canonical (equal values, equal bytes)`, () => {
    fc.assert(
      fc.property(arb, arb, (a, b) => {
        // Two routes to one value must meet in the same bytes, and vice versa.
        const ab = encode(merge(a, b));
        const ba = encode(merge(b, a));
        return Buffer.compare(ab, ba) === 0 && equals(a, b) === (Buffer.compare(encode(a), encode(b)) === 0);
      }),
      PROPERTY,
    );
  });

  it(`${type}: decoding truncated or mutated encodings fails cleanly`, () => {
    fc.assert(
      fc.property(arb, fc.nat(), fc.nat(255), fc.boolean(), (x, at, byte, truncate) => {
        const bytes = Buffer.from(encode(x));
        const i = at % bytes.length;
        if (truncate) {
          expectDecodeOutcome(bytes.subarray(0, i));
        } else {
          bytes[i] = byte;
          expectDecodeOutcome(bytes);
        }
      }),
      PROPERTY,
    );
  });

  it(`${type}: a delete wins over every write at an older stamp`, () => {
    fc.assert(
      fc.property(arb, stampArb, (x, stamp) => {
        const del = tombstoneFor(type, { ...stamp, ms: stamp.ms === 0 ? 1 : stamp.ms });
        expect(isDeleted(del)).toBe(true);
        const merged = merge(x, del);
        const older = x.type === 'lww' ? x.stamp : x.epoch;
        const delStamp = del.type === 'lww' ? del.stamp : del.epoch;
        if (older.ms < delStamp.ms) expect(isDeleted(merged)).toBe(true);
      }),
      PROPERTY,
    );
  });
});

describe('lattice codec', () => {
  it('decode: random bytes either decode canonically or fail with a KV code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.constantFrom(1, 2, 3, 4, 5, 0), (tail, tag) => {
        expectDecodeOutcome(tail);
        expectDecodeOutcome(Uint8Array.from([1, tag, ...tail]));
      }),
      { ...PROPERTY, numRuns: 2000 },
    );
  });

  it('merge: values of different types are a KV_TYPE_MISMATCH', () => {
    fc.assert(
      fc.property(latticeArb, latticeArb, (a, b) => {
        fc.pre(a.type !== b.type);
        expect(() => merge(a, b)).toThrow(expect.objectContaining({ code: 'KV_TYPE_MISMATCH' }));
      }),
      PROPERTY,
    );
  });
});
