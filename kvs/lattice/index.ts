/** The lattice types, their merge and their codec. See kvs/README.md. */
export { compareStamps, Hlc, STAMP_LIMITS, ZERO_STAMP, type Stamp } from './stamp.ts';
export {
  causalMeta, compactDeps, depCovers, depOn, floorOf, fromVersions, joinVectors, lww, lwwValueView, satisfies, vectorOf, versionLeq, versionsOf,
  type CausalMeta, type Dep, type Lww, type LwwVersion,
} from './lww.ts';
export { isPlainRegister, isRegister, observeRegister, PlainRegisterCodec, registerC, registerMs } from './lww-raw.ts';
export { counter, type Counter, type CounterEntry } from './counter.ts';
export { gset, type GSet } from './set.ts';
export { max, type Max } from './max.ts';
export {
  equals,
  isDeleted,
  isLatticeType,
  LATTICE_TYPES,
  merge,
  tombstoneFor,
  type Lattice,
  type LatticeType,
} from './registry.ts';
export { CODEC_VERSION, decode, encode, peekType } from './codec.ts';
