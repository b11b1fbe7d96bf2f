/**
 * Anti-entropy: what repairs everything pushes missed (a node back from a crash, a pause or
 * a partition; a push lost with its hint). Periodically, and right after a peer comes back,
 * a node sends a peer the digest of the keys they both replicate (digest.ts); the peer
 * answers which buckets differ; the node then sends its values for those buckets and gets
 * the peer's merged values back. One exchange leaves both with identical values for every
 * key of those buckets (barring writes during it, which the next round catches).
 *
 * Both sides must compute "the keys we share" from the same ring, so a digest carries the
 * sender's ring version and a peer with another version answers 409 KV_RING_VERSION with its
 * ring; gossip converges the two within a heartbeat and the next round proceeds.
 */
import { Buffer } from 'node:buffer';
import { CloudburstError } from '../../common/index.ts';
import { decode } from '../lattice/codec.ts';
import type { Lattice } from '../lattice/registry.ts';
import { checkKey, decodeFrame, encodeFrame, KV_CONTENT_TYPES, KV_HEADERS, KV_PATHS, type FrameEntry } from '../protocol.ts';
import type { LatticeStore } from '../store.ts';
import { errorOf, jsonOf, type Transport } from '../transport.ts';
import { DIGEST_BUCKETS, differingBuckets, digestFromWire, digestToWire, type DigestIndex } from './digest.ts';
import type { Gossip } from './gossip.ts';
import { parseMembers, type Member } from './membership.ts';
import { ORIGINS } from './replicator.ts';

/** Keys per repair request, about (buckets are grouped up to this many of our keys). */
const REPAIR_KEYS = 4000;
/** A repair frame may hold more entries than a client batch. */
export const REPAIR_MAX_ENTRIES = 1_000_000;

/** The outcome of one exchange. */
export interface ExchangeResult {
  readonly buckets: number;
  readonly sent: number;
  readonly received: number;
}

/**
 * Options of `AntiEntropy`.
 *
 * @example
 * new AntiEntropy({ store, index, gossip, transport, log })
 */
export interface AntiEntropyOptions {
  readonly store: LatticeStore;
  readonly index: DigestIndex;
  readonly gossip: Gossip;
  readonly transport: Transport;
  readonly log: (message: string, err: unknown) => void;
}

/** The 409 a node answers when the caller's ring differs from its own. */
export function ringMismatch(gossip: Gossip, theirs: unknown): CloudburstError {
  return new CloudburstError('KV_RING_VERSION', `ring version ${String(theirs)} differs from this node's ${gossip.view.version}`, {
    ring: gossip.info(),
  });
}

/**
 * Merges a frame's valid entries with `origin`; malformed entries are skipped (logged by
 * the caller if it cares). Resolves once committed.
 */
export async function mergeEntries(store: LatticeStore, entries: readonly FrameEntry[], origin: string): Promise<number> {
  const valid: { key: string; value: Lattice }[] = [];
  for (const e of entries) {
    try {
      if (e.value) valid.push({ key: checkKey(e.key), value: decode(e.value) });
    } catch {
      // A peer sent something we cannot take; the digest will keep differing, visibly.
    }
  }
  await store.mergeMany(valid, origin);
  return valid.length;
}

function parseBuckets(raw: unknown): Set<number> {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > DIGEST_BUCKETS * 4) {
    throw new CloudburstError('INVALID_REQUEST', 'expected a comma-separated list of bucket numbers');
  }
  const out = new Set<number>();
  for (const part of raw.split(',')) {
    const n = Number(part);
    if (!Number.isInteger(n) || n < 0 || n >= DIGEST_BUCKETS) throw new CloudburstError('INVALID_REQUEST', `bad bucket ${part}`);
    out.add(n);
  }
  return out;
}

/**
 * @example
 * const ae = new AntiEntropy(opts);
 * const { buckets } = await ae.exchange(peer);
 */
export class AntiEntropy {
  readonly #opts: AntiEntropyOptions;
  readonly #running = new Map<string, Promise<ExchangeResult>>();
  rounds = 0;
  repairedKeys = 0;

  constructor(opts: AntiEntropyOptions) {
    this.#opts = opts;
  }

  /** One exchange with `peer` (joined to a running one, if any). */
  exchange(peer: Member): Promise<ExchangeResult> {
    let run = this.#running.get(peer.id);
    if (!run) {
      run = this.#exchange(peer).finally(() => this.#running.delete(peer.id));
      this.#running.set(peer.id, run);
    }
    return run;
  }

  /** Whether an exchange with `peer` is running. */
  busy(peer: string): boolean {
    return this.#running.has(peer);
  }

  /** Server side of the digest step: which buckets differ from the caller's digest. */
  answerDigest(body: unknown): { differ: number[] } {
    const { gossip, index } = this.#opts;
    const b = body as { from?: unknown; ring?: unknown; digest?: unknown } | null;
    const theirs = digestFromWire(b?.digest);
    if (typeof b?.from !== 'string' || !theirs) throw new CloudburstError('INVALID_REQUEST', 'expected {"from", "ring", "digest"}');
    if (b.ring !== gossip.view.version) throw ringMismatch(gossip, b.ring);
    gossip.heard(b.from);
    return { differ: differingBuckets(index.digest(gossip.selfId, b.from, gossip.view.placement), theirs) };
  }

  /**
   * Server side of the repair step: merges the caller's entries, then answers our (merged)
   * values of the shared keys in those buckets.
   */
  async answerRepair(from: unknown, ring: unknown, buckets: unknown, body: Uint8Array): Promise<Uint8Array> {
    const { gossip, index, store } = this.#opts;
    if (typeof from !== 'string' || from.length === 0) throw new CloudburstError('INVALID_REQUEST', `a repair needs ${KV_HEADERS.from}`);
    const wanted = parseBuckets(buckets);
    if (ring !== gossip.view.version) throw ringMismatch(gossip, ring);
    const received = decodeFrame(body, REPAIR_MAX_ENTRIES);
    this.repairedKeys += await mergeEntries(store, received, ORIGINS.repair);
    const keys = index.keysIn(gossip.selfId, from, gossip.view.placement, wanted);
    return encodeFrame(valuesOf(store, keys));
  }

  async #exchange(peer: Member): Promise<ExchangeResult> {
    const { gossip, index, transport, store } = this.#opts;
    const self = gossip.selfId;
    const view = gossip.view;
    const ring = view.placement;
    this.rounds++;
    const digest = index.digest(self, peer.id, ring);
    const body = Buffer.from(JSON.stringify({ from: self, ring: view.version, digest: digestToWire(digest) }), 'utf8');
    const reply = await transport.request(peer.url, {
      method: 'POST',
      path: KV_PATHS.digest,
      body,
      contentType: KV_CONTENT_TYPES.json,
      headers: { [KV_HEADERS.from]: self },
      timeoutMs: 3000,
    });
    if (reply.status !== 200) throw this.#absorb(errorOf(reply));
    gossip.heard(peer.id);
    const differ = (jsonOf(reply) as { differ?: unknown }).differ;
    if (!Array.isArray(differ) || differ.some((n) => !Number.isInteger(n) || n < 0 || n >= DIGEST_BUCKETS)) {
      throw new CloudburstError('INTERNAL', `${peer.id} answered a digest with a malformed bucket list`);
    }
    let sent = 0;
    let received = 0;
    const sizes = index.bucketSizes(self, peer.id, ring);
    for (const group of groupBuckets(differ as number[], sizes)) {
      const keys = index.keysIn(self, peer.id, ring, new Set(group));
      const frame = valuesOf(store, keys);
      const r = await transport.request(peer.url, {
        method: 'POST',
        path: KV_PATHS.repair,
        body: encodeFrame(frame),
        contentType: KV_CONTENT_TYPES.frame,
        headers: { [KV_HEADERS.from]: self, [KV_HEADERS.ringVersion]: view.version, [KV_HEADERS.buckets]: group.join(',') },
        timeoutMs: 10_000,
      });
      if (r.status !== 200) throw this.#absorb(errorOf(r));
      const theirs = decodeFrame(r.body, REPAIR_MAX_ENTRIES);
      received += await mergeEntries(store, theirs, ORIGINS.repair);
      sent += frame.length;
    }
    this.repairedKeys += received;
    return { buckets: differ.length, sent, received };
  }

  // A 409 carries the peer's ring: merge it now rather than wait for the next heartbeat.
  #absorb(err: CloudburstError): CloudburstError {
    const ring = err.details?.['ring'] as { members?: unknown } | undefined;
    if (err.code === 'KV_RING_VERSION' && ring) {
      try {
        this.#opts.gossip.merge(parseMembers(ring.members));
      } catch {
        // Malformed: ignore, gossip will bring the ring.
      }
    }
    return err;
  }
}

/** The committed values of `keys` (absent keys skipped), as frame entries. */
export function valuesOf(store: LatticeStore, keys: readonly string[]): FrameEntry[] {
  const out: FrameEntry[] = [];
  for (const key of keys) {
    const value = store.getEncoded(key);
    if (value) out.push({ key, value });
  }
  return out;
}

// Groups differing buckets so that each repair request carries about REPAIR_KEYS keys.
function groupBuckets(buckets: readonly number[], sizes: Uint32Array): number[][] {
  const groups: number[][] = [];
  let cur: number[] = [];
  let n = 0;
  for (const b of buckets) {
    if (cur.length > 0 && n + sizes[b]! > REPAIR_KEYS) {
      groups.push(cur);
      cur = [];
      n = 0;
    }
    cur.push(b);
    n += sizes[b]!;
  }
  if (cur.length > 0) groups.push(cur);
  return groups;
}
