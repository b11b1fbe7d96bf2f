/**
 * The front door of the KV tier: everything other folders may use. Import from here, never
 * from files inside kvs/. (Errors and the HTTP layer the tier shares with the host are in
 * common/index.ts.)
 */
export * from './lattice/index.ts';
export {
  checkKey,
  decodeFrame,
  encodeFrame,
  FRAME_MISSING,
  KV_CONTENT_TYPES,
  KV_HEADERS,
  KV_LIMITS,
  KV_PATHS,
  KV_ROUTES,
  keyPath,
  SUBSCRIBER_PUSH_PATH,
  type FrameEntry,
  type KvRoute,
  type KvRouteName,
} from './protocol.ts';
export { LatticeStore, STORE_DB_NAME, type FsyncPolicy, type LatticeStoreOptions, type MergeResult } from './store.ts';
export { startKvNode, type KvNode, type KvNodeOptions } from './server.ts';
export { KvClient, type KvClientOptions } from './client.ts';
export { SEED_RESOLVE_MS, Seeds, systemLookup, type Lookup, type SeedsOptions } from './seeds.ts';
export type { RingInfo } from './cluster/gossip.ts';
export { Ring, ringShares } from './cluster/ring.ts';
export type { Member, MemberState } from './cluster/membership.ts';
