import {
  causalMeta, compareStamps, floorOf, joinVectors, lww, vectorOf, versionsOf, type Hlc, type Lww, type Stamp,
} from '../../kvs/index.ts';
import type { HostCache } from '../cache/cache.ts';
import { dependenciesOf } from '../consistency/causal-deps.ts';
import { isCausal } from '../consistency/causal-wire.ts';
import type { ReadPolicy } from '../consistency/read-policy.ts';

/**
 * A new register version of `key` (a put, or a delete when `value` is null) over `known`,
 * what the call's view holds of it. Plain (last-writer-wins) unless the request is causal
 * (its `policy` has `depsFor`) or the key already holds causal versions: then it carries the
 * key's version vector (every version this host holds of the key is in its past), the latest
 * plain write seen, and its dependencies (`dependenciesOf`): in a causal request, every
 * version of another key the request observed; in any request, what the versions it
 * supersedes depend on.
 */
export function registerWrite(key: string, known: Lww | undefined, value: Uint8Array | null, hlc: Hlc, policy: ReadPolicy | undefined, cache: HostCache): Lww {
  if (policy?.depsFor === undefined && !isCausal(known)) {
    const stamp = hlc.now();
    return value === null ? lww.tombstone(stamp) : lww.write(value, stamp);
  }
  const versions = known === undefined ? [] : versionsOf(known);
  const vc = joinVectors(...versions.map(vectorOf));
  // The new stamp must be after every entry of the vector, this writer's own earlier ones
  // included (a clock that stepped back across a restart must not make the write older).
  for (const e of vc) hlc.observe(e);
  const stamp = hlc.now();
  // Against plain writes a register stays last-writer-wins: the new version supersedes every
  // plain write with an older stamp, seen here or not (its floor is at least its own stamp).
  let floor: Stamp = stamp;
  for (const v of versions) if (compareStamps(floorOf(v), floor) > 0) floor = floorOf(v);
  const self = lww.tombstone(stamp, causalMeta(stamp, vc, floor, []));
  const local = (k: string): Lww | undefined => {
    const v = cache.get(k);
    return v?.type === 'lww' ? v : undefined;
  };
  const deps = policy?.depsFor ? policy.depsFor(key, self, versions, local) : dependenciesOf(key, self, [], versions, new Map(), local);
  const meta = causalMeta(stamp, vc, floor, deps);
  return value === null ? lww.tombstone(stamp, meta) : lww.write(value, stamp, meta);
}
