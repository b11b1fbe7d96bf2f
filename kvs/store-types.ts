/**
 * The types of the lattice store's API (store.ts): its options, its durability policy, what
 * a merge returns and what a commit listener gets.
 */
import type { Lattice } from './lattice/registry.ts';

/**
 * When a write's promise resolves, relative to the disk:
 * - `batch` (default): lmdb batches writes into transactions and fsyncs each one, the flush
 *   of one batch overlapping the commit of the next (overlappingSync). Survives power loss.
 * - `always`: each transaction is committed with a synchronous fsync, no overlap (classic
 *   LMDB). Same guarantee, slower; it does not rely on lmdb's overlapping-sync recovery.
 * - `off`: no fsync (noSync). A resolved write survives `kill -9` (it is in the page cache),
 *   not a power loss or kernel crash, which may also corrupt the file.
 *
 * @example
 * LatticeStore.open({ path: dir, fsync: 'off' })
 */
export type FsyncPolicy = 'always' | 'batch' | 'off';

/**
 * Options of `LatticeStore.open`.
 *
 * @example
 * const opts: LatticeStoreOptions = { path: '/var/lib/cloudburst/kv/store' };
 */
export interface LatticeStoreOptions {
  /** The LMDB environment's directory (created if missing). */
  readonly path: string;
  readonly fsync?: FsyncPolicy;
  /** Largest encoded value a merge may produce; defaults to KV_LIMITS.maxValueBytes. */
  readonly maxValueBytes?: number;
}

/**
 * The result of a merge, with the merged value's encoding (what a server sends back).
 *
 * @example
 * const { value, bytes }: MergeResult = await store.mergeEncoded('k', v);
 */
export interface MergeResult {
  readonly value: Lattice;
  readonly bytes: Uint8Array;
}


/**
 * Called once a changed value is committed (`bytes`), or once a key is dropped (`undefined`),
 * with the `origin` the writer passed. The cluster layer hangs replication, digests and
 * subscription pushes on it. It runs before the writer's promise resolves and must not throw.
 *
 * @example
 * store.onCommit((key, bytes, origin) => { if (bytes && origin === 'client') queue(key); });
 */
export type CommitListener = (key: string, bytes: Uint8Array | undefined, origin: string | undefined) => void;
