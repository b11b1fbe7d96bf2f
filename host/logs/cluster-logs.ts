import { CloudburstError } from '../../common/index.ts';
import { HOST_PATHS } from '../protocol.ts';
import type { PeerLink } from '../cluster/peer-link.ts';
import { mergeLines, type Cursor, type MergedLines } from './cursor.ts';
import type { ErrorEntry } from './log-line.ts';
import type { HostLines, LogStore } from './log-store.ts';

/** How long a peer has to answer a read of its logs before it is left out (`missing`). */
export const PEER_LOGS_TIMEOUT_MS = 2000;

/** A live host of the cluster, as the directory lists it (not this one). */
export interface LogPeer {
  id: string;
  url: string;
}

export interface ClusterLogsOptions {
  store: LogStore;
  selfId: string;
  /** The other live hosts (the directory's view). */
  peers: () => LogPeer[];
  link: PeerLink;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A peer's answer to `GET /v1/internal/logs`, checked enough to merge (a peer of another version answers something else: missing). */
function hostLines(body: unknown, peer: LogPeer): HostLines {
  if (!isObject(body) || typeof body.host !== 'string' || !Number.isSafeInteger(body.head) || !Array.isArray(body.lines) || typeof body.more !== 'boolean') {
    throw new CloudburstError('HOST_UNAVAILABLE', `host ${peer.id} answered its logs in a shape this host does not know`);
  }
  return { host: body.host, head: body.head as number, lines: body.lines as HostLines['lines'], more: body.more, dropped: typeof body.dropped === 'number' ? body.dropped : 0 };
}

/**
 * Reads logs over every host of the cluster: this host's store directly, each live peer's
 * through its internal routes (signed, acting for the tenant), all at once. A peer that does
 * not answer in PEER_LOGS_TIMEOUT_MS is left out and named in `missing`: a read of logs never
 * fails because one host is gone.
 */
export class ClusterLogs {
  readonly #o: ClusterLogsOptions;

  constructor(o: ClusterLogsOptions) {
    this.#o = o;
  }

  get selfId(): string {
    return this.#o.selfId;
  }

  get peers(): LogPeer[] {
    return this.#o.peers();
  }

  /** One peer's lines of `fn` after `after` (undefined: its newest), or undefined when it did not answer. */
  async peerLines(peer: LogPeer, tenant: string, fn: string, after: number | undefined, limit: number): Promise<HostLines | undefined> {
    const q = new URLSearchParams({ fn, limit: String(limit), ...(after === undefined ? {} : { after: String(after) }) });
    try {
      return hostLines(await this.#o.link.send(peer.url, 'GET', `${HOST_PATHS.logsRead}?${q}`, undefined, PEER_LOGS_TIMEOUT_MS, tenant), peer);
    } catch {
      return undefined;
    }
  }

  /** `tenant`'s lines of `fn` over the cluster: the page after `since` (undefined: the newest lines), see `mergeLines`. */
  async lines(tenant: string, fn: string, since: Cursor | undefined, limit: number): Promise<MergedLines> {
    const { store, selfId } = this.#o;
    const after = (host: string): number | undefined => (since === undefined ? undefined : (since[host] ?? 0));
    const local = store.read(tenant, fn, after(selfId), limit);
    const peers = this.#o.peers();
    const remote = await Promise.all(peers.map((p) => this.peerLines(p, tenant, fn, after(p.id), limit)));
    const answers = [local, ...remote.filter((r): r is HostLines => r !== undefined)];
    const missing = peers.filter((_, i) => remote[i] === undefined).map((p) => p.id);
    return mergeLines(answers, since, limit, missing);
  }

  /**
   * A module of `tenant` was deleted: its functions' lines and failures are forgotten here at
   * once, and on every live peer as soon as it hears (not waited for: a peer that does not
   * answer keeps them until its bounds drop them).
   */
  forget(tenant: string, module: string): void {
    this.#o.store.forget(tenant, `${module}.`);
    for (const p of this.#o.peers()) {
      this.#o.link.send(p.url, 'POST', HOST_PATHS.logsForget, { module }, PEER_LOGS_TIMEOUT_MS, tenant).catch(() => undefined);
    }
  }

  /** `tenant`'s recent failed calls over the cluster, newest first, at most `limit`. */
  async errors(tenant: string, limit: number): Promise<{ errors: ErrorEntry[]; missing: string[] }> {
    const peers = this.#o.peers();
    const q = `${HOST_PATHS.errorsRead}?limit=${limit}`;
    const remote = await Promise.all(peers.map(async (p) => {
      try {
        const body = await this.#o.link.send(p.url, 'GET', q, undefined, PEER_LOGS_TIMEOUT_MS, tenant);
        return isObject(body) && Array.isArray(body.errors) ? (body.errors as ErrorEntry[]) : undefined;
      } catch {
        return undefined;
      }
    }));
    const all = [...this.#o.store.errors(tenant, limit), ...remote.flatMap((r) => r ?? [])];
    all.sort((a, b) => b.time - a.time);
    return { errors: all.slice(0, limit), missing: peers.filter((_, i) => remote[i] === undefined).map((p) => p.id) };
  }
}
