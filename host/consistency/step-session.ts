// What a DAG step of an rr, causal or recorded request passes downstream with its result,
// joined across predecessors and checked when it comes from a peer. See host/README.md, "Consistency".
import { CloudburstError } from '../../common/index.ts';
import type { CausalNeed, ReadVersion } from './call-session.ts';
import { addDepWire, depFromWire } from './causal-wire.ts';
import type { HistoryEvent } from './history.ts';

/** What a DAG step passes downstream in an rr, causal or recorded request, with its result. */
export interface StepSession {
  reads: Record<string, ReadVersion>;
  history: HistoryEvent[];
  /** Causal: the versions the request observed, by key (what its writes depend on). */
  seen?: Record<string, string[]>;
  /** Causal: what each key's value must have in its past, and a host that has it. */
  need?: Record<string, CausalNeed>;
}

/** A ReadVersion in a DAG message (a trigger's read set, a pin and its answer). */
export interface ReadVersionWire {
  v: string;
  host: string;
  url: string;
}

/** A CausalNeed in a DAG message: short names, as the message format has always had them. */
interface CausalNeedWire {
  d: string[];
  h?: string;
  u?: string;
}

/** A StepSession as a trigger carries it (host/README.md, "Cluster-internal DAG routes"). */
export interface StepSessionWire {
  reads: Record<string, ReadVersionWire>;
  history: HistoryEvent[];
  seen?: Record<string, string[]>;
  need?: Record<string, CausalNeedWire>;
}

const mapValues = <A, B>(r: Readonly<Record<string, A>>, f: (a: A) => B): Record<string, B> => Object.fromEntries(Object.entries(r).map(([k, a]) => [k, f(a)]));

export const readVersionToWire = (r: ReadVersion): ReadVersionWire => ({ v: r.version, host: r.host, url: r.url });

/** A ReadVersion from a peer; undefined when malformed (the caller says where). */
export function readVersionFromWire(v: unknown): ReadVersion | undefined {
  const x = v as Partial<ReadVersionWire> | null | undefined;
  if (typeof x !== 'object' || x === null || typeof x.v !== 'string' || typeof x.host !== 'string' || typeof x.url !== 'string') return undefined;
  return { version: x.v, host: x.host, url: x.url };
}

const needToWire = (n: CausalNeed): CausalNeedWire => ({ d: n.deps, ...(n.host === undefined ? {} : { h: n.host }), ...(n.url === undefined ? {} : { u: n.url }) });
const needFromWire = (n: CausalNeedWire): CausalNeed => ({ deps: n.d, ...(n.h === undefined ? {} : { host: n.h }), ...(n.u === undefined ? {} : { url: n.u }) });

/** The session as it goes to another host (`parseStepSession` reads it back). */
export function stepSessionToWire(s: StepSession): StepSessionWire {
  const out: StepSessionWire = { reads: mapValues(s.reads, readVersionToWire), history: s.history };
  if (s.seen) out.seen = s.seen;
  if (s.need) out.need = mapValues(s.need, needToWire);
  return out;
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
        if (cur === undefined) need[k] = { ...n, deps: [...n.deps] };
        else addAll(cur.deps, k, n.deps);
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

/** Adds what a causal step observed (on host `host` at `url`, whose cache now has all of it). */
export function addCausal(s: StepSession, got: { seen?: Record<string, string[]>; deps?: Record<string, string[]> }, host: string, url: string): void {
  const seen = (s.seen ??= {});
  const need = (s.need ??= {});
  const needs = (k: string, list: readonly string[]): void => {
    const cur = need[k];
    if (cur === undefined) need[k] = { deps: [...list], host, url };
    else {
      addAll(cur.deps, k, list);
      cur.host = host;
      cur.url = url;
    }
  };
  for (const [k, list] of Object.entries(got.seen ?? {})) {
    union(seen, k, list);
    needs(k, list);
  }
  for (const [k, list] of Object.entries(got.deps ?? {})) needs(k, list);
}

const malformed = (what: string): never => {
  throw new CloudburstError('INVALID_REQUEST', `malformed internal DAG message: ${what}`);
};

const isStrings = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/** Dependency strings from a peer, checked once at the boundary (depFromWire throws INVALID_REQUEST). */
const isDeps = (key: string, v: unknown): v is string[] => isStrings(v) && v.every((w) => depFromWire(key, w) !== undefined);

export function parseStepSession(v: unknown): StepSession | undefined {
  if (v === undefined || v === null) return undefined;
  const o = v as { reads?: unknown; history?: unknown };
  if (typeof o !== 'object' || typeof o.reads !== 'object' || o.reads === null || !Array.isArray(o.history)) {
    throw new CloudburstError('INVALID_REQUEST', 'malformed internal DAG message: session');
  }
  const reads = mapValues(o.reads as Record<string, unknown>, (r) => readVersionFromWire(r) ?? malformed('read set'));
  const out: StepSession = { reads, history: o.history as HistoryEvent[] };
  const { seen, need } = v as { seen?: unknown; need?: unknown };
  if (seen !== undefined) {
    if (typeof seen !== 'object' || seen === null || !Object.entries(seen).every(([k, list]) => isDeps(k, list))) throw new CloudburstError('INVALID_REQUEST', 'malformed internal DAG message: causal seen set');
    out.seen = seen as Record<string, string[]>;
  }
  if (need !== undefined) {
    const ok = typeof need === 'object' && need !== null && Object.entries(need).every(([k, n]) => {
      const x = n as Partial<CausalNeedWire> | null;
      return typeof x === 'object' && x !== null && isDeps(k, x.d) && (x.h === undefined || typeof x.h === 'string') && (x.u === undefined || typeof x.u === 'string');
    });
    if (!ok) throw new CloudburstError('INVALID_REQUEST', 'malformed internal DAG message: causal needs');
    out.need = mapValues(need as Record<string, CausalNeedWire>, needFromWire);
  }
  return out;
}
