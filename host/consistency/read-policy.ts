// How a call in a consistency session reads: one policy object per call, chosen by its
// session (executor/guest-state.ts holds the call's writes and asks the policy for every
// read). A plain lww call has no policy at all: its reads cost what they did before modes
// existed. See host/README.md, "Consistency".
import type { Dep, Lattice, Lww, LwwVersion } from '../../kvs/index.ts';
import type { CausalNeed, ReadVersion, SessionResult, SessionSpec } from './call-session.ts';
import { CausalCall } from './causal-call.ts';
import { CallHistory, RecordedRead } from './history.ts';
import { RepeatableRead } from './rr-read.ts';

/** What a policy reads through: the call's view of this host's cache (GuestState's). */
export interface CallReads {
  /** The cache's value at the call's snapshot, without going to the KV tier on a miss. */
  cached(key: string): Lattice | undefined;
  /**
   * A miss: the main thread reads the KV tier into the cache, once per key and call. Returns
   * whether it fetched (then the snapshot has moved on).
   */
  fetchOnce(key: string): boolean;
  /** The encoded value (fetched on a miss), LMDB's buffer: valid only until the next read on this thread. */
  readRaw(key: string): Uint8Array | undefined;
  /** The main thread changed the cache for this call: read a fresh snapshot from now on. */
  refresh(): void;
}

/** What a policy asks of the main thread (the executor's bridge does it). */
export interface SessionBridge {
  /** The encoded value of version `at.version` of `key` that request `rid` read first (null: absent). */
  snapshot(rid: string, key: string, at: ReadVersion): Uint8Array | null;
  /** Causal: returns once the cache holds a version of `key` with every one of `need.deps` in its past (else throws). */
  ensure(key: string, need: CausalNeed): void;
  /**
   * rr with parallel branches: proposes version `v` (encoded `bytes`, null: absent) as the
   * request's version of `key`; answers the request's version (this one, or another branch's).
   */
  pin(rid: string, key: string, version: string, bytes: Uint8Array | null): ReadVersion;
}

/**
 * The contract every policy keeps (test/host/read-policy.unit.test.ts runs them all over the same
 * script): `read` answers the call's view of a key before its own uncommitted writes (the
 * state merges those in), the same value an lww read would give unless the policy's own rule
 * says otherwise (rr: the version pinned or known upstream; causal: one at least as new as
 * the request depends on); a recorded read's version is `versionOf` the value's encoding in
 * every policy, so histories of different modes compare.
 */
export interface ReadPolicy {
  read(key: string): Lattice | undefined;
  /** The call committed its writes: `written` what it wrote (deltas), `merged` what the cache now holds of those keys. */
  committed(merged: ReadonlyMap<string, Lattice>, written: ReadonlyMap<string, Lattice>): void;
  /**
   * Causal only: what a new version `self` of `key`, over the versions `over` of it this host
   * holds, depends on (the request's observations included). Absent: a register write is
   * plain, unless the key already holds causal versions.
   */
  depsFor?(key: string, self: Lww, over: readonly LwwVersion[], local: (key: string) => Lww | undefined): Dep[];
  /** What the session recorded, for the call's result (after the last commit). */
  result(): SessionResult;
}

/**
 * The policy of a call's session. A history is recorded in any mode: it is an observer the
 * mode's policy tells of each read (with the version it read) and each committed write.
 */
export function readPolicy(spec: SessionSpec, reads: CallReads, bridge: SessionBridge): ReadPolicy {
  const history = spec.history ? new CallHistory() : undefined;
  if (spec.causal) return new CausalCall(spec, reads, bridge, history);
  if (spec.rr) return new RepeatableRead(spec, reads, bridge, history);
  return new RecordedRead(reads, history);
}
