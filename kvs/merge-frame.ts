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

/** Checks one frame entry's key and size; the error, if any, is that entry's result. */
function entryBytes(entry: FrameEntry): Uint8Array {
  checkKey(entry.key);
  if (!entry.value) throw new CloudburstError('KV_BAD_VALUE', 'a merge entry needs a value');
  if (entry.value.byteLength > KV_LIMITS.maxValueBytes) {
    throw new CloudburstError('KV_VALUE_TOO_LARGE', `the value is over ${KV_LIMITS.maxValueBytes} bytes`);
  }
  return entry.value;
}


/**
 * Decodes and merges `entries`; `admit` may throw to refuse the whole batch before anything
 * is merged (the ring check). Resolves with the per-entry results once committed. An entry
 * whose bytes the store holds already (`LatticeStore.holds`: a replica push of a value the
 * client also wrote here) is acknowledged without a decode or a merge: it would change
 * nothing, and what is there is committed.
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
  const valid: { key: string; value: Lattice; bytes: Uint8Array }[] = [];
  const held: string[] = [];
  const slots: number[] = [];
  entries.forEach((entry, i) => {
    try {
      const bytes = entryBytes(entry);
      if (store.holds(entry.key, bytes)) {
        held.push(entry.key);
        return;
      }
      valid.push({ key: entry.key, value: decode(bytes), bytes });
      slots.push(i);
    } catch (err) {
      if (!(err instanceof CloudburstError)) throw err;
      results[i] = err;
    }
  });
  if (admit) for (const key of [...held, ...valid.map((v) => v.key)]) admit(key);
  const merged = await store.mergeMany(valid, origin);
  merged.forEach((r, j) => {
    if (r instanceof CloudburstError) results[slots[j]!] = r;
  });
  return results;
}
