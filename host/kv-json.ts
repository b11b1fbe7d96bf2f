import { CloudburstError, parseJsonBody } from '../common/index.ts';
import {
  KV_LIMITS, counter, gset, isLatticeType, lww, max, merge, versionsOf,
  type Hlc, type Lattice, type LatticeType,
} from '../kvs/index.ts';

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

function text(bytes: Uint8Array): { value: string } | { base64: string } {
  try {
    return { value: strictUtf8.decode(bytes) };
  } catch {
    return { base64: Buffer.from(bytes).toString('base64') };
  }
}

/**
 * The JSON a user sees for a stored value (`GET /v1/kv/{key}`):
 * `{"key", "type", "value"}`; LWW bytes that are not UTF-8 come as `"base64"` instead of
 * `"value"`, and so do such set members (as `{"base64": ...}` elements). A register with
 * concurrent versions also lists them all under `"versions"`. LWW values carry their size
 * (`"bytes"`).
 */
export function latticeToJson(key: string, v: Lattice): Record<string, unknown> {
  switch (v.type) {
    case 'lww': {
      const out: Record<string, unknown> = { key, type: 'lww', ...text(v.value), bytes: v.value.byteLength, updatedAt: new Date(v.stamp.ms).toISOString() };
      // Concurrent versions (causal writes that did not see each other): all of them, the primary first.
      if (v.siblings && v.siblings.length > 0) {
        out.versions = versionsOf(v).filter((x) => !x.tombstone).map((x) => ({ ...text(x.value), updatedAt: new Date(x.stamp.ms).toISOString() }));
      }
      return out;
    }
    case 'counter':
      return { key, type: 'counter', value: counter.total(v) };
    case 'set':
      return { key, type: 'set', value: v.members.map((m) => { const t = text(m); return 'value' in t ? t.value : t; }) };
    case 'max':
      return { key, type: 'max', value: v.value };
  }
}

/**
 * The answer to a write (`PUT /v1/kv/{key}`): what the key holds now, without repeating what
 * the writer sent (a register's bytes, a set's members, which can be megabytes): a register's
 * size and time, a set's number of members; a counter's total and a maximum's value, which
 * are a number each and new to the writer (the merge of every writer's).
 *
 * @example
 * writeAnswer('greeting', lww.write(Buffer.from('hello'), stamp)); // { key: 'greeting', type: 'lww', bytes: 5, updatedAt: '2026-...' }
 * writeAnswer('visits', counterValue);                              // { key: 'visits', type: 'counter', value: 7 }
 */
export function writeAnswer(key: string, v: Lattice): Record<string, unknown> {
  switch (v.type) {
    case 'lww': {
      const out: Record<string, unknown> = { key, type: 'lww', bytes: v.value.byteLength, updatedAt: new Date(v.stamp.ms).toISOString() };
      if (v.siblings && v.siblings.length > 0) out.versions = versionsOf(v).filter((x) => !x.tombstone).length;
      return out;
    }
    case 'set':
      return { key, type: 'set', members: v.members.length };
    default:
      return latticeToJson(key, v);
  }
}

function int64(v: unknown, what: string): bigint {
  if (typeof v === 'number' && Number.isSafeInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?\d{1,19}$/.test(v)) {
    const n = BigInt(v);
    if (n >= -(1n << 63n) && n < 1n << 63n) return n;
  }
  throw new CloudburstError('INVALID_REQUEST', `${what} must be a 64-bit integer (a number, or a decimal string beyond 2^53)`);
}

/**
 * Turns a `PUT /v1/kv/{key}?type=...` body into the lattice delta to merge:
 * - `lww` (default): the raw body bytes are the value;
 * - `counter`: JSON `5` or `{"add": 5}` adds to the counter;
 * - `set`: JSON `"member"` or `["a", "b"]` adds members (UTF-8);
 * - `max`: JSON `7` raises the max.
 */
export function deltaFromBody(type: string | null, body: Buffer, current: Lattice | undefined, hlc: Hlc, writer: string): Lattice {
  const t: LatticeType = (type ?? 'lww') as LatticeType;
  if (!isLatticeType(t)) throw new CloudburstError('KV_UNKNOWN_TYPE', `unknown lattice type ${JSON.stringify(type)}: use lww, counter, set or max`);
  if (current !== undefined && current.type !== t) {
    throw new CloudburstError('KV_TYPE_MISMATCH', `the key holds a ${current.type}; it cannot be written as a ${t}`);
  }
  switch (t) {
    case 'lww':
      if (body.byteLength > KV_LIMITS.maxRegisterBytes) {
        throw new CloudburstError('KV_VALUE_TOO_LARGE', `a value of ${body.byteLength} bytes is over the limit of ${KV_LIMITS.maxRegisterBytes} bytes for one key`);
      }
      return lww.write(new Uint8Array(body), hlc.now());
    case 'counter': {
      const j = parseJsonBody(body) as { add?: unknown } | number | string;
      const by = int64(typeof j === 'object' && j !== null ? j.add : j, 'the counter increment');
      return counter.add(current?.type === 'counter' ? current : undefined, writer, by);
    }
    case 'set': {
      const j = parseJsonBody(body);
      const members = typeof j === 'string' ? [j] : j;
      if (!Array.isArray(members) || members.length === 0 || !members.every((m) => typeof m === 'string')) {
        throw new CloudburstError('INVALID_REQUEST', 'a set write is a string or a non-empty array of strings');
      }
      let acc: Lattice | undefined;
      const base = current?.type === 'set' ? current : undefined;
      for (const m of members as string[]) {
        const d = gset.add(base, Buffer.from(m, 'utf8'));
        acc = acc === undefined ? d : merge(acc, d);
      }
      return acc!;
    }
    case 'max':
      return max.put(current?.type === 'max' ? current : undefined, int64(parseJsonBody(body), 'the max value'));
  }
}
