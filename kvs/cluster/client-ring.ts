/**
 * The client's view of the cluster: the membership lattice learned from `GET /kv/v1/ring`
 * (first from the seeds), refreshed whenever a node answers with another ring version, and
 * merged from the ring carried by a 409 KV_RING_VERSION. Seeds given by name (kvs/seeds.ts)
 * are resolved to every address, again when their last lookup is over 10 s old and after no
 * seed answered. Plus a local opinion of liveness:
 * a node that just failed or timed out is suspect for a while, and the ring's `down` list
 * (the answering node's failure detector) marks nodes to try last.
 */
import { CloudburstError } from '../../common/index.ts';
import { KV_HEADERS, KV_PATHS } from '../protocol.ts';
import { errorOf, jsonOf, type Reply, type Transport } from '../transport.ts';
import type { RingInfo } from './gossip.ts';
import { Membership, parseMembers } from './membership.ts';
import type { RingMember } from './ring.ts';
import type { Seeds } from '../seeds.ts';

/** How long a node that failed is tried last. */
const SUSPECT_MS = 2000;
/** At most one background refresh per this period. */
const REFRESH_GAP_MS = 250;

/**
 * @example
 * const ring = new ClientRing(transport, new Seeds(['http://127.0.0.1:7100']));
 * const view = await ring.ensure();
 * const replicas = ring.order(view.placement.replicasFor(key));
 */
export class ClientRing {
  readonly #transport: Transport;
  readonly #seeds: Seeds;
  readonly #onChange: ((version: string) => void) | undefined;
  #view: Membership | undefined;
  #info: RingInfo | undefined;
  /** id -> the URL that answered as that node, and the URL the node announced then. */
  readonly #urls = new Map<string, { via: string; announced: string | undefined }>();
  readonly #suspectUntil = new Map<string, number>();
  #remoteDown = new Set<string>();
  #discovering: Promise<Membership> | undefined;
  #refreshing: Promise<void> | undefined;
  #lastRefresh = 0;

  constructor(transport: Transport, seeds: Seeds, onChange?: (version: string) => void) {
    if (seeds.given.length === 0) throw new CloudburstError('INVALID_REQUEST', 'a KvClient needs `url` or `seeds`');
    this.#transport = transport;
    this.#seeds = seeds;
    this.#onChange = onChange;
  }

  /** The current view, or undefined before the first discovery. */
  get view(): Membership | undefined {
    return this.#view;
  }

  /** The last ring document a node sent, with our merged members. */
  get info(): RingInfo | undefined {
    return this.#info && this.#view ? { ...this.#info, version: this.#view.version, members: this.#view.members() } : this.#info;
  }

  /**
   * The view, discovering it from the seeds first if needed (each seed in turn).
   *
   * @throws CloudburstError `KV_UNAVAILABLE` when no seed answers.
   */
  ensure(): Promise<Membership> {
    if (this.#view) return Promise.resolve(this.#view);
    this.#discovering ??= this.#discover().finally(() => (this.#discovering = undefined));
    return this.#discovering;
  }

  /**
   * Where to reach `member`: the URL that answered as it (while it announces the same URL as
   * then: a node that moved is reached where it says), else the one it announces.
   */
  urlOf(member: RingMember): string {
    const seen = this.#urls.get(member.id);
    return seen && seen.announced === member.url ? seen.via : member.url;
  }

  /** Replicas in the order to try them: live first, then down in a node's view, then suspect. */
  order(replicas: readonly RingMember[]): RingMember[] {
    const rank = (m: RingMember): number => (this.#failedRecently(m.id) ? 2 : this.#remoteDown.has(m.id) ? 1 : 0);
    return replicas.map((m, i) => ({ m, i, r: rank(m) })).sort((a, b) => a.r - b.r || a.i - b.i).map((x) => x.m);
  }

  /**
   * The replicas to read `key` from, in order (live first; a hot key's reads spread over all
   * its read replicas at random), and the ids of its home (placement) replicas.
   *
   * @example
   * const { replicas, home } = ring.readOrder(view, key);
   */
  readOrder(view: Membership, key: string): { replicas: RingMember[]; home: Set<string> } {
    const placement = view.placement.replicasFor(key);
    const home = new Set(placement.map((m) => m.id));
    if (!view.hot.has(key)) return { replicas: this.order(placement), home };
    const all = view.readReplicasFor(key);
    const start = Math.floor(Math.random() * all.length);
    return { replicas: this.order([...all.slice(start), ...all.slice(0, start)]), home };
  }

  /** Whether `id` failed recently, or a node reported it down. */
  isSuspect(id: string): boolean {
    return this.#failedRecently(id) || this.#remoteDown.has(id);
  }

  #failedRecently(id: string): boolean {
    const until = this.#suspectUntil.get(id);
    return until !== undefined && until > Date.now();
  }

  /** `id` failed or timed out: try it last for a while, and ask the ring what it knows. */
  suspect(id: string): void {
    this.#suspectUntil.set(id, Date.now() + SUSPECT_MS);
    this.refreshSoon();
  }

  /** `id` answered: it is not suspect any more. */
  alive(id: string): void {
    this.#suspectUntil.delete(id);
  }

  /** Looks at a reply's ring version header and refreshes the view in the background if it differs. */
  observe(reply: Reply, url: string): void {
    const v = reply.headers[KV_HEADERS.ringVersion];
    if (typeof v === 'string' && this.#view && v !== this.#view.version) this.refreshSoon(url);
  }

  /** Merges a ring document (a ring response, the body of a 409); returns whether the view changed. */
  absorb(info: unknown, answeredBy?: string): boolean {
    const doc = info as Partial<RingInfo> | null;
    const members = parseMembers(doc?.members);
    const before = this.#view;
    const next = (before ?? Membership.of([])).merge(Membership.of(members));
    if (answeredBy && typeof doc?.node === 'string') this.#urls.set(doc.node, { via: answeredBy, announced: next.get(doc.node)?.url });
    if (Array.isArray(doc?.down)) this.#remoteDown = new Set(doc.down.filter((d): d is string => typeof d === 'string'));
    this.#info = doc as RingInfo;
    this.#view = next;
    const changed = before === undefined || next.version !== before.version;
    if (changed && before !== undefined) this.#onChange?.(next.version);
    return changed;
  }

  /** Absorbs the ring carried by a 409 KV_RING_VERSION; returns whether the view changed. */
  absorbError(err: CloudburstError): boolean {
    const ring = err.details?.['ring'];
    if (ring === undefined) return false;
    try {
      return this.absorb(ring);
    } catch {
      return false;
    }
  }

  /** Refreshes the view from `url` (or any live member) in the background, rate-limited. */
  refreshSoon(url?: string): void {
    if (this.#refreshing || Date.now() - this.#lastRefresh < REFRESH_GAP_MS) return;
    this.#lastRefresh = Date.now();
    this.#refreshing = this.refresh(url)
      .catch(() => undefined)
      .finally(() => (this.#refreshing = undefined));
  }

  /**
   * Fetches the ring from `url`, or from the first live member or seed that answers (the seeds'
   * names looked up again when none does).
   */
  async refresh(url?: string): Promise<void> {
    const members = (this.#view?.placement.members ?? []).filter((m) => !this.isSuspect(m.id)).map((m) => this.urlOf(m));
    const last = await this.#first(url ? [url] : [...members, ...(await this.#seeds.urls())]);
    if (last === undefined) return;
    if (url === undefined && this.#seeds.hasNames && (await this.#tryNewSeeds(new Set([...members, ...this.#seeds.known]))) === undefined) return;
    throw last instanceof CloudburstError ? last : new CloudburstError('KV_UNAVAILABLE', 'no KV node answered for the ring', undefined, { cause: last });
  }

  async #discover(): Promise<Membership> {
    const seeds = await this.#seeds.urls();
    let last = await this.#first(seeds);
    if (last !== undefined && this.#seeds.hasNames) last = await this.#tryNewSeeds(new Set(seeds));
    if (last === undefined) return this.#view!;
    if (last instanceof CloudburstError) throw last;
    throw new CloudburstError('KV_UNAVAILABLE', `no seed answered (${this.#seeds.given.join(', ')})`, undefined, { cause: last });
  }

  /** Looks the seeds' names up again and tries the addresses not in `tried`; the last error, or undefined once one answered. */
  async #tryNewSeeds(tried: ReadonlySet<string>): Promise<unknown> {
    const fresh = (await this.#seeds.urls({ fresh: true })).filter((u) => !tried.has(u));
    return fresh.length === 0 ? new CloudburstError('KV_UNAVAILABLE', `no seed answered (${this.#seeds.known.join(', ')})`) : this.#first(fresh);
  }

  /** Fetches the ring from the first of `urls` that answers: undefined then, else the last error. */
  async #first(urls: readonly string[]): Promise<unknown> {
    let last: unknown = new CloudburstError('KV_UNAVAILABLE', 'no KV node to ask for the ring');
    for (const u of new Set(urls)) {
      try {
        await this.#fetch(u);
        return undefined;
      } catch (err) {
        last = err;
      }
    }
    return last;
  }

  async #fetch(url: string): Promise<void> {
    const reply = await this.#transport.request(url, { method: 'GET', path: KV_PATHS.ring });
    if (reply.status !== 200) throw errorOf(reply);
    this.absorb(jsonOf(reply), url);
  }
}
