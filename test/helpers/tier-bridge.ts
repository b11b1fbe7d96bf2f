// A call's bridge to the main thread, played by a test (host/executor/guest-state.ts `Bridge`):
// a read miss absorbs the value the "tier" (a Map) holds, if any; nothing else goes anywhere.
import type { HostCache } from '../../host/cache/cache.ts';
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
  snapshot(): Uint8Array | null {
    throw new Error('no snapshots here');
  }
  ensure(): void {}
  pin(): never {
    throw new Error('no pins here');
  }
}
