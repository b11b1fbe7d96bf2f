// The causal cut's rule of admission, apart from its machinery (the cache, timers, fetches in
// causal.ts): when a version's dependencies are met, which held versions may go in together,
// and which held keys a held key can go in only with. Functions of values alone.
// See host/README.md, "Consistency".
import { depCovers, fromVersions, satisfies, versionsOf, type Dep, type Lww, type LwwVersion } from '../../kvs/index.ts';

/** Whether dependency `d` of a version of `key` is met. */
export type DepTest = (key: string, d: Dep) => boolean;

/** Versions held aside by key; every held version carries causal metadata. */
export type HeldValues = ReadonlyMap<string, { readonly value: Lww }>;

/**
 * The test of a held or arriving version's dependencies for one pass, reading each key's
 * local value (`local`) once: `met(key, d)` when dependency `d` of a version of `key` is
 * visible here, or is one a version of `key` held here already depends on (checked when that
 * one was admitted: a version inherits the dependencies of those it supersedes, so most of an
 * arriving version's were checked before).
 */
export function depChecker(local: (key: string) => Lww | undefined): DepTest {
  const values = new Map<string, Lww | undefined>();
  const get = (k: string): Lww | undefined => {
    if (!values.has(k)) values.set(k, local(k));
    return values.get(k);
  };
  const checked = new Map<string, Map<string, Dep[]>>();
  return (key, d) => {
    let index = checked.get(key);
    if (index === undefined) {
      index = new Map();
      const held = get(key);
      for (const v of held === undefined ? [] : versionsOf(held)) {
        for (const x of v.causal?.deps ?? []) {
          const list = index.get(x.key);
          if (list === undefined) index.set(x.key, [x]);
          else list.push(x);
        }
      }
      checked.set(key, index);
    }
    return index.get(d.key)?.some((x) => depCovers(x, d)) === true || satisfies(get(d.key), d);
  };
}

/**
 * The largest set of held versions whose dependencies are all met, by `check` or by versions
 * of the set: start from every held version and drop those with a dependency met by neither,
 * until nothing more drops. What remains is closed, so it can go in together. Every held key
 * maps to its versions in the set (none, maybe).
 */
export function closedSubset(held: HeldValues, check: DepTest): Map<string, LwwVersion[]> {
  const cand = new Map<string, LwwVersion[]>();
  for (const [key, h] of held) cand.set(key, [...versionsOf(h.value)]);
  const asValue = (vs: readonly LwwVersion[] | undefined): Lww | undefined => (vs && vs.length > 0 ? fromVersions(vs) : undefined);
  const met = (key: string, d: Dep): boolean => check(key, d) || satisfies(asValue(cand.get(d.key)), d);
  for (let changed = true; changed;) {
    changed = false;
    for (const [key, vs] of cand) {
      const keep = vs.filter((v) => v.causal!.deps.every((d) => met(key, d)));
      if (keep.length !== vs.length) {
        changed = true;
        cand.set(key, keep);
      }
    }
  }
  return cand;
}

/**
 * Adds to `keys` every held key that their held versions depend on, transitively: a root can
 * go in only with them, so what they need is brought too.
 */
export function closeOverHeld(held: HeldValues, keys: Set<string>): void {
  const queue = [...keys];
  for (let key = queue.pop(); key !== undefined; key = queue.pop()) {
    const h = held.get(key);
    if (h === undefined) continue;
    for (const v of versionsOf(h.value)) {
      for (const d of v.causal!.deps) {
        if (!keys.has(d.key) && held.has(d.key)) {
          keys.add(d.key);
          queue.push(d.key);
        }
      }
    }
  }
}
