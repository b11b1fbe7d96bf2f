/**
 * Replica push: every change a node commits from a client write is sent to the key's other
 * replicas (placement and future rings, so a joining node gets writes of its ranges while it
 * pulls the rest, and a leaving node's writes reach their next home) in batches gathered over
 * `delayMs`. The client already writes to every replica; the push covers the replicas the
 * client did not reach (it stops at W acknowledgements, or a replica was briefly away).
 *
 * A push that fails, or is for a peer down in our view, becomes a durable hint, delivered
 * when the peer is heard from again. Changes that came from peers (pushes, anti-entropy,
 * sync) are not pushed on: their sender is responsible for them, and anti-entropy covers
 * the rest.
 */
import { CloudburstError } from '../../common/index.ts';
import { encodeFrame, KV_CONTENT_TYPES, KV_HEADERS, KV_PATHS, type FrameEntry } from '../protocol.ts';
import type { LatticeStore } from '../store.ts';
import type { Transport } from '../transport.ts';
import { KeyBatcher } from './batcher.ts';
import type { Gossip } from './gossip.ts';
import type { Hints } from './hints.ts';
import type { Member } from './membership.ts';
import type { RingMember } from './ring.ts';

/** Store origins: who caused a commit. Only `client` commits are pushed to other replicas. */
export const ORIGINS = { client: 'client', peer: 'peer', repair: 'repair', sync: 'sync', handoff: 'handoff' } as const;

/** Keys per push request. */
const PUSH_BATCH = 2000;

/**
 * The replicas of `key` other than `self`: placement and future rings together, and a hot
 * key's extra read replicas.
 *
 * @example
 * for (const m of replicaTargets(gossip, key)) queue(m.id, key);
 */
export function replicaTargets(gossip: Gossip, key: string): RingMember[] {
  const view = gossip.view;
  const out = new Map<string, RingMember>();
  for (const m of view.readReplicasFor(key)) out.set(m.id, m);
  for (const m of view.future.replicasFor(key)) out.set(m.id, m);
  out.delete(gossip.selfId);
  return [...out.values()];
}

/**
 * Sends `keys`' current values to `member` through the push route; resolves with the keys
 * it acknowledged (entries it refused for their content count as acknowledged: resending
 * will not change the answer; they are logged).
 *
 * @throws CloudburstError `KV_UNAVAILABLE` when the member cannot be reached or answers an error.
 */
export async function pushValues(
  transport: Transport,
  store: LatticeStore,
  self: string,
  member: Pick<Member, 'id' | 'url'>,
  keys: readonly string[],
  log: (message: string, err: unknown) => void,
): Promise<Map<string, Uint8Array>> {
  const sent = new Map<string, Uint8Array>();
  const entries: FrameEntry[] = [];
  for (const key of keys) {
    const value = store.getEncoded(key);
    if (value === undefined) continue;
    sent.set(key, value);
    entries.push({ key, value });
  }
  if (entries.length === 0) return sent;
  const reply = await transport.request(member.url, {
    method: 'POST',
    path: KV_PATHS.push,
    body: encodeFrame(entries),
    contentType: KV_CONTENT_TYPES.frame,
    headers: { [KV_HEADERS.from]: self },
    timeoutMs: 3000,
  });
  if (reply.status !== 200) throw new CloudburstError('KV_UNAVAILABLE', `${member.id} answered ${reply.status} to a push`);
  const results = (JSON.parse(reply.body.toString('utf8')) as { results?: unknown[] }).results ?? [];
  results.forEach((r, i) => {
    if (r !== null) log(`kv: ${member.id} refused ${entries[i]?.key} in a push`, r);
  });
  return sent;
}

/**
 * Options of `Replicator`.
 *
 * @example
 * new Replicator({ store, gossip, hints, transport, delayMs: 10, log })
 */
export interface ReplicatorOptions {
  readonly store: LatticeStore;
  readonly gossip: Gossip;
  readonly hints: Hints;
  readonly transport: Transport;
  readonly delayMs: number;
  readonly log: (message: string, err: unknown) => void;
}

/**
 * @example
 * const replicator = new Replicator(opts); // hooks the store's commits
 * await replicator.deliverHints('kv-2');
 */
export class Replicator {
  readonly #opts: ReplicatorOptions;
  readonly #batcher: KeyBatcher;
  readonly #delivering = new Set<string>();
  readonly #off: () => void;
  pushed = 0;

  constructor(opts: ReplicatorOptions) {
    this.#opts = opts;
    this.#batcher = new KeyBatcher({
      delayMs: opts.delayMs,
      maxBatch: PUSH_BATCH,
      send: (peer, keys) => this.#send(peer, keys),
      onFailure: (peer, keys) => {
        opts.hints.add(peer, keys);
        return 'drop';
      },
    });
    this.#off = opts.store.onCommit((key, bytes, origin) => {
      if (bytes !== undefined && origin === ORIGINS.client) this.#changed(key);
    });
  }

  /** Sends `peer` every key it missed, in batches; stops at the first failure. */
  async deliverHints(peer: string): Promise<void> {
    const { hints, gossip, transport, store, log } = this.#opts;
    if (this.#delivering.has(peer) || hints.count(peer) === 0) return;
    const member = gossip.view.get(peer);
    if (!member || member.state === 'left') {
      hints.clear(peer);
      return;
    }
    this.#delivering.add(peer);
    try {
      for (;;) {
        const keys = hints.take(peer, PUSH_BATCH);
        if (keys.length === 0) return;
        await pushValues(transport, store, gossip.selfId, member, keys, log);
        hints.remove(peer, keys);
        this.pushed += keys.length;
      }
    } catch {
      // Still unreachable: the hints stay for the next attempt.
    } finally {
      this.#delivering.delete(peer);
    }
  }

  /** Queues `key` for every other replica now (a key that just became hot). */
  fanOut(key: string): void {
    this.#changed(key);
  }

  /** Resolves once queued pushes were sent or turned into hints. */
  idle(): Promise<void> {
    return this.#batcher.idle();
  }

  close(): void {
    this.#off();
    this.#batcher.close();
  }

  #changed(key: string): void {
    const { gossip, hints } = this.#opts;
    if (gossip.view.size <= 1) return; // alone: nobody to push to
    for (const target of replicaTargets(gossip, key)) {
      if (gossip.isDown(target.id)) hints.add(target.id, [key]);
      else this.#batcher.enqueue(target.id, key);
    }
  }

  async #send(peer: string, keys: string[]): Promise<void> {
    const { gossip, transport, store, hints, log } = this.#opts;
    const member = gossip.view.get(peer);
    if (!member || member.state === 'left') return;
    if (gossip.isDown(peer)) {
      hints.add(peer, keys);
      return;
    }
    await pushValues(transport, store, gossip.selfId, member, keys, log);
    this.pushed += keys.length;
  }
}
