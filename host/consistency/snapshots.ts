// rr's snapshots: the versions rr requests read first (and wrote) on this host, served to the
// request's later steps on any host. See host/README.md, "Consistency".
import { CloudburstError } from '../../kvs/index.ts';
import type { PeerLink } from '../cluster/peer-link.ts';
import type { ReadVersion, SnapshotEntry } from './call-session.ts';

interface Held {
  /** `${key}\0${version}` -> the encoded value (null: the key was absent). */
  entries: Map<string, Uint8Array | null>;
  bytes: number;
  timer: NodeJS.Timeout;
}

export const SNAPSHOT_PATH = '/v1/internal/dag/snapshot';

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
      const id = `${s.key}\0${s.v}`;
      if (held.entries.has(id)) continue;
      held.entries.set(id, s.bytes);
      held.bytes += s.bytes?.byteLength ?? 0;
    }
  }

  /** The held version, `null` for an absent key, `undefined` when not held. */
  get(rid: string, key: string, v: string): Uint8Array | null | undefined {
    return this.#held.get(rid)?.entries.get(`${key}\0${v}`);
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
      const local = this.get(rid, key, at.v);
      if (local === undefined) throw new CloudburstError('INTERNAL', `the snapshot of ${key} at ${at.v} for request ${rid} is no longer held (the request expired)`);
      return local;
    }
    let body: { base64?: string | null };
    try {
      body = (await this.#link.send(at.url, 'POST', SNAPSHOT_PATH, { rid, key, v: at.v }, 2000)) as { base64?: string | null };
    } catch (err) {
      // INTERNAL, not HOST_UNAVAILABLE: the step's own host is fine (the DAG is re-run either way).
      throw new CloudburstError('INTERNAL', `the snapshot of ${key} for request ${rid} could not be fetched from host ${at.host}: ${(err as Error).message}`);
    }
    return typeof body?.base64 === 'string' ? new Uint8Array(Buffer.from(body.base64, 'base64')) : null;
  }

  /** For the internal route: throws when the snapshot is not held. */
  serve(body: unknown): { base64: string | null } {
    const b = body as { rid?: unknown; key?: unknown; v?: unknown } | undefined;
    if (typeof b?.rid !== 'string' || typeof b.key !== 'string' || typeof b.v !== 'string') {
      throw new CloudburstError('INVALID_REQUEST', 'a snapshot request is {"rid", "key", "v"}');
    }
    const got = this.get(b.rid, b.key, b.v);
    if (got === undefined) throw new CloudburstError('INTERNAL', `the snapshot of ${b.key} at ${b.v} for request ${b.rid} is no longer held on ${this.#selfId}`);
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

  close(): void {
    for (const rid of [...this.#held.keys()]) this.release(rid);
  }
}
