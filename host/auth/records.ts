/**
 * Tokens and tenants as the KV tier stores them: their records, where they live, and the
 * rules of their names. Everything here is under the tenant `_system`, which no tenant name can
 * be (`checkTenantName` allows no `_`), so neither a guest nor `/v1/kv` can name these keys.
 *
 * - `_system/tok/{sha256 hex}`: a token's record (JSON in an LWW register); the token itself
 *   is never stored. Revoking rewrites it with `revokedAt`.
 * - `_system/tokname/{name}`: the hashes of the tokens of that name (a grow-only set). Names
 *   are unique among live tokens; revoking by name revokes every hash of the set, so that two
 *   hosts creating one name at the same moment still leave nothing revocation cannot reach.
 * - `_system/tenant/{name}`: a tenant's record; deleting it writes `deletedAt` (the name is
 *   never reused, see host/README.md, "Tenants and tokens").
 * - `_system/sys/tokens`, `_system/sys/tenants`: the names, for listing.
 */
import { createHash, randomBytes } from 'node:crypto';
import { CloudburstError } from '../../common/index.ts';
import { DEFAULT_TENANT, SPACES, storageKey } from '../keys.ts';
import type { Scope } from './principal.ts';

/** The tenant of platform records: not a valid tenant name, so no request can act in it. */
export const SYSTEM_TENANT = '_system';

export const AUTH_KEYS = {
  token: (hash: string): string => storageKey(SYSTEM_TENANT, SPACES.token, hash),
  tokenName: (name: string): string => storageKey(SYSTEM_TENANT, SPACES.tokenName, name),
  tenant: (name: string): string => storageKey(SYSTEM_TENANT, SPACES.tenant, name),
  tokenNames: storageKey(SYSTEM_TENANT, SPACES.system, 'tokens'),
  tenantNames: storageKey(SYSTEM_TENANT, SPACES.system, 'tenants'),
} as const;

/** What the tier keeps of a token. `hash` is its key's, checked again when it is read. */
export interface TokenRecord {
  name: string;
  tenant: string;
  scopes: Scope[];
  hash: string;
  createdAt: string;
  expiresAt?: string;
  revokedAt?: string;
}

/** A token as the admin API shows it: never the token, never its hash. */
export type TokenInfo = Omit<TokenRecord, 'hash'> & { status: 'active' | 'expired' | 'revoked' };

export interface TenantRecord {
  name: string;
  /** Absent for `default` until something was stored for it. */
  createdAt?: string;
  /** Kept as given (checked by `checkTenantQuotas`). */
  quotas: Record<string, unknown>;
  deletedAt?: string;
}

/** `default` always exists, stored or not. */
export const DEFAULT_TENANT_RECORD: TenantRecord = Object.freeze({ name: DEFAULT_TENANT, quotas: {} });

/** Bearer tokens: `cb_` and 32 random bytes in base64url (43 characters). */
const TOKEN = /^cb_[A-Za-z0-9_-]{43}$/;

export function newToken(): string {
  return `cb_${randomBytes(32).toString('base64url')}`;
}

/** Whether `text` has the shape of a token (a cheap refusal before any lookup). */
export function isTokenShaped(text: string): boolean {
  return TOKEN.test(text);
}

/** The sha256 of a token: what the tier keeps and looks it up by. */
export function tokenHash(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** Token names: 1-64 of letters, digits, `_`, `.` and `-`, not starting with `-` or `.`. */
export function checkTokenName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new CloudburstError('INVALID_NAME', `invalid token name ${JSON.stringify(name)}: use 1-64 letters, digits, _, . or -`);
  }
  return name;
}

export function tokenStatus(r: TokenRecord, now: number): TokenInfo['status'] {
  if (r.revokedAt !== undefined) return 'revoked';
  if (r.expiresAt !== undefined && Date.parse(r.expiresAt) <= now) return 'expired';
  return 'active';
}

export function tokenInfo(r: TokenRecord, now: number): TokenInfo {
  const { hash: _hash, ...rest } = r;
  return { ...rest, status: tokenStatus(r, now) };
}
