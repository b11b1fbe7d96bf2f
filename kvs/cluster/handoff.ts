/**
 * Moving keys when the ring changes (kvs/README.md, "Rebalancing"):
 * - **join**: a `joining` node pulls from every up peer the keys it will replicate
 *   (`POST /kv/v1/cluster/sync`, paged) while the peers already push it every new write of
 *   those ranges (it is in their future ring); then it goes `up`.
 * - **leave**: a `leaving` node still serves, and hands every key to its future replicas
 *   (the ring without it), again for keys written meanwhile, until a pass finds nothing new;
 *   then it goes `left`.
 * - **shed**: a node that no longer replicates a key (another node joined its range) sends
 *   it to the key's replicas and drops it once every one of them acknowledged, and only if
 *   it did not change meanwhile. Until then it keeps serving it.
 */
import { Buffer } from 'node:buffer';
import { CloudburstError } from '../../common/index.ts';
import { decodeFrame, encodeFrame, KV_CONTENT_TYPES, KV_HEADERS, KV_PATHS, type FrameEntry } from '../protocol.ts';
import type { LatticeStore } from '../store.ts';
import { errorOf, type Transport } from '../transport.ts';
import { mergeEntries, REPAIR_MAX_ENTRIES } from './anti-entropy.ts';
import type { DigestIndex } from './digest.ts';
import type { Gossip } from './gossip.ts';
import { parseMembers, type Member } from './membership.ts';
import { ORIGINS, pushValues } from './replicator.ts';
import type { RingMember } from './ring.ts';

/** Entries per sync page, and keys per handover push. */
const PAGE = 2000;

/**
 * Options of `Handoff`.
 *
 * @example
 * new Handoff({ store, index, gossip, transport, log })
 */
export interface HandoffOptions {
  readonly store: LatticeStore;
  readonly index: DigestIndex;
  readonly gossip: Gossip;
  readonly transport: Transport;
  readonly log: (message: string, err: unknown) => void;
}

/**
 * @example
 * await handoff.pull(gossip.peers().filter((p) => p.state === 'up'));
 */
export class Handoff {
  readonly #opts: HandoffOptions;
  #shedding: Promise<number> | undefined;
  shed = 0;

  constructor(opts: HandoffOptions) {
    this.#opts = opts;
  }

  /**
   * Join: pulls from each peer, page by page, the keys this node will replicate. A peer that
   * fails is skipped (its keys have other replicas, and anti-entropy repairs the rest once we
   * are up); only when every peer fails does the join fail.
   *
   * @throws CloudburstError `KV_UNAVAILABLE`
   */
  async pull(peers: readonly Member[]): Promise<number> {
    let total = 0;
    let failed: unknown;
    let reached = 0;
    for (const peer of peers) {
      try {
        total += await this.#pullFrom(peer);
        reached++;
      } catch (err) {
        failed = err;
        this.#opts.log(`kv: could not pull from ${peer.id} while joining; anti-entropy will repair`, err);
      }
    }
    if (reached === 0 && peers.length > 0) {
      throw new CloudburstError('KV_UNAVAILABLE', 'no peer answered the join pull', undefined, { cause: failed });
    }
    return total;
  }

  /** Server side of sync: a page of our keys whose future replicas include `from`. */
  answerSync(body: unknown): { frame: Uint8Array; next: string | undefined } {
    const { gossip, store } = this.#opts;
    const b = body as { from?: unknown; members?: unknown; after?: unknown } | null;
    if (typeof b?.from !== 'string' || (b.after !== undefined && typeof b.after !== 'string')) {
      throw new CloudburstError('INVALID_REQUEST', 'expected {"from", "members", "after"?}');
    }
    // Learn that the caller is joining before we scan: from here on our pushes include it.
    gossip.merge(parseMembers(b.members));
    gossip.heard(b.from);
    const future = gossip.view.future;
    const entries: FrameEntry[] = [];
    let size = 0;
    let last: string | undefined;
    // Synchronous scan: LMDB's read snapshot is never held across an await.
    for (const [key, bytes] of store.scan(b.after)) {
      last = key;
      if (!future.replicasFor(key).some((m) => m.id === b.from)) continue;
      entries.push({ key, value: Buffer.from(bytes) });
      size += bytes.byteLength + key.length + 6;
      if (entries.length >= PAGE || size > 16 * 1024 * 1024) return { frame: encodeFrame(entries), next: last };
    }
    return { frame: encodeFrame(entries), next: undefined };
  }

  /**
   * Sends `keys` to the replicas `targetsOf` names; resolves with the keys every live target
   * acknowledged (at least one), with the bytes that were sent.
   */
  async handOver(keys: readonly string[], targetsOf: (key: string) => RingMember[]): Promise<Map<string, Uint8Array>> {
    const { gossip, transport, store, log } = this.#opts;
    const byTarget = new Map<string, { member: RingMember; keys: string[] }>();
    const need = new Map<string, number>();
    for (const key of keys) {
      const targets = targetsOf(key).filter((m) => m.id !== gossip.selfId && !gossip.isDown(m.id));
      need.set(key, targets.length);
      for (const m of targets) {
        let t = byTarget.get(m.id);
        if (!t) byTarget.set(m.id, (t = { member: m, keys: [] }));
        t.keys.push(key);
      }
    }
    const acks = new Map<string, number>();
    const sent = new Map<string, Uint8Array>();
    await Promise.all(
      [...byTarget.values()].map(async ({ member, keys: ks }) => {
        for (let i = 0; i < ks.length; i += PAGE) {
          try {
            const got = await pushValues(transport, store, gossip.selfId, member, ks.slice(i, i + PAGE), log);
            for (const [k, v] of got) {
              acks.set(k, (acks.get(k) ?? 0) + 1);
              const before = sent.get(k);
              // Keep the first bytes seen: a change in between makes drop() refuse, as it must.
              if (!before) sent.set(k, v);
            }
          } catch {
            return; // this target's remaining keys stay not handed over
          }
        }
      }),
    );
    const done = new Map<string, Uint8Array>();
    for (const [key, n] of need) {
      const bytes = sent.get(key);
      if (n > 0 && bytes && acks.get(key) === n) done.set(key, bytes);
    }
    return done;
  }

  /**
   * Shed: hands over and drops the keys this node no longer replicates under either ring.
   * Resolves with the number of such keys found (0: nothing to shed under this ring). One
   * shed at a time.
   */
  shedUnowned(maxKeys = 20_000): Promise<number> {
    this.#shedding ??= this.#shed(maxKeys).finally(() => (this.#shedding = undefined));
    return this.#shedding;
  }

  /**
   * Leave: hands every key to its future replicas, then again the keys that changed
   * meanwhile, until a pass has nothing left. Throws if some key could not be handed over.
   *
   * @throws CloudburstError `KV_UNAVAILABLE`
   */
  async handOverAll(): Promise<number> {
    const { gossip, store, index } = this.#opts;
    const dirty = new Set<string>();
    const off = store.onCommit((key, bytes) => bytes && dirty.add(key));
    try {
      let pending = index.keys().map(([k]) => k);
      let moved = 0;
      for (let pass = 0; pending.length > 0; pass++) {
        if (pass >= 20) throw new CloudburstError('KV_UNAVAILABLE', `could not hand over ${pending.length} keys; the node stays leaving`);
        dirty.clear();
        const failed: string[] = [];
        for (let i = 0; i < pending.length; i += PAGE) {
          const slice = pending.slice(i, i + PAGE);
          const done = await this.handOver(slice, (k) => gossip.view.future.replicasFor(k));
          moved += done.size;
          for (const k of slice) if (!done.has(k)) failed.push(k);
        }
        if (failed.length > 0) await new Promise((r) => setTimeout(r, 200));
        pending = [...new Set([...failed, ...dirty])];
      }
      return moved;
    } finally {
      off();
    }
  }

  async #shed(maxKeys: number): Promise<number> {
    const { gossip, index, store } = this.#opts;
    const self = gossip.selfId;
    const view = gossip.view;
    const unowned: string[] = [];
    for (const [key, token] of index.keys()) {
      if (view.placement.isReplica(self, token) || view.future.isReplica(self, token)) continue;
      if (view.hot.has(key) && view.readReplicasFor(key).some((m) => m.id === self)) continue; // an extra replica while hot
      unowned.push(key);
      if (unowned.length >= maxKeys) break;
    }
    if (unowned.length === 0) return 0;
    const targets = (key: string): RingMember[] => {
      const all = new Map<string, RingMember>();
      for (const m of view.placement.replicasFor(key)) all.set(m.id, m);
      for (const m of view.future.replicasFor(key)) all.set(m.id, m);
      return [...all.values()];
    };
    // Only when every replica is up: a down one may be the only other copy's holder later.
    const live = (key: string): RingMember[] => {
      const t = targets(key);
      return t.every((m) => !gossip.isDown(m.id)) ? t : [];
    };
    const done = await this.handOver(unowned, live);
    let dropped = 0;
    for (const [key, bytes] of done) {
      if (gossip.view !== view) break; // the ring moved again: decide afresh next time
      if (await store.drop(key, bytes, ORIGINS.handoff)) dropped++;
    }
    this.shed += dropped;
    return unowned.length;
  }

  async #pullFrom(peer: Member): Promise<number> {
    const { gossip, transport, store } = this.#opts;
    let after: string | undefined;
    let total = 0;
    do {
      const body = { from: gossip.selfId, members: gossip.view.members(), ...(after !== undefined ? { after } : {}) };
      const reply = await transport.request(peer.url, {
        method: 'POST',
        path: KV_PATHS.sync,
        body: Buffer.from(JSON.stringify(body), 'utf8'),
        contentType: KV_CONTENT_TYPES.json,
        headers: { [KV_HEADERS.from]: gossip.selfId },
        timeoutMs: 30_000,
      });
      if (reply.status !== 200) throw errorOf(reply);
      total += await mergeEntries(store, decodeFrame(reply.body, REPAIR_MAX_ENTRIES), ORIGINS.sync);
      const next = reply.headers[KV_HEADERS.next];
      after = typeof next === 'string' ? decodeURIComponent(next) : undefined;
    } while (after !== undefined);
    return total;
  }
}
