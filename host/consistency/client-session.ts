// Client sessions across calls: read-your-writes and monotonic reads for a client whose calls
// land on different hosts. See host/README.md, "Client sessions".
import { createHash } from 'node:crypto';
import { Buffer } from 'node:buffer';
import { CloudburstError } from '../../common/index.ts';
import { compareStamps, depOn, satisfies, versionsOf, type Lattice, type Stamp } from '../../kvs/index.ts';
import { depFromWire, depToWire, stampId } from './causal-wire.ts';

/** The header that carries a session token, in requests and in answers. */
export const SESSION_HEADER = 'x-cloudburst-session';

/** The most keys a token carries: the ones the session used last (a header must stay small). */
export const SESSION_MAX_KEYS = 64;
/** The most register versions a token carries per key (concurrent versions beyond are left out). */
const MAX_VERSIONS = 4;
/** The longest token accepted (base64url characters). */
export const SESSION_MAX_TOKEN = 12 * 1024;

/**
 * What a session has seen of one key, compactly: enough to tell whether a host's value of the
 * key is at least as new, without the value itself. Epochs are stamps, `ms.c.writer`.
 * - a register's versions (causal dependency strings, `c…`/`p…`);
 * - a counter's epoch and per-writer totals `[increments, decrements]` (decimal strings);
 * - a max's epoch and value;
 * - a set's epoch, member count and a hash of its members (a set's members do not fit a
 *   token: a host whose set differs fetches the value instead of deciding from the token).
 */
export type KeyVersion =
  | { kind: 'register'; deps: string[] }
  | { kind: 'counter'; epoch: string; totals: Record<string, [string, string]> }
  | { kind: 'max'; epoch: string; value: string | null }
  | { kind: 'set'; epoch: string; size: number; hash: string };

/** A KeyVersion in a token: one-letter names keep tokens (and so headers) small. */
type KeyVersionWire =
  | { t: 'r'; d: string[] }
  | { t: 'c'; e: string; w: Record<string, [string, string]> }
  | { t: 'm'; e: string; v: string | null }
  | { t: 's'; e: string; n: number; h: string };

/** One key of a session: its name (a user key), the host whose cache had that version, the version. */
export interface SessionEntry {
  key: string;
  url: string;
  version: KeyVersion;
}

/** A client session: the versions its calls read and wrote, the most recent first. */
export type ClientSession = SessionEntry[];

const STAMP = /^(\d{1,15})\.(\d{1,9})\.([\s\S]{0,256})$/;

function stampFrom(text: string): Stamp {
  const m = STAMP.exec(text);
  if (!m) throw new CloudburstError('INVALID_REQUEST', `malformed stamp ${JSON.stringify(text)} in a session token`);
  return { ms: Number(m[1]), c: Number(m[2]), writer: m[3]! };
}

function setHash(members: readonly Uint8Array[]): string {
  const h = createHash('sha1');
  for (const m of members) h.update(Buffer.from(String(m.byteLength))).update(':').update(m);
  return h.digest('base64url').slice(0, 12);
}

/** The compact version of a value; undefined for an absent value (it constrains nothing). */
export function versionOfValue(key: string, v: Lattice | undefined): KeyVersion | undefined {
  if (v === undefined) return undefined;
  switch (v.type) {
    case 'lww':
      return { kind: 'register', deps: versionsOf(v).slice(0, MAX_VERSIONS).map((x) => depToWire(depOn(key, x))) };
    case 'counter':
      return { kind: 'counter', epoch: stampId(v.epoch), totals: Object.fromEntries([...v.entries].map(([w, e]) => [w, [e.p.toString(), e.n.toString()]])) };
    case 'max':
      return { kind: 'max', epoch: stampId(v.epoch), value: v.value === null ? null : v.value.toString() };
    case 'set':
      return { kind: 'set', epoch: stampId(v.epoch), size: v.members.length, hash: setHash(v.members) };
  }
}

/**
 * Whether `local` is at least as new as `version` (a false answer may be wrong for sets, never
 * a true one: the host then brings the value from where the session saw it).
 */
export function covers(key: string, local: Lattice | undefined, version: KeyVersion): boolean {
  if (local === undefined) return false;
  switch (version.kind) {
    case 'register':
      return local.type === 'lww' && version.deps.every((w) => satisfies(local, depFromWire(key, w)));
    case 'counter': {
      if (local.type !== 'counter') return false;
      const epoch = compareStamps(local.epoch, stampFrom(version.epoch));
      if (epoch !== 0) return epoch > 0;
      return Object.entries(version.totals).every(([writer, [p, n]]) => {
        const e = local.entries.get(writer);
        return e !== undefined && e.p >= BigInt(p) && e.n >= BigInt(n);
      });
    }
    case 'max': {
      if (local.type !== 'max') return false;
      const epoch = compareStamps(local.epoch, stampFrom(version.epoch));
      if (epoch !== 0) return epoch > 0;
      return version.value === null || (local.value !== null && local.value >= BigInt(version.value));
    }
    case 'set': {
      if (local.type !== 'set') return false;
      const epoch = compareStamps(local.epoch, stampFrom(version.epoch));
      if (epoch !== 0) return epoch > 0;
      return local.members.length === version.size && setHash(local.members) === version.hash;
    }
  }
}

/**
 * A session after a call: the call's versions (from `url`, most recent first) ahead of what the
 * session had, each key once, at most SESSION_MAX_KEYS.
 */
export function advance(session: ClientSession, url: string, versions: readonly (readonly [string, KeyVersion])[]): ClientSession {
  const out: ClientSession = [];
  const seen = new Set<string>();
  for (const [key, version] of versions) {
    if (out.length >= SESSION_MAX_KEYS) break;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ key, url, version });
  }
  for (const e of session) {
    if (out.length >= SESSION_MAX_KEYS) break;
    if (seen.has(e.key)) continue;
    seen.add(e.key);
    out.push(e);
  }
  return out;
}

/** The sessions of a DAG step's predecessors as one: each key once (the first met), at most SESSION_MAX_KEYS. */
export function joinClientSessions(parts: readonly (ClientSession | undefined)[]): ClientSession {
  const out: ClientSession = [];
  const seen = new Set<string>();
  for (const part of parts) {
    for (const e of part ?? []) {
      if (out.length >= SESSION_MAX_KEYS) return out;
      if (seen.has(e.key)) continue;
      seen.add(e.key);
      out.push(e);
    }
  }
  return out;
}

/** The token of a session: base64url of `{"v": 1, "u": [urls], "k": [[key, url index, version], ...]}`. */
export function encodeSession(session: ClientSession): string {
  const urls: string[] = [];
  const k = session.map((e) => {
    let i = urls.indexOf(e.url);
    if (i < 0) i = urls.push(e.url) - 1;
    return [e.key, i, versionToWire(e.version)];
  });
  return Buffer.from(JSON.stringify({ v: 1, u: urls, k })).toString('base64url');
}

const bad = (why: string): never => {
  throw new CloudburstError('INVALID_REQUEST', `the session token is malformed (${why}): pass back the ${SESSION_HEADER} of an earlier answer`);
};

const isString = (x: unknown): x is string => typeof x === 'string';

function versionToWire(v: KeyVersion): KeyVersionWire {
  switch (v.kind) {
    case 'register': return { t: 'r', d: v.deps };
    case 'counter': return { t: 'c', e: v.epoch, w: v.totals };
    case 'max': return { t: 'm', e: v.epoch, v: v.value };
    case 'set': return { t: 's', e: v.epoch, n: v.size, h: v.hash };
  }
}

/** A version from a token (untrusted input), with its names spelled out. */
function parseVersion(v: unknown): KeyVersion {
  const o = v as Record<string, unknown> | null;
  if (typeof o !== 'object' || o === null) return bad('a version is not an object');
  switch (o.t) {
    case 'r':
      if (!Array.isArray(o.d) || o.d.length === 0 || o.d.length > MAX_VERSIONS || !o.d.every(isString)) return bad('a register version');
      for (const w of o.d) depFromWire('', w);
      return { kind: 'register', deps: o.d };
    case 'c': {
      const w = o.w as Record<string, unknown> | null;
      if (!isString(o.e) || typeof w !== 'object' || w === null || Array.isArray(w)) return bad('a counter version');
      const entries = Object.entries(w);
      if (entries.length > 1024 || !entries.every(([, e]) => Array.isArray(e) && e.length === 2 && e.every((x) => isString(x) && /^\d{1,20}$/.test(x)))) return bad('a counter version');
      stampFrom(o.e);
      return { kind: 'counter', epoch: o.e, totals: w as Record<string, [string, string]> };
    }
    case 'm':
      if (!isString(o.e) || !(o.v === null || (isString(o.v) && /^-?\d{1,20}$/.test(o.v)))) return bad('a max version');
      stampFrom(o.e);
      return { kind: 'max', epoch: o.e, value: o.v };
    case 's':
      if (!isString(o.e) || !Number.isSafeInteger(o.n) || (o.n as number) < 0 || !isString(o.h) || o.h.length > 64) return bad('a set version');
      stampFrom(o.e);
      return { kind: 'set', epoch: o.e, size: o.n as number, hash: o.h };
    default:
      return bad('unknown version kind');
  }
}

/**
 * Reads a token (untrusted input): 400 INVALID_REQUEST for anything malformed. A key name is
 * checked by `checkKey` (the one key rule), a URL must be http(s).
 */
export function decodeSession(token: unknown, checkKey: (key: string) => unknown): ClientSession {
  if (typeof token !== 'string' || token.length === 0 || token.length > SESSION_MAX_TOKEN || !/^[A-Za-z0-9_-]+$/.test(token)) {
    return bad(`a base64url string of at most ${SESSION_MAX_TOKEN} characters`);
  }
  let doc: { v?: unknown; u?: unknown; k?: unknown };
  try {
    doc = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as typeof doc;
  } catch {
    return bad('not JSON');
  }
  if (typeof doc !== 'object' || doc === null || doc.v !== 1 || !Array.isArray(doc.u) || !Array.isArray(doc.k)) return bad('not a version 1 token');
  const urls = doc.u;
  if (urls.length > SESSION_MAX_KEYS || !urls.every((u) => isString(u) && /^https?:\/\/[^\s/]+$/.test(u))) return bad('a host URL');
  if (doc.k.length > SESSION_MAX_KEYS) return bad(`more than ${SESSION_MAX_KEYS} keys`);
  const seen = new Set<string>();
  return doc.k.map((entry: unknown): SessionEntry => {
    if (!Array.isArray(entry) || entry.length !== 3 || !isString(entry[0]) || !Number.isInteger(entry[1])) return bad('an entry');
    const [key, i, version] = entry as [string, number, unknown];
    if (seen.has(key)) return bad('a key listed twice');
    seen.add(key);
    checkKey(key);
    const url = urls[i];
    if (!isString(url)) return bad('a host index');
    return { key, url, version: parseVersion(version) };
  });
}
