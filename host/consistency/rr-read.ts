// Repeatable read (the paper's DSRR), one call's part: every read of a key returns the
// request's version of it. See host/README.md, "Consistency".
import { CloudburstError } from '../../common/index.ts';
import { decode, encode, type Lattice } from '../../kvs/index.ts';
import { displayKey } from '../keys.ts';
import { ABSENT_VERSION, versionOf, type ReadVersion, type SessionResult, type SessionSpec, type SnapshotEntry } from './call-session.ts';
import { versionedRead, type CallHistory } from './history.ts';
import type { CallReads, ReadPolicy, SessionBridge } from './read-policy.ts';

interface Pinned {
  value: Lattice | undefined;
  version: string;
}

/**
 * The first read of a key in the call pins its version for the rest of the call: the pin
 * survives what moves an lww call's view on (a read miss fetched mid-call, a durable put, a
 * `recv`). When an upstream step of the request already read (or wrote) the key and this
 * host's cache holds another version, that exact version is fetched from the snapshot of the
 * host that read it. A committed write re-pins the key to the merged value.
 */
export class RepeatableRead implements ReadPolicy {
  readonly #spec: SessionSpec;
  readonly #reads: CallReads;
  readonly #bridge: SessionBridge;
  readonly #history: CallHistory | undefined;
  /** The version of each key the call read, for the whole call. */
  readonly #pins = new Map<string, Pinned>();
  /** First reads the request did not know yet, and writes, for the host's snapshots. */
  readonly #snaps = new Map<string, Omit<SnapshotEntry, 'key'>>();
  /** Parallel branches: versions agreed with the coordinator in this call. */
  readonly #shared = new Map<string, ReadVersion>();

  constructor(spec: SessionSpec, reads: CallReads, bridge: SessionBridge, history: CallHistory | undefined) {
    this.#spec = spec;
    this.#reads = reads;
    this.#bridge = bridge;
    this.#history = history;
  }

  read(key: string): Lattice | undefined {
    let got = this.#pins.get(key);
    if (got === undefined) {
      const { value, v, raw } = versionedRead(this.#reads, key);
      got = { value, version: v };
      const known = this.#spec.reads[key];
      if (known !== undefined && known.version !== v) {
        got = this.#fromSnapshot(key, known);
      } else if (known === undefined && this.#spec.shared) {
        // Parallel branches: the request's version of the key is whichever branch's first
        // read reached the coordinator first (this host keeps a snapshot of its proposal).
        const at = this.#bridge.pin(this.#spec.rid!, key, v, raw === undefined ? null : new Uint8Array(raw));
        if (at.version !== v) got = this.#fromSnapshot(key, at);
        this.#shared.set(key, at);
      } else if (known === undefined) {
        this.#snaps.set(key, { version: v, bytes: raw === undefined ? null : new Uint8Array(raw) });
      }
      this.#pins.set(key, got);
    }
    this.#history?.read(key, got.value, got.version);
    return got.value;
  }

  #fromSnapshot(key: string, at: ReadVersion): Pinned {
    if (at.version === ABSENT_VERSION) return { value: undefined, version: at.version };
    const rid = this.#spec.rid;
    if (rid === undefined) throw new CloudburstError('INTERNAL', `no request id to fetch the snapshot of ${displayKey(key)}`);
    const bytes = this.#bridge.snapshot(rid, key, at);
    return { value: bytes === null ? undefined : decode(bytes), version: at.version };
  }

  committed(merged: ReadonlyMap<string, Lattice>, written: ReadonlyMap<string, Lattice>): void {
    for (const [key, value] of merged) {
      const bytes = encode(value);
      const v = versionOf(bytes);
      this.#pins.set(key, { value, version: v });
      this.#snaps.set(key, { version: v, bytes });
      this.#history?.wrote(key, value, written.get(key), v);
    }
  }

  result(): SessionResult {
    const out: SessionResult = { snaps: [...this.#snaps].map(([key, s]) => ({ key, ...s })), history: this.#history?.ops ?? [] };
    if (this.#shared.size > 0) out.shared = Object.fromEntries(this.#shared);
    return out;
  }
}
