// Consistency sessions: the per-request mode, repeatable read's snapshots, recorded histories.
// See host/README.md, "Consistency".
import { CloudburstError } from '../../common/index.ts';
import type { PeerLink } from '../cluster/peer-link.ts';
import type { CausalNeed, HistoryOp, ReadVersion } from '../executor/protocol.ts';
import { addDepWire, depFromWire } from './causal-wire.ts';

export type Consistency = 'lww' | 'rr' | 'causal';

/** The `"consistency"` of a call or DAG call: lww (the default), rr or causal; anything else is a 400. */
export function parseConsistency(v: unknown): Consistency {
  if (v === undefined || v === null || v === 'lww') return 'lww';
  if (v === 'rr' || v === 'causal') return v;
  throw new CloudburstError('INVALID_REQUEST', `"consistency" is "lww", "rr" or "causal", not ${JSON.stringify(v)}`);
}

/** One recorded read or write: what the history checker (test/consistency/history.ts) reads. */
export interface HistoryEvent extends HistoryOp {
  /** The request: the DAG request id, or the call's id for a single call. */
  rid: string;
  /** The function (DAG step) that read or wrote. */
  step: string;
  host: string;
  /** Position in the step's own sequence of operations. */
  i: number;
}

export function toEvents(ops: readonly HistoryOp[], rid: string, step: string, host: string): HistoryEvent[] {
  return ops.map((o, i) => ({ rid, step, host, i, ...o }));
}

/** What a DAG step passes downstream in an rr, causal or recorded request, with its result. */
export interface StepSession {
  reads: Record<string, ReadVersion>;
  history: HistoryEvent[];
  /** Causal: the versions the request observed, by key (what its writes depend on). */
  seen?: Record<string, string[]>;
  /** Causal: what each key's value must have in its past, and a host that has it. */
  need?: Record<string, CausalNeed>;
}

/** Adds `list` (versions of `key`, wire form) to `into`, compactly (`addDepWire`: at most one per writer of the key, and one plain). */
function addAll(into: string[], key: string, list: readonly string[]): void {
  for (const x of list) addDepWire(into, key, x);
}

function union(into: Record<string, string[]>, key: string, list: readonly string[]): void {
  const cur = into[key];
  if (cur === undefined) into[key] = [...list];
  else addAll(cur, key, list);
}

/**
 * Joins what a step's predecessors passed on: the first predecessor's version of a key wins
 * (rr); causal sets are unions; events once each.
 */
export function joinSessions(parts: readonly (StepSession | undefined)[]): StepSession {
  const reads: Record<string, ReadVersion> = {};
  const history: HistoryEvent[] = [];
  const seen = new Set<string>();
  let observed: Record<string, string[]> | undefined;
  let need: Record<string, CausalNeed> | undefined;
  for (const p of parts) {
    if (!p) continue;
    for (const [k, v] of Object.entries(p.reads)) if (!(k in reads)) reads[k] = v;
    if (p.seen) {
      observed ??= {};
      for (const [k, list] of Object.entries(p.seen)) union(observed, k, list);
    }
    if (p.need) {
      need ??= {};
      for (const [k, n] of Object.entries(p.need)) {
        const cur = need[k];
        if (cur === undefined) need[k] = { ...n, d: [...n.d] };
        else addAll(cur.d, k, n.d);
      }
    }
    for (const e of p.history) {
      const id = `${e.step}#${e.i}`;
      if (seen.has(id)) continue;
      seen.add(id);
      history.push(e);
    }
  }
  return { reads, history, ...(observed ? { seen: observed } : {}), ...(need ? { need } : {}) };
}

/** Adds what a causal step observed (on host `h` at `u`, whose cache now has all of it). */
export function addCausal(s: StepSession, got: { seen?: Record<string, string[]>; deps?: Record<string, string[]> }, h: string, u: string): void {
  const seen = (s.seen ??= {});
  const need = (s.need ??= {});
  const needs = (k: string, list: readonly string[]): void => {
    const cur = need[k];
    if (cur === undefined) need[k] = { d: [...list], h, u };
    else {
      addAll(cur.d, k, list);
      cur.h = h;
      cur.u = u;
    }
  };
  for (const [k, list] of Object.entries(got.seen ?? {})) {
    union(seen, k, list);
    needs(k, list);
  }
  for (const [k, list] of Object.entries(got.deps ?? {})) needs(k, list);
}

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Dependency strings from a peer, checked once at the boundary (depFromWire throws INVALID_REQUEST). */
const isDeps = (key: string, v: unknown): v is string[] => isStrings(v) && v.every((w) => depFromWire(key, w) !== undefined);

export function parseStepSession(v: unknown): StepSession | undefined {
  if (v === undefined || v === null) return undefined;
  const o = v as { reads?: unknown; history?: unknown };
  if (typeof o !== 'object' || typeof o.reads !== 'object' || o.reads === null || !Array.isArray(o.history)) {
    throw new CloudburstError('INVALID_REQUEST', 'malformed internal DAG message: session');
  }
  for (const r of Object.values(o.reads as Record<string, unknown>)) {
    const x = r as Partial<ReadVersion> | null;
    if (typeof x !== 'object' || x === null || typeof x.v !== 'string' || typeof x.host !== 'string' || typeof x.url !== 'string') {
      throw new CloudburstError('INVALID_REQUEST', 'malformed internal DAG message: read set');
    }
  }
  const out: StepSession = { reads: o.reads as Record<string, ReadVersion>, history: o.history as HistoryEvent[] };
  const { seen, need } = v as { seen?: unknown; need?: unknown };
  if (seen !== undefined) {
    if (typeof seen !== 'object' || seen === null || !Object.entries(seen).every(([k, list]) => isDeps(k, list))) throw new CloudburstError('INVALID_REQUEST', 'malformed internal DAG message: causal seen set');
    out.seen = seen as Record<string, string[]>;
  }
  if (need !== undefined) {
    const ok = typeof need === 'object' && need !== null && Object.entries(need).every(([k, n]) => {
      const x = n as Partial<CausalNeed> | null;
      return typeof x === 'object' && x !== null && isDeps(k, x.d) && (x.h === undefined || typeof x.h === 'string') && (x.u === undefined || typeof x.u === 'string');
    });
    if (!ok) throw new CloudburstError('INVALID_REQUEST', 'malformed internal DAG message: causal needs');
    out.need = need as Record<string, CausalNeed>;
  }
  return out;
}

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

  store(rid: string, snaps: readonly { key: string; v: string; bytes: Uint8Array | null }[], ttlMs: number): void {
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
