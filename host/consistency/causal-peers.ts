// Both ends of a read of a peer's cache (HOST_PATHS.cacheRead): what a causal cut asks the host
// a version came from before the tier, since that host, a cut too, has what the version depends
// on. See host/README.md, "Consistency".
import { Buffer } from 'node:buffer';
import { decode, type Lattice } from '../../kvs/index.ts';
import type { HostCache } from '../cache/cache.ts';
import type { PeerLink } from '../cluster/peer-link.ts';
import { HOST_PATHS } from '../protocol.ts';

/**
 * The values a peer's cache holds of `keys` (what is visible there); keys it does not hold are
 * left out. The request gets what is left until `deadline`, and at least 100 ms.
 */
export async function readPeerCache(link: PeerLink, url: string, keys: readonly string[], deadline: number): Promise<Map<string, Lattice>> {
  const body = (await link.send(url, 'POST', HOST_PATHS.cacheRead, { keys }, Math.max(100, deadline - performance.now()))) as { values?: Record<string, string | null> };
  const out = new Map<string, Lattice>();
  for (const k of keys) {
    const b64 = body?.values?.[k];
    if (typeof b64 === 'string') out.set(k, decode(new Uint8Array(Buffer.from(b64, 'base64'))));
  }
  return out;
}

/** The answer to a peer's read: this host's cached values of `keys`, encoded in base64, null where none. */
export function serveCacheRead(cache: HostCache, keys: readonly string[]): { values: Record<string, string | null> } {
  cache.refresh();
  const values: Record<string, string | null> = {};
  for (const k of keys) {
    const bytes = cache.getEncoded(k);
    values[k] = bytes === undefined ? null : Buffer.from(bytes).toString('base64');
  }
  return { values };
}
