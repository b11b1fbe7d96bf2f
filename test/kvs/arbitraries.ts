/**
 * fast-check arbitraries for every lattice type. Domains are deliberately small (few
 * writers, few timestamps) so that random values collide often: merge laws are only
 * interesting when stamps, epochs and members overlap.
 */
import fc from 'fast-check';
import { causalMeta, counter, fromVersions, lww, max, merge, type Counter, type Dep, type LwwVersion, type GSet, type Lattice, type LatticeType, type Max, type Stamp } from '../../kvs/index.ts';

// Includes a non-ASCII and an astral writer: the tie-break must follow UTF-8 bytes.
export const writerArb = fc.constantFrom('', 'a', 'b', 'host-1', 'é', '\u{1F600}', '\uFFFD');

export const stampArb: fc.Arbitrary<Stamp> = fc.record({
  ms: fc.oneof(fc.constantFrom(0, 1, 2, 1_700_000_000_000), fc.integer({ min: 0, max: 2 ** 48 - 1 })),
  c: fc.oneof(fc.constantFrom(0, 1, 0xffff), fc.integer({ min: 0, max: 0xffff })),
  writer: writerArb,
});

const smallStampArb: fc.Arbitrary<Stamp> = fc.record({
  ms: fc.integer({ min: 0, max: 2 }),
  c: fc.integer({ min: 0, max: 1 }),
  writer: fc.constantFrom('', 'a', 'b'),
});

const bytesArb = fc.uint8Array({ maxLength: 24 });
const smallBytesArb = fc.oneof(fc.constantFrom(new Uint8Array(0), new Uint8Array([1]), new Uint8Array([1, 2])), fc.uint8Array({ maxLength: 3 }));

const plainLwwArb: fc.Arbitrary<Lattice> = fc.oneof(
  { arbitrary: fc.tuple(smallBytesArb, smallStampArb).map(([v, s]) => lww.write(v, s)), weight: 4 },
  { arbitrary: smallStampArb.map((s) => lww.tombstone(s)), weight: 2 },
  { arbitrary: fc.tuple(bytesArb, stampArb).map(([v, s]) => lww.write(v, s)), weight: 1 },
);

const depArb: fc.Arbitrary<Dep> = fc.record({ key: fc.constantFrom('k', 'l', 'é'), at: smallStampArb, plain: fc.boolean() });

/** A causal version: a small version vector over the same few writers, a floor and dependencies. */
const causalVersionArb: fc.Arbitrary<LwwVersion> = fc
  .tuple(smallBytesArb, fc.boolean(), smallStampArb, fc.array(smallStampArb, { maxLength: 3 }), smallStampArb, fc.array(depArb, { maxLength: 3 }))
  .map(([value, tombstone, s, vc, floor, deps]) => {
    // As a real writer's clock would: its stamp is after everything in its past.
    const stamp = { ...s, ms: Math.max(s.ms, floor.ms, ...vc.map((e) => e.ms)) + 1 };
    const causal = causalMeta(stamp, vc, floor, deps);
    return tombstone ? lww.tombstone(stamp, causal) : lww.write(value, stamp, causal);
  });

/** Registers with causal metadata and concurrent versions, built by merging versions (so they are canonical). */
const causalLwwArb: fc.Arbitrary<Lattice> = fc
  .array(fc.oneof(causalVersionArb, plainLwwArb.map((l) => l as LwwVersion)), { minLength: 1, maxLength: 4 })
  .map((vs) => vs.map((v) => fromVersions([v]) as Lattice).reduce((a, b) => merge(a, b)));

export const lwwArb: fc.Arbitrary<Lattice> = fc.oneof(
  { arbitrary: plainLwwArb, weight: 3 },
  { arbitrary: causalLwwArb, weight: 2 },
);

const u64Arb = fc.oneof(fc.bigInt({ min: 0n, max: 5n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));

export const counterArb: fc.Arbitrary<Lattice> = fc
  .tuple(fc.oneof(smallStampArb, stampArb), fc.array(fc.tuple(writerArb, u64Arb, u64Arb), { maxLength: 5 }))
  .map(([epoch, list]): Counter => {
    const entries = new Map<string, { p: bigint; n: bigint }>();
    for (const [w, p, n] of list) if (p !== 0n || n !== 0n) entries.set(w, { p, n });
    return { ...counter.empty(), epoch, entries };
  });

export const setArb: fc.Arbitrary<Lattice> = fc
  .tuple(fc.oneof(smallStampArb, stampArb), fc.array(fc.oneof(smallBytesArb, bytesArb), { maxLength: 6 }))
  .map(([epoch, list]): GSet => {
    const sorted = [...list].sort((a, b) => Buffer.compare(a, b));
    const members = sorted.filter((m, i) => i === 0 || Buffer.compare(sorted[i - 1]!, m) !== 0);
    return { type: 'set', epoch, members };
  });

export const maxArb: fc.Arbitrary<Lattice> = fc
  .tuple(
    fc.oneof(smallStampArb, stampArb),
    fc.option(fc.oneof(fc.bigInt({ min: -3n, max: 3n }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }))),
  )
  .map(([epoch, value]): Max => (value === null ? { type: 'max', epoch, value: null } : { ...max.put(undefined, value), epoch }));

export const ARBITRARIES: Readonly<Record<LatticeType, fc.Arbitrary<Lattice>>> = {
  lww: lwwArb,
  counter: counterArb,
  set: setArb,
  max: maxArb,
};

/** Any lattice of any type. */
export const latticeArb: fc.Arbitrary<Lattice> = fc.oneof(lwwArb, counterArb, setArb, maxArb);

/** Bounds every property: a fixed number of runs, cut short on a slow machine. */
export const PROPERTY = { numRuns: 300, interruptAfterTimeLimit: 4000 } as const;
