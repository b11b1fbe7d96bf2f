// Recorded histories (`?history=1`): every read and write of a request with its version, for
// checking (tools/workload/history.ts). See host/README.md, "Consistency".
import { decode, encode, floorOf, vectorOf, versionsOf, type Lattice, type LwwVersion } from '../../kvs/index.ts';
import { ABSENT_VERSION, versionOf, type HistoryOp, type SessionResult, type VersionInfo } from './call-session.ts';
import { stampId } from './causal-wire.ts';
import type { CallReads, ReadPolicy } from './read-policy.ts';

/** One recorded read or write: what the history checker (tools/workload/history.ts) reads. */
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

/** A version as histories record it. */
export function versionInfo(v: LwwVersion): VersionInfo {
  const vc: Record<string, string> = {};
  for (const e of vectorOf(v)) vc[e.writer] = `${e.ms}.${e.c}`;
  return { id: stampId(v.stamp), vc, f: stampId(floorOf(v)) };
}

/** One call's operations, in order, as its session's policy reports them. */
export class CallHistory {
  readonly ops: HistoryOp[] = [];

  /** A read: `got` the value the call saw before its own uncommitted writes, `v` its version when the policy knows it. */
  read(key: string, got: Lattice | undefined, v?: string): void {
    let version = v;
    if (version === undefined) {
      const raw = got === undefined ? undefined : encode(got);
      version = raw === undefined ? ABSENT_VERSION : versionOf(raw);
    }
    const ver = got === undefined ? [] : got.type === 'lww' ? versionsOf(got).map(versionInfo) : undefined;
    this.ops.push({ op: 'r', key, v: version, ...(ver ? { ver } : {}) });
  }

  /** A committed write: `merged` what the cache now holds, `mine` what the call wrote, `v` the version of `merged` when known. */
  wrote(key: string, merged: Lattice, mine: Lattice | undefined, v?: string): void {
    const version = v ?? versionOf(encode(merged));
    this.ops.push({ op: 'w', key, v: version, ...(mine?.type === 'lww' ? { ver: versionsOf(mine).map(versionInfo) } : {}) });
  }
}

/**
 * A recorded lww call: it reads as lww does (whatever the cache holds when the read happens),
 * each read with the version of the bytes it read.
 */
export class RecordedRead implements ReadPolicy {
  readonly #reads: CallReads;
  readonly #history: CallHistory | undefined;

  constructor(reads: CallReads, history: CallHistory | undefined) {
    this.#reads = reads;
    this.#history = history;
  }

  read(key: string): Lattice | undefined {
    const { value, v } = versionedRead(this.#reads, key);
    this.#history?.read(key, value, v);
    return value;
  }

  committed(merged: ReadonlyMap<string, Lattice>, written: ReadonlyMap<string, Lattice>): void {
    if (this.#history) for (const [key, value] of merged) this.#history.wrote(key, value, written.get(key));
  }

  result(): SessionResult {
    return { snaps: [], history: this.#history?.ops ?? [] };
  }
}

/**
 * A read with its version: the hash of the encoded bytes (`ABSENT_VERSION` for an absent key).
 * `raw` is LMDB's reused buffer, hashed and decoded (a copy) before any other read: copy it
 * before the next read to keep it.
 */
export function versionedRead(reads: CallReads, key: string): { value: Lattice | undefined; v: string; raw: Uint8Array | undefined } {
  const raw = reads.readRaw(key);
  const v = raw === undefined ? ABSENT_VERSION : versionOf(raw);
  return { value: raw === undefined ? undefined : decode(raw), v, raw };
}
