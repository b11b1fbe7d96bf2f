import { CloudburstError } from '../../common/index.ts';
import type { Hlc, Lattice, LatticeType, Lww } from '../../kvs/index.ts';
import type { HostCache } from '../cache/cache.ts';
import { isCausal } from '../consistency/causal-wire.ts';
import { displayKey } from '../keys.ts';
import { registerWrite } from './register-write.ts';

/**
 * A guest used a key as the wrong lattice type.
 *
 * @example
 * throw typeMismatch('default/k/n', 'counter', 'lww'); // key "n" holds a counter, not a lww: ...
 */
export function typeMismatch(key: string, holds: LatticeType, wanted: LatticeType): CloudburstError {
  const name = displayKey(key);
  return new CloudburstError('KV_TYPE_MISMATCH', `key ${JSON.stringify(name)} holds a ${holds}, not a ${wanted}: use another key, or delete this one (cloudburst kv delete KEY)`, { key: name });
}

/**
 * A blind put (GuestState.put of a call without a session: a plain write, nothing read at
 * put time) once the stored value `current` is known, at the commit (inside its
 * transaction) or at a read of the key in the same call: over a plain register the write
 * stays as it is (last writer wins); over causal versions or siblings it becomes the register
 * write a put made when it read first (register-write.ts: the key's version vector and the
 * dependencies of the versions it supersedes); over another type it is KV_TYPE_MISMATCH.
 */
export function resolveBlindPut(key: string, current: Lattice, write: Lww, hlc: Hlc, cache: HostCache): Lattice {
  if (current.type !== 'lww') throw typeMismatch(key, current.type, 'lww');
  return isCausal(current) ? registerWrite(key, current, write.value, hlc, undefined, cache) : write;
}
