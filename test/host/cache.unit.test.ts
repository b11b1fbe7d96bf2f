import { KV_LIMITS } from '../../kvs/index.ts';
import { HostCache } from '../../host/cache/cache.ts';
import { storeContract } from '../helpers/store-contract.ts';

// The host's cache takes a guest's writes through commit (one transaction that merges them
// and marks them dirty for the flusher); it refuses what the KV tier would refuse, so it holds
// to the tier's store contract at the tier's value limit. Unlike LatticeStore's, its fsync
// policies share one commit path (the policy only sets LMDB's noSync), so one runs it.
storeContract({
  name: 'HostCache',
  maxValueBytes: KV_LIMITS.maxValueBytes,
  open: async (path) => {
    const cache = HostCache.open({ path });
    return {
      merge: async (key, value) => cache.commit(new Map([[key, value]])).get(key)!,
      get: async (key) => cache.get(key),
      getEncoded: async (key) => cache.getEncoded(key),
      close: () => cache.close(),
    };
  },
});
