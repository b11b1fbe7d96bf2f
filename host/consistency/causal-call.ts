// A causal request's view of one call: what it needs of each key before reading it, what it
// observed, and what a new version it writes depends on. See host/README.md, "Consistency".
import { depOn, versionsOf, type Dep, type Lww, type LwwVersion } from '../../kvs/index.ts';
import type { CausalNeed, SessionSpec } from './call-session.ts';
import { dependenciesOf } from './causal-deps.ts';
import { addDepWire, depFromWire, depToWire } from './causal-wire.ts';

/** A causal session's view of a call: what the request needs and what this call added. */
export class CausalCall {
  /** key -> needed versions (wire form) and the host that has them. */
  readonly need = new Map<string, CausalNeed>();
  /** key -> versions the request observed (wire form): what its writes depend on. */
  readonly seen = new Map<string, string[]>();
  /** key -> versions this call observed, with their metadata (what makes other dependencies redundant). */
  readonly #versions = new Map<string, LwwVersion[]>();
  /** This call's additions, for the step's result. */
  readonly addSeen = new Map<string, string[]>();
  readonly addDeps = new Map<string, string[]>();

  constructor(spec: SessionSpec) {
    for (const [k, n] of Object.entries(spec.need ?? {})) this.need.set(k, { ...n, d: [...n.d] });
    for (const [k, list] of Object.entries(spec.seen ?? {})) this.seen.set(k, [...list]);
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
    if (n === undefined) this.need.set(key, { d: [wire] });
    else addDepWire(n.d, key, wire);
  }

  /** What a new version `self` of `key`, over the versions `over` of it, depends on (`dependenciesOf`). */
  depsFor(key: string, self: Lww, over: readonly LwwVersion[], local: (key: string) => Lww | undefined): Dep[] {
    const observed: Dep[] = [];
    for (const [k, list] of this.seen) for (const w of list) observed.push(depFromWire(k, w));
    return dependenciesOf(key, self, observed, over, this.#versions, local);
  }

  result(): { seen: Record<string, string[]>; deps: Record<string, string[]> } {
    return { seen: Object.fromEntries(this.addSeen), deps: Object.fromEntries(this.addDeps) };
  }
}

function add(m: Map<string, string[]>, key: string, wire: string): void {
  const list = m.get(key);
  if (list === undefined) m.set(key, [wire]);
  else addDepWire(list, key, wire);
}
