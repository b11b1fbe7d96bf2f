// One call's part of a consistency session: what the main thread gives the worker with the
// job (SessionSpec) and what the worker gives back with the result (SessionResult). The
// executor's protocol carries these; how a call reads by them is in read-policy.ts.
// See host/README.md, "Consistency".
import { createHash } from 'node:crypto';

/** Version of an absent key in read sets and histories. */
export const ABSENT_VERSION = '-';

/** The version of an encoded value in read sets and histories: a hash of its bytes. */
export function versionOf(encoded: Uint8Array): string {
  return createHash('sha1').update(encoded).digest('base64url').slice(0, 16);
}

/**
 * Where the request's version of a key is held: its version and the host keeping its snapshot
 * (id and URL). In a DAG message it is `{v, host, url}` (`step-session.ts`).
 */
export interface ReadVersion {
  version: string;
  host: string;
  url: string;
}

/**
 * What a causal request needs of a key before reading it: the versions (dependencies in wire
 * form, `causal-wire.ts` `depToWire`) the local value must have in its past, and a host whose
 * cache has them (where the request observed them). In a DAG message it is `{d, h, u}`
 * (`step-session.ts`).
 */
export interface CausalNeed {
  deps: string[];
  /** The id and URL of the host whose cache has them. */
  host?: string;
  url?: string;
}

/** A call's part of a consistency session; absent for plain lww calls. */
export interface SessionSpec {
  /** Repeatable read: pin every key at its first version; follow `reads` from upstream steps. */
  rr: boolean;
  /** Causal: reads never older than what the request depends on; writes depend on its reads. */
  causal?: boolean;
  /** Causal: the versions the request observed so far (read or wrote), by key: what its writes depend on. */
  seen?: Record<string, string[]>;
  /** Causal: what each key's local value must have in its past before the request reads it. */
  need?: Record<string, CausalNeed>;
  /** Record every read and write with its version. */
  history: boolean;
  /** The DAG request id, when the call is a step (for snapshot fetches). */
  rid?: string;
  /**
   * rr in a DAG with parallel branches: a first read the request does not know yet is agreed
   * with the coordinator (another branch may have read the key first).
   */
  shared?: boolean;
  /** The request's versions so far (upstream steps' first reads and writes). */
  reads: Record<string, ReadVersion>;
}

/**
 * A register version in a history (see host/README.md, "Consistency"). Histories are built in
 * the shape `?history=1` answers with, short names included: the hosts only pass the records
 * along (to the next step, the coordinator, the client; a join reads an event's step and
 * position, nothing else), so there is no boundary to convert at.
 */
export interface VersionInfo {
  /** The write's stamp, `ms.c.writer`. */
  id: string;
  /** Version vector, writer -> `ms.c`, own entry included; `{}` for a plain (lww) version. */
  vc: Record<string, string>;
  /** The latest plain write in its past, `ms.c.writer` (a plain version: its own id). */
  f: string;
}

/** One read or write of a call, as a history records it. */
export interface HistoryOp {
  op: 'r' | 'w';
  key: string;
  v: string;
  /** Registers only: the versions read (primary first; none when absent), or the one written. */
  ver?: VersionInfo[];
}

/** A first read of a call that the request did not know, or a write: its version and encoded value (null: absent). */
export interface SnapshotEntry {
  key: string;
  version: string;
  bytes: Uint8Array | null;
}

export interface SessionResult {
  /** First reads of this call that the request did not know, and its writes (rr only). */
  snaps: SnapshotEntry[];
  history: HistoryOp[];
  /** rr with parallel branches: the request's versions agreed with the coordinator in this call. */
  shared?: Record<string, ReadVersion>;
  /** Causal: versions this call observed (read or wrote), by key, in wire form. */
  seen?: Record<string, string[]>;
  /** Causal: the dependencies of the versions this call read, by key, in wire form. */
  deps?: Record<string, string[]>;
}
