/**
 * The client hosts use to talk to the KV tier: one node or a cluster. It learns the ring
 * from `GET /kv/v1/ring` (first from `url`/`seeds`), routes each key to its replicas and
 * refreshes the ring whenever a node answers with another ring version.
 *
 * Writes go to all N replicas in parallel and resolve after W acknowledgements (a 409
 * KV_RING_VERSION merges the node's ring and retries). Reads go to one replica, live ones
 * first, hedged to the next after `hedgeMs`, and fall back on failure or 404 until enough
 * replicas said "absent" (N - W + 1, so that no acknowledged write can be missed). Every
 * failure is a CloudburstError: transport problems, timeouts and a missed quorum are
 * KV_UNAVAILABLE (never KV_RING_VERSION, which is retried here), error responses carry
 * the node's own code. Against a single node this behaves exactly like a plain client.
 */
import { ClientRing } from './cluster/client-ring.ts';
import { Seeds, type Lookup } from './seeds.ts';
import type { RingInfo } from './cluster/gossip.ts';
import type { Membership } from './cluster/membership.ts';
import type { RingMember } from './cluster/ring.ts';
import { CloudburstError } from '../common/index.ts';
import { decode, encode } from './lattice/codec.ts';
import type { Lattice } from './lattice/registry.ts';
import { checkKey, KV_LIMITS } from './protocol.ts';
import { Transport, type Reply, type RequestSpec } from './transport.ts';
import type { WireMode } from './wire/mode.ts';
import { readMany, subscribeMany, unavailable, writeMany, type BatchItem } from './client-batch.ts';
import { readAll, readOne, writeOne } from './client-key.ts';

/**
 * Options of `KvClient`. Give `url` (one node, or any node of a cluster) or `seeds`.
 *
 * @example
 * const opts: KvClientOptions = { seeds: ['http://10.0.0.1:7100', 'http://10.0.0.2:7100'], timeoutMs: 2000 };
 */
export interface KvClientOptions {
  /** A node's origin, e.g. `http://127.0.0.1:7100`. */
  readonly url?: string;
  /**
   * Nodes to learn the ring from (any of them; tried in order). A name resolving to several
   * addresses (a headless Service) stands for all of them (kvs/seeds.ts).
   */
  readonly seeds?: readonly string[];
  /** The resolver of the seeds' names (default the system's `dns.lookup`). */
  readonly lookup?: Lookup;
  /** Keep-alive connections per node (default 16). */
  readonly connections?: number;
  /** Deadline of each operation, retries and queueing included (default 5000). */
  readonly timeoutMs?: number;
  /** Acknowledgements a write waits for (default: the cluster's, a majority of N). */
  readonly writeQuorum?: number;
  /** A read that has no answer after this long also asks the next replica (default 50 ms). */
  readonly hedgeMs?: number;
  /** Called when the ring changes (re-subscribe keys: their replicas may have moved). */
  readonly onRingChange?: (version: string) => void;
  /** PEM CA certificate(s) trusted besides the system's, for nodes reached over TLS. */
  readonly ca?: Buffer | undefined;
  /** The cluster credential every request is signed with (kvs/README.md, "Authentication"). */
  readonly clusterSecret?: Buffer | undefined;
  /**
   * The wire of the data operations: `binary` (default, or CLOUDBURST_KV_WIRE) over the node's
   * upgraded sockets where it takes them, else HTTP; `http` only HTTP (kvs/README.md, "Binary wire").
   */
  readonly wire?: WireMode | undefined;
}

/** The context client-key.ts and client-batch.ts work in. */
export interface ClientCore {
  readonly ring: ClientRing;
  send(member: RingMember, spec: RequestSpec, deadline: number): Promise<Reply>;
  writeQuorum(view: Membership, n: number): number;
  readonly timeoutMs: number;
  readonly hedgeMs: number;
}

/**
 * Talks to the KV tier.
 *
 * @example
 * const kv = new KvClient({ url: node.url });
 * await kv.merge('k', counter.add(undefined, 'host-1', 1n));
 * const v = await kv.get('k');
 * await kv.close();
 */
export class KvClient {
  /** The first node it was given. */
  readonly url: string;
  readonly #transport: Transport;
  readonly #ring: ClientRing;
  readonly #timeoutMs: number;
  readonly #writeQuorum: number | undefined;
  readonly #hedgeMs: number;
  readonly #core: ClientCore;

  constructor(opts: KvClientOptions) {
    const seeds = [...(opts.url ? [opts.url] : []), ...(opts.seeds ?? [])];
    this.url = seeds[0] ?? '';
    this.#timeoutMs = opts.timeoutMs ?? 5000;
    this.#writeQuorum = opts.writeQuorum;
    this.#hedgeMs = opts.hedgeMs ?? 50;
    this.#transport = new Transport({ connections: opts.connections ?? 16, timeoutMs: this.#timeoutMs, ca: opts.ca, clusterSecret: opts.clusterSecret, wire: opts.wire });
    this.#ring = new ClientRing(this.#transport, new Seeds(seeds, opts.lookup ? { lookup: opts.lookup } : {}), opts.onRingChange);
    this.#core = {
      ring: this.#ring,
      send: (m, spec, deadline) => this.#send(m, spec, deadline),
      writeQuorum: (view, n) => this.#quorumOf(view, n),
      timeoutMs: this.#timeoutMs,
      hedgeMs: this.#hedgeMs,
    };
  }

  /** The ring version this client routes by (undefined before its first request). */
  get ringVersion(): string | undefined {
    return this.#ring.view?.version;
  }

  /**
   * The ring: members, replication, write quorum, and which nodes the last answering node
   * thinks are down. Fetches it fresh.
   *
   * @example
   * const { members, version } = await kv.ring();
   */
  async ring(): Promise<RingInfo> {
    await this.#ring.ensure();
    await this.#ring.refresh().catch(() => undefined);
    return this.#ring.info!;
  }

  /**
   * The value of `key`, or undefined when no replica has one. Deleted keys come back as
   * their tombstone (see `isDeleted`).
   *
   * @example
   * const v = await kv.get('default/k/x');
   */
  async get(key: string): Promise<Lattice | undefined> {
    const bytes = await this.getEncoded(key);
    return bytes === undefined ? undefined : decode(bytes);
  }

  /**
   * The encoded value of `key` from one replica (live first, hedged), or undefined.
   *
   * @example
   * const bytes = await kv.getEncoded('k');
   */
  async getEncoded(key: string): Promise<Uint8Array | undefined> {
    return readOne(this.#core, key);
  }

  /**
   * "Read all": the merge of every replica's value (at least N - W + 1 must answer).
   *
   * @example
   * const fresh = await kv.getFresh('k');
   */
  async getFresh(key: string): Promise<Lattice | undefined> {
    return readAll(this.#core, key);
  }

  /**
   * Merges `value` into `key` on its replicas and returns the merged value once W of them
   * made it durable.
   *
   * @throws CloudburstError the node's error for a bad value (KV_TYPE_MISMATCH...), or
   *   KV_UNAVAILABLE when W replicas did not acknowledge in time.
   * @example
   * const merged = await kv.merge('k', lww.write(bytes, hlc.now()));
   */
  async merge(key: string, value: Lattice): Promise<Lattice> {
    return writeOne(this.#core, key, value);
  }

  /**
   * Merges many entries, grouped per replica set; each group goes to its replicas in
   * parallel (split over the frame limits). Returns, aligned with `entries`, null for an
   * entry W replicas acknowledged, or the error that made it fail (the node's own for a bad
   * value, KV_UNAVAILABLE for a missed quorum). Rejects with KV_UNAVAILABLE only when no
   * entry could be written at all. Retrying is safe: merges are idempotent. `extraMs` gives
   * the batch that much more than the client's timeout (large values take time to move). An
   * entry may carry its value already encoded (`bytes`), as a host's cache holds it.
   * `origin` is the writer's subscriber URL: a node does not push back a change that is
   * exactly the bytes this writer sent (it holds them already).
   *
   * @example
   * const errors = await kv.mergeBatch([{ key: 'a', value: x }, { key: 'b', bytes: encode(y) }]);
   */
  async mergeBatch(
    entries: readonly ({ key: string; value: Lattice } | { key: string; bytes: Uint8Array })[],
    opts: { extraMs?: number; origin?: string | undefined } = {},
  ): Promise<(CloudburstError | null)[]> {
    const results: (CloudburstError | null)[] = new Array(entries.length).fill(null);
    const items: BatchItem[] = [];
    entries.forEach((entry, i) => {
      const { key } = entry;
      try {
        checkKey(key);
        const bytes = 'bytes' in entry ? entry.bytes : encode(entry.value);
        if (bytes.byteLength > KV_LIMITS.maxValueBytes) throw new CloudburstError('KV_VALUE_TOO_LARGE');
        items.push({ slot: i, key, bytes });
      } catch (err) {
        if (!(err instanceof CloudburstError)) throw err;
        results[i] = err;
      }
    });
    if (items.length === 0) return results;
    const outcome = await writeMany(this.#core, items, Date.now() + this.#timeoutMs + (opts.extraMs ?? 0), opts.origin);
    for (const [slot, err] of outcome) results[slot] = err;
    if (items.every((it) => outcome.get(it.slot)?.code === 'KV_UNAVAILABLE')) throw outcome.get(items[0]!.slot)!;
    return results;
  }

  /**
   * The values of `keys`, aligned with them (undefined where no replica has one).
   *
   * @example
   * const [a, b] = await kv.getBatch(['a', 'b']);
   */
  async getBatch(keys: readonly string[]): Promise<(Lattice | undefined)[]> {
    for (const key of keys) checkKey(key);
    if (keys.length === 0) return [];
    const bytes = await readMany(this.#core, keys, Date.now() + this.#timeoutMs);
    return bytes.map((b) => (b === undefined ? undefined : decode(b)));
  }

  /**
   * Like `getBatch`, but a key that none of its replicas could answer for (its nodes are
   * down) does not fail the others: it is listed in `unreadable`, and its value is undefined.
   *
   * @example
   * const { values, unreadable } = await kv.getSome(['a', 'b']);
   */
  async getSome(keys: readonly string[]): Promise<{ values: (Lattice | undefined)[]; unreadable: string[] }> {
    for (const key of keys) checkKey(key);
    if (keys.length === 0) return { values: [], unreadable: [] };
    const failed = new Set<number>();
    const bytes = await readMany(this.#core, keys, Date.now() + this.#timeoutMs, failed);
    return { values: bytes.map((b) => (b === undefined ? undefined : decode(b))), unreadable: [...failed].sort((a, b) => a - b).map((i) => keys[i]!) };
  }

  /**
   * Subscribes `subscriber` (a host's base URL) to changes of `keys` for `ttlMs` (a lease:
   * call again to renew). The keys' replicas then push every merged change to
   * `POST {subscriber}/v1/internal/kv/push` as a merge frame. Resolves once every key is
   * subscribed on at least one of its replicas.
   *
   * @throws CloudburstError `KV_UNAVAILABLE` when some key reached none of its replicas.
   * @example
   * await kv.subscribe('http://127.0.0.1:7070', ['default/k/a'], 30_000);
   */
  async subscribe(subscriber: string, keys: readonly string[], ttlMs = 30_000): Promise<void> {
    const { missed, cause } = await subscribeMany(this.#core, subscriber, keys, { ttlMs }, Date.now() + this.#timeoutMs);
    if (missed.length > 0) throw unavailable(`subscription of ${missed.length} of ${keys.length} keys`, [cause], 0);
  }

  /**
   * Like `subscribe`, but resolves with the keys that reached none of their replicas instead
   * of failing: the others are subscribed (a host keeps its cache fresh for the keys of the
   * nodes that answer while another is down). `onCovered` is told of keys as soon as one of
   * their replicas took the lease, before slower nodes answer or time out.
   *
   * @example
   * const missed = await kv.subscribeSome('http://127.0.0.1:7070', ['default/k/a'], 30_000);
   */
  async subscribeSome(subscriber: string, keys: readonly string[], ttlMs = 30_000, onCovered?: (keys: string[]) => void): Promise<string[]> {
    return (await subscribeMany(this.#core, subscriber, keys, { ttlMs }, Date.now() + this.#timeoutMs, onCovered)).missed;
  }

  /**
   * Ends `subscriber`'s subscriptions to `keys` (best effort: leases expire anyway).
   *
   * @example
   * await kv.unsubscribe('http://127.0.0.1:7070', ['default/k/a']);
   */
  async unsubscribe(subscriber: string, keys: readonly string[]): Promise<void> {
    const { missed, cause } = await subscribeMany(this.#core, subscriber, keys, { unsubscribe: true }, Date.now() + this.#timeoutMs);
    if (missed.length > 0) throw unavailable(`unsubscription of ${missed.length} of ${keys.length} keys`, [cause], 0);
  }

  /**
   * Closes the connections (after in-flight requests finish).
   *
   * @example
   * await kv.close();
   */
  async close(): Promise<void> {
    await this.#transport.close();
  }

  #quorumOf(view: Membership, n: number): number {
    if (n === 0) return 0;
    return this.#writeQuorum !== undefined ? Math.max(1, Math.min(this.#writeQuorum, n)) : view.writeQuorum(n);
  }

  // One request to one member within the operation's deadline; feeds liveness and ring version.
  async #send(member: RingMember, spec: RequestSpec, deadline: number): Promise<Reply> {
    const url = this.#ring.urlOf(member);
    const remaining = Math.max(1, deadline - Date.now());
    try {
      const reply = await this.#transport.request(url, { ...spec, timeoutMs: remaining });
      if (reply.status === 503) this.#ring.suspect(member.id);
      else this.#ring.alive(member.id);
      this.#ring.observe(reply, url);
      return reply;
    } catch (err) {
      this.#ring.suspect(member.id);
      if (err instanceof CloudburstError && remaining < this.#timeoutMs && /did not answer within/.test(err.message)) {
        throw new CloudburstError('KV_UNAVAILABLE', `the KV node at ${url} did not answer within ${this.#timeoutMs} ms`, undefined, { cause: err });
      }
      throw err;
    }
  }
}
