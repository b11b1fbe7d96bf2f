/**
 * A mixed-type write workload for the cluster tests: op (key i, round r) is an LWW write,
 * a counter increment, a set add or a max, by i mod 4. `covers` says whether a value read
 * back includes a write (the write adds nothing when merged into it).
 */
import { counter, equals, gset, lww, max, merge, type Lattice } from '../../../kvs/index.ts';

const te = new TextEncoder();

export interface Op {
  readonly key: string;
  readonly value: Lattice;
}

export function op(prefix: string, i: number, r: number): Op {
  const key = `${prefix}/${i}`;
  switch (i % 4) {
    case 0:
      return { key, value: lww.write(te.encode(`v${i}.${r}`), { ms: 1_000_000 + r, c: 0, writer: `w${r % 3}` }) };
    case 1:
      return { key, value: counter.add(undefined, `w${r}`, BigInt(i + 1)) };
    case 2:
      return { key, value: gset.add(undefined, te.encode(`m${r}`)) };
    default:
      return { key, value: max.put(undefined, BigInt(i * 10 + r)) };
  }
}

export function covers(value: Lattice | undefined, write: Lattice): boolean {
  return value !== undefined && value.type === write.type && equals(merge(value, write), value);
}

/** Runs `ops` with `concurrency` workers; `onAck` after each acknowledged one. */
export async function runOps(ops: readonly Op[], concurrency: number, write: (op: Op) => Promise<unknown>, onAck: (op: Op, index: number) => void): Promise<{ failed: number }> {
  let next = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < ops.length) {
        const i = next++;
        const o = ops[i]!;
        try {
          await write(o);
          onAck(o, i);
        } catch {
          failed++;
        }
      }
    }),
  );
  return { failed };
}
