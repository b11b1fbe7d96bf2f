/**
 * A tenant's state bytes: an estimate kept in the KV tier as a counter lattice per tenant,
 * `{tenant}/sys/state-bytes`, to which every commit of user state (a call's writes, a
 * `putDurable`, `PUT`/`DELETE /v1/kv`) adds what it changed the size of the keys it wrote by,
 * in the commit's own LMDB transaction (so the count is as durable as the writes, and travels
 * to the tier with them through the outbox). Each thread adds under its own writer id, so
 * no two threads ever race on one entry; the tier merges the hosts' entries and pushes the sum
 * to every host that caches the key.
 *
 * What it counts and where it is off (host/README.md, "Quotas"): a key's UTF-8 name and its
 * encoded value. A write is measured against the value this host's cache holds: a blind write
 * of a key not cached here counts as new (too high, by the replaced value), and a key written
 * on two hosts before either saw the other's write counts twice. A host sees the other hosts'
 * additions once the tier pushed them (milliseconds), so concurrent writers on several hosts
 * can go over the quota by what they wrote meanwhile. It errs high more than low.
 */
import { counter, type Lattice } from '../../kvs/index.ts';
import type { CommitLedger } from '../cache/cache.ts';
import { SPACES, storageKey } from '../keys.ts';
import { quotaExceeded } from './quota-error.ts';

/** The tier key of a tenant's state bytes. */
export function stateBytesKey(tenant: string): string {
  return storageKey(tenant, SPACES.system, 'state-bytes');
}

const USER_SPACE = `/${SPACES.user}/`;
const LEDGER_SUFFIX = `/${SPACES.system}/state-bytes`;

/**
 * Whether a storage key is a tenant's state-bytes ledger. The cache never evicts one: this
 * host's entry in it lives only in its cache (and the tier), and a commit adds to the entry it
 * holds, so an entry evicted and not read back would restart from 0 and lose its count in the
 * merge. (Read back from the tier instead, a commit would wait on the tier: one while the tier
 * is unreachable would hang, where every other commit is acknowledged from the cache.)
 */
export function isStateBytesKey(key: string): boolean {
  return key.endsWith(LEDGER_SUFFIX) && key.indexOf('/') === key.length - LEDGER_SUFFIX.length;
}

/** Whether a storage key is user state (`{tenant}/k/{name}`): what state bytes count. */
export function isUserKey(key: string): boolean {
  const first = key.indexOf('/');
  return first > 0 && key.startsWith(USER_SPACE, first);
}

/** The tenant's state bytes as a ledger entry holds them (0 when there is none yet). */
export function stateBytesOf(value: Lattice | undefined): number {
  return value?.type === 'counter' ? Number(counter.total(value)) : 0;
}

/**
 * The ledger of one tenant's commits made by one thread (`writer`): counts the commit's user
 * keys, and refuses a commit that would take the tenant's state bytes over `limit` (growth
 * only: a commit that frees bytes always passes). A commit never waits for the tier: it adds
 * to this writer's entry as the cache holds it, which is exact (only this host writes it, and
 * the cache never evicts the key, `isStateBytesKey`), and checks the total as the cache knows
 * it: every thread of this host exactly, other hosts' entries as the tier last pushed them. The
 * host fetches the key in the background before a tenant's first commit here
 * (Quotas.jobQuota, Quotas.writeState), so until that read lands a host new to a tenant counts
 * only its own writes.
 */
export class StateLedger implements CommitLedger {
  readonly key: string;
  readonly #tenant: string;
  readonly #writer: string;
  readonly #limit: number;

  constructor(tenant: string, writer: string, limit: number) {
    this.key = stateBytesKey(tenant);
    this.#tenant = tenant;
    this.#writer = writer;
    this.#limit = limit;
  }

  counts(key: string): boolean {
    return isUserKey(key);
  }

  /** @throws CloudburstError `QUOTA_EXCEEDED` (quota `stateBytes`) when the commit would go over the limit. */
  settle(growth: number, current: (key: string) => Lattice | undefined): ReadonlyMap<string, Lattice> {
    const now = current(this.key);
    const entry = now?.type === 'counter' ? now : undefined;
    const used = stateBytesOf(entry);
    if (growth > 0 && used + growth > this.#limit) {
      throw quotaExceeded('stateBytes', this.#limit, `tenant ${this.#tenant} stores about ${used} bytes of state and this write would add ${growth}: its quota is ${this.#limit} bytes (nothing was written)`);
    }
    return new Map([[this.key, counter.add(entry, this.#writer, BigInt(growth))]]);
  }
}
