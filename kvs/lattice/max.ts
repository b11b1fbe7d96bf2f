/**
 * Max register over i64 with a reset epoch. Payload: epoch stamp, flag u8 (0 = bottom,
 * 1 = present), then for a present value an i64 LE.
 */
import { badValue } from './bytes.ts';
import { isResetEmpty, mergeByEpoch, type LatticeKind } from './kind.ts';
import { compareStamps, readStamp, stampSize, writeStamp, ZERO_STAMP, type Stamp } from './stamp.ts';

/**
 * The maximum of every i64 written; `null` is bottom (nothing written). A delete raises
 * `epoch` and resets the value to bottom.
 *
 * @example
 * const d = max.put(current, 42n); // a delta
 */
export interface Max {
  readonly type: 'max';
  readonly epoch: Stamp;
  readonly value: bigint | null;
}

const I64_MIN = -(2n ** 63n);
const I64_MAX = 2n ** 63n - 1n;

/**
 * Max helpers. `put` returns a delta with just `v`, at `current`'s epoch.
 *
 * @example
 * const m = merge(max.put(undefined, 3n), max.put(undefined, 7n)) as Max; // m.value === 7n
 */
export const max = {
  put(current: Max | undefined, v: bigint): Max {
    if (typeof v !== 'bigint' || v < I64_MIN || v > I64_MAX) throw badValue(`max value ${String(v)} is outside i64`);
    return { type: 'max', epoch: current?.epoch ?? ZERO_STAMP, value: v };
  },
} as const;

function larger(a: Max, b: Max): Max {
  if (b.value === null) return a;
  if (a.value === null) return b;
  return b.value > a.value ? b : a;
}

export const maxKind: LatticeKind<Max> = {
  type: 'max',
  tag: 4,
  merge: (a, b) => mergeByEpoch(a, b, larger),
  equals: (a, b) => compareStamps(a.epoch, b.epoch) === 0 && a.value === b.value,
  isDeleted: (l) => isResetEmpty(l.epoch, l.value === null),
  tombstone: (epoch) => ({ type: 'max', epoch, value: null }),
  payloadSize(l) {
    if (l.value === null) return stampSize(l.epoch) + 1;
    if (typeof l.value !== 'bigint' || l.value < I64_MIN || l.value > I64_MAX) throw badValue('max value is outside i64');
    return stampSize(l.epoch) + 9;
  },
  writePayload(w, l) {
    writeStamp(w, l.epoch);
    if (l.value === null) {
      w.u8(0);
    } else {
      w.u8(1);
      w.i64(l.value);
    }
  },
  readPayload(r) {
    const epoch = readStamp(r, 'max.epoch');
    const flag = r.u8('max.flag');
    if (flag === 0) return { type: 'max', epoch, value: null };
    if (flag !== 1) throw r.fail(`max flag must be 0 or 1, got ${flag}`);
    return { type: 'max', epoch, value: r.i64('max.value') };
  },
};
