/**
 * Merging a batch frame into the store, shared by the client batch route and the
 * node-to-node push route: each entry is checked on its own (a bad one fails in its slot),
 * the valid ones are merged in one transaction.
 */
import { CloudburstError } from '../common/index.ts';
import { decode } from './lattice/codec.ts';
import type { Lattice } from './lattice/registry.ts';
import { checkKey, KV_LIMITS, type FrameEntry } from './protocol.ts';
import type { LatticeStore } from './store.ts';

/** Checks one frame entry; the error, if any, is that entry's result. */
export function entryValue(entry: FrameEntry): Lattice {
  checkKey(entry.key);
  if (!entry.value) throw new CloudburstError('KV_BAD_VALUE', 'a merge entry needs a value');
  if (entry.value.byteLength > KV_LIMITS.maxValueBytes) {
    throw new CloudburstError('KV_VALUE_TOO_LARGE', `the value is over ${KV_LIMITS.maxValueBytes} bytes`);
  }
  return decode(entry.value);
}

/**
 * Decodes and merges `entries`; `admit` may throw to refuse the whole batch before anything
 * is merged (the ring check). Resolves with the per-entry results once committed.
 *
 * @example
 * const results = await mergeFrame(store, decodeFrame(body), 'client');
 */
export async function mergeFrame(
  store: LatticeStore,
  entries: readonly FrameEntry[],
  origin: string,
  admit?: (key: string) => void,
): Promise<(CloudburstError | null)[]> {
  const results: (CloudburstError | null)[] = new Array(entries.length).fill(null);
  const valid: { key: string; value: Lattice }[] = [];
  const slots: number[] = [];
  entries.forEach((entry, i) => {
    try {
      valid.push({ key: entry.key, value: entryValue(entry) });
      slots.push(i);
    } catch (err) {
      if (!(err instanceof CloudburstError)) throw err;
      results[i] = err;
    }
  });
  if (admit) for (const { key } of valid) admit(key);
  const merged = await store.mergeMany(valid, origin);
  merged.forEach((r, j) => {
    if (r instanceof CloudburstError) results[slots[j]!] = r;
  });
  return results;
}
