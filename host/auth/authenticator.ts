/**
 * The authenticator of a host with authentication on (host/README.md, "Authentication"):
 * the cluster credential for internal routes and for requests other hosts forward, bearer
 * tokens with scopes for the API. Runs before a request's body is read (routes.ts).
 *
 * Token and tenant records come from the KV tier through a FreshCache with a 1 s age: a
 * revocation, an expiry or a tenant's deletion is effective on every host at most 1 s after
 * the tier acknowledged it, whether or not any push reaches the host. A token appears in no
 * message, log line or audit entry; only its name does.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { CLUSTER_AUTH_HEADER, CloudburstError, TENANT_HEADER, verifyRequest } from '../../common/index.ts';
import { DEFAULT_TENANT } from '../keys.ts';
import type { AuthStore } from './auth-store.ts';
import { FreshCache } from './fresh-cache.ts';
import { requestedTenant, type Authenticator, type Principal, type RouteAccess, type Scope } from './principal.ts';
import { isTokenShaped, tokenHash, tokenStatus, type TenantRecord, type TokenRecord } from './records.ts';

/** How long a record read from the tier is used: the bound on how late a revocation takes effect. */
export const AUTH_CACHE_MAX_AGE_MS = 1000;
/** How long a host that cannot read the tier goes on with the records it read last. */
export const AUTH_CACHE_MAX_STALE_MS = 60_000;
/**
 * How long a lookup waits for a read of a record it has an older copy of, before it goes on
 * with that copy (FreshCache): a replica that stopped answering costs a request this, not the
 * KV client's deadline.
 */
export const AUTH_READ_PATIENCE_MS = 500;
/** Records kept per host (each a few hundred bytes). */
export const AUTH_CACHE_ENTRIES = 10_000;

export interface TokenAuthenticatorOptions {
  clusterSecret: Buffer;
  store: Pick<AuthStore, 'token' | 'tenantRecord'>;
  now?: () => number;
}

const BEARER = /^Bearer ([^\s]+)$/;

function unauthenticated(why: string): CloudburstError {
  return new CloudburstError('UNAUTHENTICATED', `${why}: send \`authorization: Bearer <token>\` (cloudburst token create)`);
}

/** A bearer token this host verified, and what it was verified against. */
interface Verified {
  /** The hex digest of the token: the key of its record in `#tokens`. */
  hash: string;
  /** The record it was checked against: the fast path holds only while `#tokens` answers this very record. */
  record: TokenRecord;
  /** The principal of its requests that name no other tenant. */
  principal: Principal;
}

export class TokenAuthenticator implements Authenticator {
  readonly #secret: Buffer;
  readonly #store: TokenAuthenticatorOptions['store'];
  readonly #now: () => number;
  readonly #tokens: FreshCache<TokenRecord | undefined>;
  readonly #tenants: FreshCache<TenantRecord | undefined>;
  /**
   * The authorization headers verified lately (at most AUTH_CACHE_ENTRIES, the oldest dropped),
   * so that a token's next requests skip its SHA-256, the comparison of digests and the awaits
   * of the records: used only while the token's record and its tenant's, as read for that
   * verification, are still fresh in their caches (AUTH_CACHE_MAX_AGE_MS), so a revocation, an
   * expiry or a tenant's deletion takes effect exactly as late as without it, and `forget`
   * (this host changed the token or tenant) ends it at once. The keys are bearer tokens: they
   * stay in this process's memory, as the requests carrying them do, and are never logged.
   */
  readonly #verified = new Map<string, Verified>();

  constructor(opts: TokenAuthenticatorOptions) {
    this.#secret = opts.clusterSecret;
    this.#store = opts.store;
    this.#now = opts.now ?? Date.now;
    const cache = { maxEntries: AUTH_CACHE_ENTRIES, maxAgeMs: AUTH_CACHE_MAX_AGE_MS, maxStaleMs: AUTH_CACHE_MAX_STALE_MS, patienceMs: AUTH_READ_PATIENCE_MS, now: this.#now };
    this.#tokens = new FreshCache(cache);
    this.#tenants = new FreshCache(cache);
  }

  /** Forgets what this host read of a token or tenant it just changed. */
  forget(what: { hash?: string; tenant?: string }): void {
    // Its verified headers end with the records: `#known` finds them no longer fresh.
    if (what.hash !== undefined) this.#tokens.forget(what.hash);
    if (what.tenant !== undefined) this.#tenants.forget(what.tenant);
  }

  authenticate(req: IncomingMessage, access: RouteAccess): Principal | Promise<Principal> {
    if (access !== 'open' && access !== 'internal' && req.headers[CLUSTER_AUTH_HEADER] === undefined) {
      const known = this.#known(req, access);
      if (known !== undefined) return known;
    }
    return this.#authenticate(req, access);
  }

  /**
   * The principal of a request whose token was verified lately and whose records are still
   * fresh (see `#verified`), without reading or hashing; undefined when the full check must run
   * (it also gives every refusal its message).
   */
  #known(req: IncomingMessage, access: readonly Scope[]): Principal | undefined {
    const header = req.headers.authorization;
    if (header === undefined) return undefined;
    const v = this.#verified.get(header);
    if (v === undefined || this.#tokens.fresh(v.hash) !== v.record || req.headers[TENANT_HEADER] !== undefined) return undefined;
    const { record, principal } = v;
    if (tokenStatus(record, this.#now()) !== 'active') return undefined;
    if (record.tenant !== DEFAULT_TENANT) {
      const tenant = this.#tenants.fresh(record.tenant);
      if (tenant === undefined || tenant.deletedAt !== undefined) return undefined;
    }
    const scopes = (principal as Extract<Principal, { kind: 'token' }>).scopes;
    if (!scopes.has('admin') && !access.some((s) => scopes.has(s))) return undefined;
    return principal;
  }

  async #authenticate(req: IncomingMessage, access: RouteAccess): Promise<Principal> {
    if (access === 'open') return { kind: 'anonymous', tenant: DEFAULT_TENANT };
    if (req.headers[CLUSTER_AUTH_HEADER] !== undefined) {
      if (!verifyRequest(this.#secret, req.method, req.url, req.headers, this.#now())) {
        throw new CloudburstError('UNAUTHENTICATED', 'the cluster signature is not valid (another secret, a stale time, or another request\'s)');
      }
      // A host forwarding a tenant's request acts for the tenant it names (covered by the signature).
      return { kind: 'cluster', tenant: requestedTenant(req) ?? DEFAULT_TENANT };
    }
    if (access === 'internal') {
      if (req.headers.authorization !== undefined) throw new CloudburstError('FORBIDDEN', 'this route is cluster-internal: only hosts and KV nodes of the cluster may call it, no token can');
      throw new CloudburstError('UNAUTHENTICATED', 'this route is cluster-internal: it needs the cluster credential');
    }
    const record = await this.#token(req);
    const scopes = new Set(record.scopes);
    const admin = scopes.has('admin');
    if (!admin && !access.some((s) => scopes.has(s))) {
      throw new CloudburstError('FORBIDDEN', `the token ${JSON.stringify(record.name)} has scopes ${record.scopes.join(',')}; this route needs one of ${access.join(',')}`);
    }
    const asked = requestedTenant(req);
    if (asked !== undefined && asked !== record.tenant) {
      if (!admin) throw new CloudburstError('FORBIDDEN', `the token ${JSON.stringify(record.name)} belongs to tenant ${record.tenant}: only an admin token may act in another tenant`);
      if (!(await this.#tenantAlive(asked))) throw new CloudburstError('UNKNOWN_TENANT', `no tenant named ${JSON.stringify(asked)}`);
    }
    const principal: Principal = { kind: 'token', tenant: asked ?? record.tenant, scopes: scopes as ReadonlySet<Scope>, name: record.name };
    if (asked === undefined) this.#remember(req.headers.authorization!, record, principal);
    return principal;
  }

  #remember(header: string, record: TokenRecord, principal: Principal): void {
    this.#verified.delete(header);
    this.#verified.set(header, { hash: record.hash, record, principal });
    if (this.#verified.size > AUTH_CACHE_ENTRIES) this.#verified.delete(this.#verified.keys().next().value!);
  }

  /** The record of the request's bearer token, if it is live and its tenant exists. */
  async #token(req: IncomingMessage): Promise<TokenRecord> {
    const header = req.headers.authorization;
    if (header === undefined) throw unauthenticated('this route needs a token');
    const m = BEARER.exec(header);
    if (!m || !isTokenShaped(m[1]!)) throw unauthenticated('the authorization header is not a Cloudburst bearer token');
    const digest = tokenHash(m[1]!);
    const hash = digest.toString('hex');
    const record = await this.#tokens.get(hash, () => this.#store.token(hash));
    // The record's own hash, checked in constant time: a record is never taken for another token's.
    const stored = record === undefined ? Buffer.alloc(0) : Buffer.from(record.hash, 'hex');
    if (record === undefined || stored.length !== digest.length || !timingSafeEqual(stored, digest)) throw unauthenticated('unknown token');
    const status = tokenStatus(record, this.#now());
    if (status !== 'active') throw unauthenticated(`the token ${JSON.stringify(record.name)} is ${status}`);
    if (!(await this.#tenantAlive(record.tenant))) throw unauthenticated(`the tenant of the token ${JSON.stringify(record.name)} was deleted`);
    return record;
  }

  /**
   * The `quotas` of a tenant's record as this host last read it (every request with a token of
   * a tenant but `default` reads it, at most 1 s old), without reading: undefined for `default`
   * and for a tenant no request here named yet.
   */
  tenantQuotas(name: string): Record<string, unknown> | undefined {
    const r = this.#tenants.peek(name);
    return r === undefined || r.deletedAt !== undefined ? undefined : r.quotas;
  }

  async #tenantAlive(name: string): Promise<boolean> {
    // `default` can never be deleted: no read.
    if (name === DEFAULT_TENANT) return true;
    const r = await this.#tenants.get(name, () => this.#store.tenantRecord(name));
    return r !== undefined && r.deletedAt === undefined;
  }
}
