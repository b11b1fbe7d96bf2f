// What a new causal version depends on. See host/README.md, "Consistency".
import { compactDeps, depCovers, depOn, satisfies, versionsOf, type Dep, type Lww, type LwwVersion } from '../../kvs/index.ts';

/**
 * How long a dependency is carried by new versions. A write this old has reached every host
 * whose subscriptions are live (the tier pushes changes within milliseconds, and a host reads a
 * key again when it renews a lapsed subscription, every 10 s), so new versions stop naming it:
 * without a bound, a key rewritten by requests that read ever other keys would carry all of
 * them for good. The price, stated in host/README.md: a host cut off from a write for longer
 * (a KV node down, a partition) may show a version without it. The cut holds a version waiting
 * for its dependencies as long (CausalCut's holdMs).
 */
export const CAUSAL_WINDOW_MS = 60_000;

/** The most dependencies a new version carries: the newest (a backstop to the window). */
export const MAX_DEPS = 1024;

/**
 * The dependencies of a new version of `key` (`self`: the new version, without dependencies
 * yet), in compact form:
 *
 * - `observed`: the versions the request observed (its writes depend on them);
 * - what the versions of `key` it supersedes (`over`: every version this host holds of the
 *   key) depend on. They are in the new version's past (its version vector), read or not, so
 *   what they depend on is too: a host must not show the new version before that is visible.
 *
 * So a version's dependencies stand for its whole causal past, earlier versions of its own key
 * included (a host admits a version only once its dependencies are visible, and those were
 * admitted the same way). They are kept small by leaving out what another one implies:
 *
 * - per key and writer only the latest (`compactDeps`), and nothing on `key` itself that
 *   `self` has in its past;
 * - on a key the call observed: nothing an observed version has in its past (its vector);
 * - on a key it did not observe (inherited, or from an upstream step): several versions
 *   stand as the one this host holds (`local`) when it has them all in its past. That
 *   version is visible here, and so is its own past; it may be newer than needed, never older;
 * - nothing that a version named above with its metadata at hand (observed, or held here)
 *   depends on: a host admits that version only once its dependencies are visible;
 * - nothing older than CAUSAL_WINDOW_MS, and at most MAX_DEPS.
 */
export function dependenciesOf(
  key: string,
  self: Lww,
  observed: readonly Dep[],
  over: readonly LwwVersion[],
  seen: ReadonlyMap<string, readonly LwwVersion[]>,
  local: (key: string) => Lww | undefined,
): Dep[] {
  const byKey = new Map<string, Dep[]>();
  for (const d of compactDeps([...observed, ...over.flatMap((v) => v.causal?.deps ?? [])])) {
    if (d.key === key && satisfies(self, d)) continue;
    const list = byKey.get(d.key);
    if (list === undefined) byKey.set(d.key, [d]);
    else list.push(d);
  }
  const out: Dep[] = [];
  // The versions named, with their metadata: what they depend on is implied.
  const named: LwwVersion[] = [];
  for (const [k, ds] of byKey) {
    const mine = k === key ? undefined : seen.get(k);
    if (mine !== undefined) {
      out.push(...ds.filter((d) => !mine.some((v) => !sameVersion(depOn(k, v), d) && satisfies(asRegister(v), d))));
      named.push(...mine);
      continue;
    }
    const held = k === key || ds.length < 2 ? undefined : local(k);
    const v = held === undefined ? undefined : versionsOf(held).find((x) => ds.every((d) => satisfies(asRegister(x), d)));
    if (v === undefined) out.push(...ds);
    else {
      out.push(depOn(k, v));
      named.push(v);
    }
  }
  const implied = new Map<string, Dep[]>();
  for (const v of named) {
    for (const d of v.causal?.deps ?? []) {
      const list = implied.get(d.key);
      if (list === undefined) implied.set(d.key, [d]);
      else list.push(d);
    }
  }
  const since = self.stamp.ms - CAUSAL_WINDOW_MS;
  const kept = out.filter((d) => d.at.ms >= since && !implied.get(d.key)?.some((i) => depCovers(i, d)));
  return kept.length <= MAX_DEPS ? kept : [...kept].sort((a, b) => b.at.ms - a.at.ms || b.at.c - a.at.c).slice(0, MAX_DEPS);
}

function sameVersion(a: Dep, b: Dep): boolean {
  return a.plain === b.plain && a.at.ms === b.at.ms && a.at.c === b.at.c && a.at.writer === b.at.writer;
}

/** One version alone as a register (a primary version comes with its siblings attached). */
function asRegister(v: LwwVersion): Lww {
  return { type: 'lww', stamp: v.stamp, tombstone: v.tombstone, value: v.value, ...(v.causal ? { causal: v.causal } : {}) };
}
