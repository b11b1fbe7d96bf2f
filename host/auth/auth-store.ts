/**
 * Tenants and tokens in the KV tier (layout in records.ts). Every read here is the tier's
 * "read all" (`getFresh`: the merge of enough replicas that no acknowledged write is missed),
 * never the host's cache, so a revocation acknowledged by the tier is what the next read sees,
 * whichever host wrote it and whether or not a push arrived.
 */
import { CloudburstError } from '../../common/index.ts';
import { gset, lww, type Hlc, type KvClient, type Lattice } from '../../kvs/index.ts';
import { DEFAULT_TENANT } from '../keys.ts';
import { checkTenantName, type Scope } from './principal.ts';
import {
  AUTH_KEYS, DEFAULT_TENANT_RECORD, checkTokenName, newToken, tokenHash, tokenInfo, tokenStatus,
  type TenantRecord, type TokenInfo, type TokenRecord,
} from './records.ts';

/** What the store needs of the tier: KvClient's reads and writes. */
export type AuthTier = Pick<KvClient, 'getFresh' | 'merge' | 'mergeBatch'>;

export interface NewToken {
  tenant: string;
  scopes: Scope[];
  name: string;
  expiresInSeconds?: number;
}

function json<T>(v: Lattice | undefined): T | undefined {
  if (v === undefined || v.type !== 'lww' || v.tombstone) return undefined;
  return JSON.parse(Buffer.from(v.value).toString('utf8')) as T;
}

function names(v: Lattice | undefined): string[] {
  if (v === undefined || v.type !== 'set') return [];
  return v.members.map((m) => Buffer.from(m).toString('utf8'));
}

export class AuthStore {
  readonly #kv: AuthTier;
  readonly #hlc: Hlc;
  readonly #now: () => number;

  constructor(kv: AuthTier, hlc: Hlc, now: () => number = Date.now) {
    this.#kv = kv;
    this.#hlc = hlc;
    this.#now = now;
  }

  #put(key: string, record: unknown): Promise<Lattice> {
    return this.#kv.merge(key, lww.write(Buffer.from(JSON.stringify(record)), this.#hlc.now()));
  }

  /** A token's record by its hash (hex), as stored: revoked and expired ones too. */
  async token(hash: string): Promise<TokenRecord | undefined> {
    return json<TokenRecord>(await this.#kv.getFresh(AUTH_KEYS.token(hash)));
  }

  /** A tenant's record, deleted ones too (`deletedAt`); `default` always has one. */
  async tenantRecord(name: string): Promise<TenantRecord | undefined> {
    const stored = json<TenantRecord>(await this.#kv.getFresh(AUTH_KEYS.tenant(name)));
    return stored ?? (name === DEFAULT_TENANT ? DEFAULT_TENANT_RECORD : undefined);
  }

  /**
   * A tenant that exists (not deleted).
   * @throws CloudburstError `UNKNOWN_TENANT`
   */
  async tenant(name: string): Promise<TenantRecord> {
    const r = await this.tenantRecord(checkTenantName(name));
    if (r === undefined || r.deletedAt !== undefined) throw new CloudburstError('UNKNOWN_TENANT', `no tenant named ${JSON.stringify(name)}`);
    return r;
  }

  /**
   * Creates a tenant. A name that was ever used (`default`, a deleted tenant's) is taken.
   * The name joins the list before the record is written: a crash between the two leaves a
   * listed name without a record, which listing skips and a new create may take.
   *
   * @throws CloudburstError `INVALID_NAME`, `NAME_TAKEN`
   */
  async createTenant(name: string, quotas: Record<string, unknown>): Promise<TenantRecord> {
    checkTenantName(name);
    const existing = await this.tenantRecord(name);
    if (existing !== undefined) {
      const why = existing.deletedAt === undefined ? 'exists' : `was deleted at ${existing.deletedAt} and its name is not reused (its data is still in the tier)`;
      throw new CloudburstError('NAME_TAKEN', `the tenant ${JSON.stringify(name)} ${why}`);
    }
    const record: TenantRecord = { name, createdAt: new Date(this.#now()).toISOString(), quotas };
    await this.#kv.merge(AUTH_KEYS.tenantNames, gset.add(undefined, Buffer.from(name)));
    await this.#put(AUTH_KEYS.tenant(name), record);
    return record;
  }

  /** Tenants that exist, by name (`default` first among equals: always there). */
  async tenants(): Promise<TenantRecord[]> {
    const listed = new Set([DEFAULT_TENANT, ...names(await this.#kv.getFresh(AUTH_KEYS.tenantNames))]);
    const records = await Promise.all([...listed].map((n) => this.tenantRecord(n)));
    return records.filter((r): r is TenantRecord => r !== undefined && r.deletedAt === undefined).sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /**
   * Deletes a tenant: its record gets `deletedAt` (every host refuses its tokens from then on,
   * within the authenticator's cache age), then its tokens are revoked too, so listings say
   * so. Its modules, DAGs and keys stay in the tier, out of every request's reach.
   *
   * @throws CloudburstError `INVALID_REQUEST` for `default`, `UNKNOWN_TENANT`
   */
  async deleteTenant(name: string): Promise<{ deleted: string; revokedTokens: string[] }> {
    if (name === DEFAULT_TENANT) throw new CloudburstError('INVALID_REQUEST', 'the tenant default cannot be deleted');
    const record = await this.tenant(name);
    await this.#put(AUTH_KEYS.tenant(name), { ...record, deletedAt: new Date(this.#now()).toISOString() });
    const revokedTokens: string[] = [];
    for (const t of await this.#records()) {
      if (t.tenant !== name || t.revokedAt !== undefined) continue;
      await this.#put(AUTH_KEYS.token(t.hash), { ...t, revokedAt: new Date(this.#now()).toISOString() });
      revokedTokens.push(t.name);
    }
    return { deleted: name, revokedTokens: [...new Set(revokedTokens)].sort() };
  }

  /** The records of the tokens of one name. */
  async #named(name: string): Promise<TokenRecord[]> {
    const hashes = names(await this.#kv.getFresh(AUTH_KEYS.tokenName(name)));
    const records = await Promise.all(hashes.map((h) => this.token(h)));
    return records.filter((r): r is TokenRecord => r !== undefined);
  }

  async #records(): Promise<TokenRecord[]> {
    const all = await Promise.all(names(await this.#kv.getFresh(AUTH_KEYS.tokenNames)).map((n) => this.#named(n)));
    return all.flat();
  }

  /**
   * Creates a token and returns it (the only time it exists outside its holder) with its
   * record. The name's set and the list of names are written before the record, so a token
   * that works can always be found by its name (a crash in between leaves a hash without a
   * record, which nothing accepts).
   *
   * @throws CloudburstError `INVALID_NAME`, `UNKNOWN_TENANT`, `NAME_TAKEN` (a live token has the name)
   */
  async createToken(spec: NewToken, given?: string): Promise<{ token: string; info: TokenInfo }> {
    checkTokenName(spec.name);
    await this.tenant(spec.tenant);
    const now = this.#now();
    if ((await this.#named(spec.name)).some((r) => tokenStatus(r, now) === 'active')) {
      throw new CloudburstError('NAME_TAKEN', `a token named ${JSON.stringify(spec.name)} exists (revoke it first to reuse the name)`);
    }
    // `given`: a token already held (the embedded admin token's file, provision.ts) whose record
    // this tier does not have; otherwise a new one.
    const token = given ?? newToken();
    const hash = tokenHash(token).toString('hex');
    const record: TokenRecord = {
      name: spec.name, tenant: spec.tenant, scopes: [...spec.scopes], hash, createdAt: new Date(now).toISOString(),
      ...(spec.expiresInSeconds === undefined ? {} : { expiresAt: new Date(now + spec.expiresInSeconds * 1000).toISOString() }),
    };
    await this.#kv.merge(AUTH_KEYS.tokenName(spec.name), gset.add(undefined, Buffer.from(hash)));
    await this.#kv.merge(AUTH_KEYS.tokenNames, gset.add(undefined, Buffer.from(spec.name)));
    await this.#put(AUTH_KEYS.token(hash), record);
    return { token, info: tokenInfo(record, now) };
  }

  /** Every token's record (revoked and expired too), of one tenant when given, by name. */
  async tokens(tenant?: string): Promise<TokenInfo[]> {
    const now = this.#now();
    return (await this.#records())
      .filter((r) => tenant === undefined || r.tenant === tenant)
      .sort((a, b) => (a.name === b.name ? a.createdAt.localeCompare(b.createdAt) : a.name < b.name ? -1 : 1))
      .map((r) => tokenInfo(r, now));
  }

  /**
   * Revokes every token of a name that is not revoked yet; returns their records.
   * @throws CloudburstError `INVALID_NAME`, `UNKNOWN_TOKEN` (no token of that name left to revoke)
   */
  async revokeToken(name: string): Promise<TokenRecord[]> {
    checkTokenName(name);
    const now = this.#now();
    const live = (await this.#named(name)).filter((r) => r.revokedAt === undefined);
    if (live.length === 0) throw new CloudburstError('UNKNOWN_TOKEN', `no token named ${JSON.stringify(name)} to revoke`);
    const revokedAt = new Date(now).toISOString();
    const revoked = live.map((r) => ({ ...r, revokedAt }));
    for (const r of revoked) await this.#put(AUTH_KEYS.token(r.hash), r);
    return revoked;
  }
}
