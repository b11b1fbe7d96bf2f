// A call's bridge to the main thread, played by a test (host/executor/guest-state.ts `Bridge`):
// a read miss absorbs the value the "tier" (a Map) holds, if any; nothing else goes anywhere.
// A test of sessions extends it with their requests (snapshots, causal needs, pins).
import type { HostCache } from '../../host/cache/cache.ts';
import type { CausalNeed, ReadVersion } from '../../host/consistency/call-session.ts';
import type { Bridge } from '../../host/executor/guest-state.ts';
import type { Lattice } from '../../kvs/index.ts';

export class TierBridge implements Bridge {
  /** Every key a call fetched, in order. */
  readonly fetched: string[] = [];
  readonly tier = new Map<string, Lattice>();
  constructor(readonly cache: HostCache) {}
  fetch(keys: string[]): void {
    for (const key of keys) {
      this.fetched.push(key);
      const v = this.tier.get(key);
      if (v !== undefined) this.cache.absorb(key, v);
    }
  }
  flush(): void {}
  send(): void {}
  recv(): Uint8Array | null {
    return null;
  }
  snapshot(_rid: string, _key: string, _at: ReadVersion): Uint8Array | null {
    throw new Error('no snapshots here');
  }
  ensure(_key: string, _need: CausalNeed): void {}
  pin(_rid: string, _key: string, _version: string, _bytes: Uint8Array | null): ReadVersion {
    throw new Error('no pins here');
  }
}
