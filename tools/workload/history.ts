// The history checker: every read and write of a request, with its version, as the hosts
// record them (`?history=1` on a call or a DAG call; see host/README.md, "Consistency").

/** One recorded operation (host/consistency/history.ts, HistoryEvent). */
export interface HistoryEvent {
  rid: string;
  step: string;
  host: string;
  i: number;
  op: 'r' | 'w';
  key: string;
  v: string;
  /** Registers only: every concurrent version read (primary first; `[]` when absent), or `[the version written]`. */
  ver?: VersionInfo[];
}

export interface RrViolation {
  rid: string;
  key: string;
  /** The read that fixed the request's version of the key, and the later read that saw another. */
  first: HistoryEvent;
  later: HistoryEvent;
}

/**
 * Repeatable read: within one request, no two reads of a key see different versions unless
 * the request wrote the key in between. Events are taken in the order given per request
 * (a DAG's history comes in step order along its edges).
 */
export function checkRepeatableRead(events: readonly HistoryEvent[]): RrViolation[] {
  const out: RrViolation[] = [];
  const seen = new Map<string, HistoryEvent | undefined>();
  for (const e of events) {
    const id = `${e.rid}\0${e.key}`;
    if (e.op === 'w') {
      seen.set(id, undefined); // the request wrote it: the next read may see another version
      continue;
    }
    const first = seen.get(id);
    if (first === undefined) seen.set(id, e);
    else if (first.v !== e.v) out.push({ rid: e.rid, key: e.key, first, later: e });
  }
  return out;
}

/** Requests with at least one violation, out of those in the history. */
export function violatingRequests(events: readonly HistoryEvent[]): { requests: number; violating: number } {
  const rids = new Set(events.map((e) => e.rid));
  return { requests: rids.size, violating: new Set(checkRepeatableRead(events).map((v) => v.rid)).size };
}

// ---------------------------------------------------------------------------------------------
// Causal consistency, from the history alone.

/** A register version as histories show it (host/README.md, "Consistency"). */
export interface VersionInfo {
  /** The write's stamp, `ms.c.writer` (unique per write). */
  id: string;
  /** Version vector, writer -> `ms.c`, the version's own writer included; `{}` for a plain (lww) version. */
  vc: Record<string, string>;
  /** Floor stamp `ms.c.writer` (a plain version: its own id; `0.0.` for none). */
  f: string;
}

/** A stamp `ms.c.writer` or a vector entry `ms.c`, parsed: ms and c are the first two fields. */
interface Stamp {
  ms: number;
  c: number;
  w: string;
}

function parseStamp(s: string): Stamp {
  const a = s.indexOf('.');
  const b = a < 0 ? -1 : s.indexOf('.', a + 1);
  if (a < 0) return { ms: Number(s), c: 0, w: '' };
  if (b < 0) return { ms: Number(s.slice(0, a)), c: Number(s.slice(a + 1)), w: '' };
  return { ms: Number(s.slice(0, a)), c: Number(s.slice(a + 1, b)), w: s.slice(b + 1) };
}

function cmpClock(x: Stamp, y: Stamp): number {
  return x.ms !== y.ms ? x.ms - y.ms : x.c - y.c;
}

function cmpStamp(x: Stamp, y: Stamp): number {
  const t = cmpClock(x, y);
  if (t !== 0) return t;
  return x.w < y.w ? -1 : x.w > y.w ? 1 : 0;
}

/** A version of one key, parsed once. */
interface Version {
  key: string;
  info: VersionInfo;
  f: Stamp;
  vc: [string, Stamp][];
  vcMap: Map<string, Stamp>;
}

/**
 * x ≤ y: x's floor is at most y's, and y's vector covers x's (every writer of x.vc is in y.vc,
 * at least as far).
 */
export function versionLeq(x: VersionInfo, y: VersionInfo): boolean {
  return leq(toVersion('', x), toVersion('', y));
}

/** x < y: x ≤ y and not y ≤ x. */
export function versionLess(x: VersionInfo, y: VersionInfo): boolean {
  return less(toVersion('', x), toVersion('', y));
}

function toVersion(key: string, info: VersionInfo): Version {
  const vc = Object.entries(info.vc).map(([w, s]): [string, Stamp] => [w, parseStamp(s)]);
  return { key, info, f: parseStamp(info.f), vc, vcMap: new Map(vc) };
}

function leq(x: Version, y: Version): boolean {
  if (cmpStamp(x.f, y.f) > 0) return false;
  for (const [w, s] of x.vc) {
    const t = y.vcMap.get(w);
    if (t === undefined || cmpClock(s, t) > 0) return false;
  }
  return true;
}

function less(x: Version, y: Version): boolean {
  return leq(x, y) && !leq(y, x);
}

/**
 * What a request has in its past, by key: the maximal versions only (if s < d ≤ d' then
 * s < d', so dominated versions never decide a violation).
 */
type Context = Map<string, Version[]>;

/** Adds `v` to the antichain of its key; answers whether the context changed. */
function addVersion(ctx: Context, v: Version): boolean {
  const list = ctx.get(v.key);
  if (list === undefined) {
    ctx.set(v.key, [v]);
    return true;
  }
  for (const t of list) if (t === v || leq(v, t)) return false;
  const kept = list.filter((t) => !leq(t, v));
  kept.push(v);
  ctx.set(v.key, kept);
  return true;
}

function mergeContext(into: Context, from: Context): void {
  for (const [key, list] of from) {
    if (into.get(key) === list) continue; // shared since a copy: nothing new
    for (const v of list) addVersion(into, v);
  }
}

/** Lists are never changed in place (addVersion replaces them), so a copy shares them. */
function cloneContext(ctx: Context): Context {
  return new Map(ctx);
}

export interface CausalViolation {
  rid: string;
  key: string;
  /** The read that saw a version older than one the request already depended on. */
  read: HistoryEvent;
  /** The version read (one of `read.ver`), or null when the key was absent. */
  seen: VersionInfo | null;
  /** The version of the key in the request's past that `seen` is strictly below. */
  dep: VersionInfo;
}

/**
 * Causal consistency. A version x that request W wrote at its event j depends on every
 * version W observed (read, all concurrent versions of a read, or wrote) before j, on every
 * causal version of the same key in the history that x is above in the version order (x was
 * written over it, whether W read it or not: a blind write, or a read-modify-write that read
 * only its own key), and on what those depend on, transitively; versions written outside the
 * history (e.g. by `PUT /v1/kv`) have no known dependencies. Observing a version brings all of
 * that into the observer's past. A read of key k in request R violates causality
 * when a version it returned is strictly below (`versionLess`) a version of k in R's past:
 * what R observed before the read, with its transitive dependencies. A read that found the key
 * absent (`ver: []`) violates it when R's past holds any version of k. Events without `ver`
 * (counters, sets, maxima) are ignored. Events are taken in the order given per request, as
 * for `checkRepeatableRead`.
 */
export function checkCausal(events: readonly HistoryEvent[]): CausalViolation[] {
  // Versions, parsed once, by key and id.
  const versions = new Map<string, Version>();
  const version = (key: string, info: VersionInfo): Version => {
    const id = `${key}\0${info.id}`;
    let v = versions.get(id);
    if (v === undefined) {
      v = toVersion(key, info);
      versions.set(id, v);
    }
    return v;
  };

  interface Req {
    rid: string;
    events: HistoryEvent[];
    /** Events processed so far, and the request's past after them. */
    done: number;
    ctx: Context;
    /** The past before each write event (the written version's dependencies), by event index. */
    before: Map<number, Context>;
    active: boolean;
  }
  const reqs = new Map<string, Req>();
  for (const e of events) {
    let r = reqs.get(e.rid);
    if (r === undefined) {
      r = { rid: e.rid, events: [], done: 0, ctx: new Map(), before: new Map(), active: false };
      reqs.set(e.rid, r);
    }
    r.events.push(e);
  }

  // Who wrote each version in the history: its request and the event's index there.
  const writers = new Map<Version, { req: Req; at: number }>();
  for (const r of reqs.values()) {
    r.events.forEach((e, at) => {
      if (e.op !== 'w' || !e.ver) return;
      for (const info of e.ver) {
        const v = version(e.key, info);
        if (!writers.has(v)) writers.set(v, { req: r, at });
      }
    });
  }

  // The causal versions written in the history, by key: a version has in its past every one of
  // them its vector and floor are above (it was written over them, read or not).
  const causalByKey = new Map<string, Version[]>();
  for (const v of writers.keys()) {
    if (v.vc.length === 0) continue;
    const list = causalByKey.get(v.key);
    if (list === undefined) causalByKey.set(v.key, [v]);
    else list.push(v);
  }
  /**
   * What observing `vs` (versions of `key`) brings into request r's past besides themselves:
   * each one's own writer's past, and that of every causal version of the key below it (not
   * already in r's past: its own past is then there too).
   */
  const sourcesOf = (r: Req, key: string, vs: readonly Version[]): Version[] => {
    const past = r.ctx.get(key) ?? [];
    const fresh = vs.filter((v) => !past.some((t) => leq(v, t)));
    if (fresh.length === 0) return [];
    const below = (causalByKey.get(key) ?? []).filter((u) => !fresh.includes(u) && fresh.some((v) => leq(u, v)) && !past.some((t) => leq(u, t)));
    return [...fresh, ...below];
  };

  const out: CausalViolation[] = [];
  // Processes requests event by event with an explicit stack (dependency chains are long):
  // an event that brings versions written by another request first needs that request
  // processed up to the write, for the version's dependencies.
  for (const root of reqs.values()) {
    const stack: { req: Req; upTo: number }[] = [{ req: root, upTo: root.events.length }];
    root.active = true;
    /** Pushes the first writer of `sources` not processed up to its write yet; answers whether it did. */
    const pending = (r: Req, sources: readonly Version[]): boolean => {
      for (const v of sources) {
        const w = writers.get(v);
        if (w === undefined || w.req === r || w.req.done > w.at || w.req.active) continue; // known (or a cycle: taken as is)
        stack.push({ req: w.req, upTo: w.at + 1 });
        w.req.active = true;
        return true;
      }
      return false;
    };
    const bring = (r: Req, sources: readonly Version[]): void => {
      for (const v of sources) {
        const w = writers.get(v);
        const deps = w === undefined ? undefined : w.req.before.get(w.at);
        if (deps) mergeContext(r.ctx, deps);
      }
    };
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      const r = top.req;
      if (r.done >= top.upTo) {
        stack.pop();
        r.active = false; // a request is on the stack at most once
        continue;
      }
      const e = r.events[r.done]!;
      if (e.op === 'r' && e.ver) {
        const read = e.ver.map((info) => version(e.key, info));
        const sources = sourcesOf(r, e.key, read);
        // The dependencies of each version read must be known first.
        if (pending(r, sources)) continue;
        const past = r.ctx.get(e.key) ?? [];
        if (read.length === 0) {
          if (past.length > 0) out.push({ rid: r.rid, key: e.key, read: e, seen: null, dep: past[0]!.info });
        } else {
          const bad = read.flatMap((s) => past.filter((d) => less(s, d)).map((d) => ({ s, d })))[0];
          if (bad) out.push({ rid: r.rid, key: e.key, read: e, seen: bad.s.info, dep: bad.d.info });
        }
        bring(r, sources);
        for (const v of read) addVersion(r.ctx, v);
      } else if (e.op === 'w' && e.ver) {
        const written = e.ver.map((info) => version(e.key, info));
        // A version written over others (a blind write, say) has their past in its own.
        const sources = sourcesOf(r, e.key, written).filter((v) => !written.includes(v));
        if (pending(r, sources)) continue;
        bring(r, sources);
        r.before.set(r.done, cloneContext(r.ctx));
        for (const v of written) addVersion(r.ctx, v);
      }
      r.done++;
    }
  }
  // In the order of the history.
  const order = new Map(events.map((e, n) => [e, n]));
  return out.sort((a, b) => order.get(a.read)! - order.get(b.read)!);
}

/** Requests in the history, and how many of them violate each guarantee. */
export function countAnomalies(events: readonly HistoryEvent[]): { requests: number; rr: number; causal: number } {
  return {
    requests: new Set(events.map((e) => e.rid)).size,
    rr: new Set(checkRepeatableRead(events).map((v) => v.rid)).size,
    causal: new Set(checkCausal(events).map((v) => v.rid)).size,
  };
}
