// rr's snapshots: the versions rr requests read first (and wrote) on this host, served to the
// request's later steps on any host. See host/README.md, "Consistency".
import { CloudburstError } from '../../common/index.ts';
import type { PeerLink } from '../cluster/peer-link.ts';
import { gaugeFrom, type MetricsRegistry } from '../metrics.ts';
import { HOST_PATHS } from '../protocol.ts';
import type { ReadVersion, SnapshotEntry } from './call-session.ts';
import { displayKey } from '../keys.ts';

interface Held {
  /** `${key}\0${version}` -> the encoded value (null: the key was absent). */
  entries: Map<string, Uint8Array | null>;
  bytes: number;
  timer: NodeJS.Timeout;
}

/**
 * The snapshots of the versions rr requests read first (and wrote) on this host, kept per
 * request id until the request ends (the coordinator releases them on every host of the run)
 * or, if the request died, until its deadline plus grace.
 */
export class Snapshots {
  readonly #held = new Map<string, Held>();
  readonly #selfId: string;
  readonly #link: PeerLink;

  constructor(selfId: string, link: PeerLink) {
    this.#selfId = selfId;
    this.#link = link;
  }

  store(rid: string, snaps: readonly SnapshotEntry[], ttlMs: number): void {
    if (snaps.length === 0) return;
    let held = this.#held.get(rid);
    if (!held) {
      const timer = setTimeout(() => this.release(rid), Math.max(0, ttlMs));
      timer.unref();
      held = { entries: new Map(), bytes: 0, timer };
      this.#held.set(rid, held);
    }
    for (const s of snaps) {
      const id = `${s.key}\0${s.version}`;
      if (held.entries.has(id)) continue;
      held.entries.set(id, s.bytes);
      held.bytes += s.bytes?.byteLength ?? 0;
    }
  }

  /** The held version, `null` for an absent key, `undefined` when not held. */
  get(rid: string, key: string, version: string): Uint8Array | null | undefined {
    return this.#held.get(rid)?.entries.get(`${key}\0${version}`);
  }

  release(rid: string): void {
    const held = this.#held.get(rid);
    if (!held) return;
    clearTimeout(held.timer);
    this.#held.delete(rid);
  }

  /** The version a request read first, from this host's snapshots or the host that holds it. */
  async fetch(rid: string, key: string, at: ReadVersion): Promise<Uint8Array | null> {
    if (at.host === this.#selfId) {
      const local = this.get(rid, key, at.version);
      if (local === undefined) throw new CloudburstError('INTERNAL', `the snapshot of ${displayKey(key)} at ${at.version} for request ${rid} is no longer held (the request expired)`);
      return local;
    }
    let body: { base64?: string | null };
    try {
      body = (await this.#link.send(at.url, 'POST', HOST_PATHS.dagSnapshot, { rid, key, v: at.version }, 2000)) as { base64?: string | null };
    } catch (err) {
      // INTERNAL, not HOST_UNAVAILABLE: the step's own host is fine (the DAG is re-run either way).
      throw new CloudburstError('INTERNAL', `the snapshot of ${displayKey(key)} for request ${rid} could not be fetched from host ${at.host}: ${(err as Error).message}`);
    }
    return typeof body?.base64 === 'string' ? new Uint8Array(Buffer.from(body.base64, 'base64')) : null;
  }

  /** For the internal route (`HOST_PATHS.dagSnapshot`): throws when the snapshot is not held. */
  serve(rid: string, key: string, v: string): { base64: string | null } {
    const got = this.get(rid, key, v);
    if (got === undefined) throw new CloudburstError('INTERNAL', `the snapshot of ${displayKey(key)} at ${v} for request ${rid} is no longer held on ${this.#selfId}`);
    return { base64: got === null ? null : Buffer.from(got).toString('base64') };
  }

  stats(): { requests: number; entries: number; bytes: number } {
    let entries = 0;
    let bytes = 0;
    for (const h of this.#held.values()) {
      entries += h.entries.size;
      bytes += h.bytes;
    }
    return { requests: this.#held.size, entries, bytes };
  }

  registerMetrics(registry: MetricsRegistry): void {
    gaugeFrom(registry, 'cloudburst_rr_snapshots_held', 'Snapshots of values held for repeatable-read requests in flight.', () => this.stats().entries);
  }

  close(): void {
    for (const rid of [...this.#held.keys()]) this.release(rid);
  }
}
