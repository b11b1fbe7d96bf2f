// A causal request's view of one call (its read policy): what it needs of each key before
// reading it, what it observed, and what a new version it writes depends on.
// See host/README.md, "Consistency".
import { CloudburstError } from '../../common/index.ts';
import { depOn, satisfies, versionsOf, type Dep, type Lattice, type Lww, type LwwVersion } from '../../kvs/index.ts';
import { displayKey } from '../keys.ts';
import type { CausalNeed, SessionResult, SessionSpec } from './call-session.ts';
import { dependenciesOf } from './causal-deps.ts';
import { addDepWire, depFromWire, depToWire } from './causal-wire.ts';
import type { CallHistory } from './history.ts';
import type { CallReads, ReadPolicy, SessionBridge } from './read-policy.ts';

/** A causal session's view of a call: what the request needs and what this call added. */
export class CausalCall implements ReadPolicy {
  /** key -> needed versions (wire form) and the host that has them. */
  readonly need = new Map<string, CausalNeed>();
  /** key -> versions the request observed (wire form): what its writes depend on. */
  readonly seen = new Map<string, string[]>();
  /** key -> versions this call observed, with their metadata (what makes other dependencies redundant). */
  readonly #versions = new Map<string, LwwVersion[]>();
  /** This call's additions, for the step's result. */
  readonly addSeen = new Map<string, string[]>();
  readonly addDeps = new Map<string, string[]>();
  readonly #reads: CallReads;
  readonly #bridge: SessionBridge;
  readonly #history: CallHistory | undefined;

  constructor(spec: SessionSpec, reads: CallReads, bridge: SessionBridge, history: CallHistory | undefined) {
    for (const [k, n] of Object.entries(spec.need ?? {})) this.need.set(k, { ...n, deps: [...n.deps] });
    for (const [k, list] of Object.entries(spec.seen ?? {})) this.seen.set(k, [...list]);
    this.#reads = reads;
    this.#bridge = bridge;
    this.#history = history;
  }

  /**
   * A register's value must have in its past every version the request depends on (what it
   * read or wrote upstream, and their dependencies); when this host's cache is behind, the
   * main thread brings it up to date (from the host that has them, else the KV tier) before
   * the read goes on. Counters, sets and max carry no causal metadata and read as under lww.
   */
  read(key: string): Lattice | undefined {
    const reads = this.#reads;
    let got = reads.cached(key);
    if (got === undefined && reads.fetchOnce(key)) got = reads.cached(key);
    if (got === undefined || got.type === 'lww') {
      const need = this.need.get(key);
      const met = (): boolean => need === undefined || need.deps.every((w) => satisfies(got as Lww | undefined, depFromWire(key, w)));
      if (!met()) {
        this.#bridge.ensure(key, need!);
        reads.refresh();
        got = reads.cached(key);
        if (!met()) {
          throw new CloudburstError('CONSISTENCY_UNAVAILABLE', `no version of ${displayKey(key)} as new as the request depends on reached this host`);
        }
      }
      if (got !== undefined) this.observe(key, got as Lww);
    }
    this.#history?.read(key, got);
    return got;
  }

  /** The request's own writes are observed too: its later writes depend on them. */
  committed(merged: ReadonlyMap<string, Lattice>, written: ReadonlyMap<string, Lattice>): void {
    for (const [key, value] of merged) {
      const mine = written.get(key);
      if (mine?.type === 'lww') this.observe(key, mine);
      this.#history?.wrote(key, value, mine);
    }
  }

  /**
   * The request observed these versions of `key` (a read or a write): later reads must not go
   * back, neither on this key nor on what they depend on.
   */
  observe(key: string, value: Lww): void {
    for (const v of versionsOf(value)) {
      const wire = depToWire(depOn(key, v));
      add(this.seen, key, wire);
      add(this.addSeen, key, wire);
      this.#needs(key, wire);
      const known = this.#versions.get(key);
      if (known === undefined) this.#versions.set(key, [v]);
      else known.push(v);
      for (const d of v.causal?.deps ?? []) {
        const dw = depToWire(d);
        add(this.addDeps, d.key, dw);
        this.#needs(d.key, dw);
      }
    }
  }

  #needs(key: string, wire: string): void {
    const n = this.need.get(key);
    if (n === undefined) this.need.set(key, { deps: [wire] });
    else addDepWire(n.deps, key, wire);
  }

  /** What a new version `self` of `key`, over the versions `over` of it, depends on (`dependenciesOf`). */
  depsFor(key: string, self: Lww, over: readonly LwwVersion[], local: (key: string) => Lww | undefined): Dep[] {
    const observed: Dep[] = [];
    for (const [k, list] of this.seen) for (const w of list) observed.push(depFromWire(k, w));
    return dependenciesOf(key, self, observed, over, this.#versions, local);
  }

  result(): SessionResult {
    return { snaps: [], history: this.#history?.ops ?? [], seen: Object.fromEntries(this.addSeen), deps: Object.fromEntries(this.addDeps) };
  }
}

function add(m: Map<string, string[]>, key: string, wire: string): void {
  const list = m.get(key);
  if (list === undefined) m.set(key, [wire]);
  else addDepWire(list, key, wire);
}
