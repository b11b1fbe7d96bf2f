// Brings this host's cache up to a client session before the session's next call runs here.
// See host/README.md, "Client sessions".
import { CloudburstError } from '../../common/index.ts';
import type { Lattice } from '../../kvs/index.ts';
import type { HostCache } from '../cache/cache.ts';
import type { PeerLink } from '../cluster/peer-link.ts';
import { counterFrom, type MetricsRegistry } from '../metrics.ts';
import { readPeerCache } from './causal-peers.ts';
import { covers, type ClientSession, type SessionEntry } from './client-session.ts';
import { userPrefix } from '../keys.ts';

export interface CatchUpOptions {
  cache: HostCache;
  /** Where values from elsewhere enter the cache (the causal cut). */
  admit: (key: string, value: Lattice, deadline: number, from?: string) => Promise<unknown>;
  link: PeerLink;
  /** The merge of every replica of a key in the KV tier. */
  getFresh: (key: string) => Promise<Lattice | undefined>;
  selfUrl: () => string;
}

/**
 * Read-your-writes and monotonic reads across calls: before a call runs, every key of the
 * client's session must be here at least as new as the session saw it. A key that is behind
 * is read from the host whose cache had that version (its cache only grows; a key it evicted
 * was flushed first), else from the KV tier (the merge of every replica), until the call's
 * deadline: CONSISTENCY_UNAVAILABLE then (the host that had it is down with the write still
 * in its outbox, say).
 */
export class SessionCatchUp {
  readonly #cache: HostCache;
  readonly #admit: CatchUpOptions['admit'];
  readonly #link: PeerLink;
  readonly #getFresh: CatchUpOptions['getFresh'];
  readonly #selfUrl: CatchUpOptions['selfUrl'];
  /** Keys brought here for a session (metrics). */
  fetched = 0;

  constructor(opts: CatchUpOptions) {
    this.#cache = opts.cache;
    this.#admit = opts.admit;
    this.#link = opts.link;
    this.#getFresh = opts.getFresh;
    this.#selfUrl = opts.selfUrl;
  }

  registerMetrics(registry: MetricsRegistry): void {
    counterFrom(registry, 'cloudburst_session_catchup_keys_total', 'Keys brought into this cache so that a call sees what its client session saw.', () => this.fetched);
  }

  #behind(prefix: string, entries: readonly SessionEntry[]): SessionEntry[] {
    this.#cache.refresh();
    return entries.filter((e) => !covers(e.key, this.#cache.get(prefix + e.key), e.version));
  }

  /**
   * Brings the cache up to `session` for a call of `tenant`: a session names user keys, and a
   * call reads those of its own tenant (a token carried to another tenant constrains only that
   * tenant's keys of the same names).
   */
  async ensure(tenant: string, session: ClientSession, deadline: number): Promise<void> {
    const prefix = userPrefix(tenant);
    let behind = this.#behind(prefix, session);
    let pause = 5;
    while (behind.length > 0) {
      this.fetched += behind.length;
      const byUrl = new Map<string, SessionEntry[]>();
      for (const e of behind) {
        if (e.url === this.#selfUrl()) continue;
        const list = byUrl.get(e.url) ?? [];
        list.push(e);
        byUrl.set(e.url, list);
      }
      await Promise.all([...byUrl].map(([url, entries]) => this.#fromPeer(prefix, url, entries, deadline).catch(() => undefined)));
      behind = this.#behind(prefix, behind);
      if (behind.length === 0) return;
      await Promise.all(behind.map(async (e) => {
        const key = prefix + e.key;
        const v = await this.#getFresh(key).catch(() => undefined);
        if (v !== undefined) await this.#admit(key, v, deadline);
      }));
      behind = this.#behind(prefix, behind);
      if (behind.length === 0) return;
      const remaining = deadline - performance.now();
      if (remaining <= 0) {
        const keys = behind.map((e) => JSON.stringify(e.key)).slice(0, 5).join(', ');
        throw new CloudburstError('CONSISTENCY_UNAVAILABLE', `the session has seen newer versions of ${keys}${behind.length > 5 ? ', ...' : ''} than reached this host before the deadline`);
      }
      await new Promise((r) => setTimeout(r, Math.min(pause, remaining)));
      pause = Math.min(pause * 2, 200);
    }
  }

  /** The values the peer's cache holds of these keys, admitted here. */
  async #fromPeer(prefix: string, url: string, entries: readonly SessionEntry[], deadline: number): Promise<void> {
    const values = await readPeerCache(this.#link, url, entries.map((e) => prefix + e.key), deadline);
    await Promise.all([...values].map(([key, value]) => this.#admit(key, value, deadline, url)));
  }
}
