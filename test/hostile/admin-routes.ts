/**
 * Requests the admin API must refuse (host/README.md, "Admin API"): tenants and tokens with
 * bad names, names taken, unknown or deleted tenants, unknown tokens, bad scopes, expiries and
 * quotas, unknown fields, bodies that are not JSON or over the admin body limit. Each has at
 * least one flaw the host checks before it writes anything, so none creates, deletes or
 * revokes a tenant or a token: the world's snapshot (world.ts) holds the tenants' and tokens'
 * records and listings.
 */
import fc from 'fast-check';
import type { ErrorCode } from '../../common/index.ts';
import { HOST_LIMITS, HOST_PATHS } from '../../host/protocol.ts';
import { enc, hostileString, jsonBodies, named, wrongJson, type Case, type CaseArb } from './cases.ts';
import type { World } from './host-routes.ts';

const json = (v: unknown): string => JSON.stringify(v);

/** Tenant names (checkTenantName): 1-63 lowercase letters, digits, `-`, not starting with `-`. */
const TENANT = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Token names (checkTokenName): 1-64 letters, digits, `_`, `.`, `-`, not starting with `.` or `-`. */
const TOKEN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

/** A string that is no tenant name; in a path, never one that changes the route. */
export const badTenantName = fc.oneof(
  fc.constantFrom('UPPER', 'Acme', '-lead', 'a'.repeat(64), 'a_b', 'a.b', 'sp ace', 'caf\u00e9', '_system', 'x/y', 'tab\t'),
  hostileString,
).filter((s) => s !== '' && s !== '.' && s !== '..' && !TENANT.test(s));
/** A tenant name no tenant ever had. */
export const missingTenant = fc.stringMatching(/^[a-z0-9][a-z0-9-]{0,20}$/).map((s) => `zz-${s}`);
const badTokenName = fc.oneof(fc.constantFrom('-x', '.x', 'a'.repeat(65), 'a b', 'a/b', 'caf\u00e9', 'a:b'), hostileString)
  .filter((s) => s !== '' && s !== '.' && s !== '..' && !TOKEN.test(s));
/** A token name no token has. */
const freshTokenName = fc.stringMatching(/^[A-Za-z0-9_.-]{0,20}$/).map((s) => `zz-${s}`);
/** Values a name field may not hold. */
const notAString = fc.constantFrom<unknown>(1, null, true, [], {}, ['default']);

/** Well-formed JSON of a wrong shape, never an object naming a `name` (which could be a good request). */
const adminWrongJson = wrongJson.filter((t) => {
  const v = JSON.parse(t) as unknown;
  return typeof v !== 'object' || v === null || Array.isArray(v) || !Object.hasOwn(v, 'name');
});

/** A body over the admin body limit (refused while it streams in). */
const overLimit = (fields: Record<string, unknown>): string => json({ ...fields, pad: 'x'.repeat(HOST_LIMITS.adminBodyBytes) });

// Quotas (host/README.md, "Quotas"): callsPerSecond may be fractional, the others are integers;
// burst, guestMemoryMiB and maxTimeoutMs are at least 1, the others at least 0; none is above 2^53 - 1.
const QUOTAS = ['concurrentCalls', 'callsPerSecond', 'burst', 'modules', 'moduleBytes', 'stateBytes', 'guestMemoryMiB', 'maxTimeoutMs'] as const;
const FRACTIONAL = new Set<string>(['callsPerSecond']);
const AT_LEAST_ONE = new Set<string>(['burst', 'guestMemoryMiB', 'maxTimeoutMs']);
const BAD_ANY = ['-1', '-0.5', '1e309', '-1e309', '9007199254740992', '1e300', '"1"', '"10"', 'null', 'true', '[]', '{}', '[1]'];
function badQuotaValues(q: string): string[] {
  return [...BAD_ANY, ...(FRACTIONAL.has(q) ? [] : ['1.5', '0.5', '1e-7']), ...(AT_LEAST_ONE.has(q) ? ['0', '-0'] : [])];
}
/** A `quotas` value parseQuotas refuses, as JSON text (some numbers JSON.parse reads as Infinity). */
const badQuotas: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('null', '[]', '1', '"x"', 'true', '[{"burst": 1}]'),
  fc.constantFrom(...QUOTAS).chain((q) => fc.constantFrom(...badQuotaValues(q)).map((v) => `{${json(q)}: ${v}}`)),
  // One bad quota among good ones (other ones: a good value of the same name after it would win, JSON.parse keeps the last).
  fc.constantFrom(...QUOTAS).chain((q) => fc.constantFrom(...badQuotaValues(q)).map((v) => `{"${q === 'modules' ? 'burst' : 'modules'}": 5, ${json(q)}: ${v}, "${q === 'concurrentCalls' ? 'burst' : 'concurrentCalls'}": 2}`)),
  fc.constantFrom('nope', 'Burst', 'concurrent_calls', '', '__proto__', 'constructor', 'toString').map((n) => `{${json(n)}: 1}`),
);

/** A body of `POST /v1/tenants` that must be refused, with its codes. */
function badTenantBody(w: World): fc.Arbitrary<{ body: string | Uint8Array; expect: readonly ErrorCode[] }> {
  return fc.oneof(
    fc.oneof(badTenantName, notAString).map((name) => ({ body: json({ name }), expect: ['INVALID_NAME'] as const })),
    // Taken: default, a tenant that exists, one that was deleted (its name is never given again).
    fc.constantFrom('default', w.tenants.other, w.tenants.gone).map((name) => ({ body: json({ name }), expect: ['NAME_TAKEN'] as const })),
    fc.tuple(missingTenant, badQuotas).map(([name, quotas]) => ({ body: `{"name": ${json(name)}, "quotas": ${quotas}}`, expect: ['INVALID_REQUEST'] as const })),
    fc.tuple(missingTenant, fc.constantFrom('extra', 'Name', 'token', 'createdAt', 'deletedAt', '__proto__')).map(([name, field]) => ({
      body: `{"name": ${json(name)}, ${json(field)}: 1}`, expect: ['INVALID_REQUEST'] as const,
    })),
    missingTenant.map((name) => ({ body: overLimit({ name }), expect: ['BODY_TOO_LARGE'] as const })),
    jsonBodies(adminWrongJson, ['INVALID_REQUEST', 'INVALID_NAME']),
  );
}

/** A body of `POST /v1/tokens` that must be refused, with its codes: a good request but for one flaw. */
function badTokenBody(w: World): fc.Arbitrary<{ body: string | Uint8Array; expect: readonly ErrorCode[] }> {
  const tenant = fc.constantFrom('default', w.tenants.other);
  const good = (t: string, name: string) => ({ tenant: t, scopes: ['read'], name });
  return fc.oneof(
    fc.tuple(fc.oneof(badTenantName, notAString), freshTokenName).map(([t, name]) => ({ body: json(good(t as string, name)), expect: ['INVALID_NAME'] as const })),
    fc.tuple(fc.oneof(missingTenant, fc.constant(w.tenants.gone)), freshTokenName).map(([t, name]) => ({ body: json(good(t, name)), expect: ['UNKNOWN_TENANT'] as const })),
    fc.tuple(tenant, fc.oneof(badTokenName, notAString)).map(([t, name]) => ({ body: json(good(t, name as string)), expect: ['INVALID_NAME'] as const })),
    // A name an active token holds (in any tenant).
    fc.tuple(tenant, fc.constantFrom(...w.tokenNames.active)).map(([t, name]) => ({ body: json(good(t, name)), expect: ['NAME_TAKEN'] as const })),
    fc.tuple(tenant, freshTokenName, fc.constantFrom<unknown>([], ['x'], ['read', 'read'], 'read', [1], null, ['ADMIN'], ['read', 'root'], {}, [null], undefined))
      .map(([t, name, scopes]) => ({ body: json({ tenant: t, name, scopes }), expect: ['INVALID_REQUEST'] as const })),
    fc.tuple(tenant, freshTokenName, fc.constantFrom('0', '-1', '-0', '1.5', '"60"', 'null', 'true', '1e309', '315360001', '1e10', '[60]', '{}'))
      .map(([t, name, expires]) => ({ body: `{"tenant": ${json(t)}, "scopes": ["read"], "name": ${json(name)}, "expiresInSeconds": ${expires}}`, expect: ['INVALID_REQUEST'] as const })),
    fc.tuple(tenant, freshTokenName, fc.constantFrom('extra', 'token', 'hash', 'expiresAt', 'Scopes', '__proto__')).map(([t, name, field]) => ({
      body: `{"tenant": ${json(t)}, "scopes": ["read"], "name": ${json(name)}, ${json(field)}: 1}`, expect: ['INVALID_REQUEST'] as const,
    })),
    fc.tuple(tenant, freshTokenName).map(([t, name]) => ({ body: overLimit(good(t, name)), expect: ['BODY_TOO_LARGE'] as const })),
    jsonBodies(adminWrongJson, ['INVALID_REQUEST', 'INVALID_NAME']),
  );
}

/** The generators of the admin routes, keyed by route name (host-routes.ts spreads them in). */
export function adminGenerators(w: World, nameParam: (route: 'tenantGet' | 'tenantDelete' | 'tokenRevoke', method: string, prefix: string, missing: ErrorCode, names: { bad: fc.Arbitrary<string>; missing: fc.Arbitrary<string> }) => CaseArb) {
  const P = HOST_PATHS;
  const tenantNames = { bad: badTenantName, missing: fc.oneof(missingTenant, fc.constant(w.tenants.gone)) };
  const headers = { 'content-type': 'application/json' };
  return {
    // Nothing to refuse in listing the tenants but the method and the credential.
    tenantList: undefined,
    tenantCreate: badTenantBody(w).map(({ body, expect }): Case => ({ route: 'tenantCreate', method: 'POST', path: P.tenants, body, headers, expect })),
    tenantGet: nameParam('tenantGet', 'GET', P.tenants, 'UNKNOWN_TENANT', tenantNames),
    tenantDelete: fc.oneof(
      nameParam('tenantDelete', 'DELETE', P.tenants, 'UNKNOWN_TENANT', tenantNames),
      fc.constant<Case>({ route: 'tenantDelete', method: 'DELETE', path: named(P.tenants, 'default'), expect: ['INVALID_REQUEST'] }),
    ),
    tokenCreate: badTokenBody(w).map(({ body, expect }): Case => ({ route: 'tokenCreate', method: 'POST', path: P.tokens, body, headers, expect })),
    tokenList: badTenantName.map((t): Case => ({ route: 'tokenList', method: 'GET', path: `${P.tokens}?tenant=${enc(t)}`, expect: ['INVALID_NAME'] })),
    // Never an active token's name: revoking it would be a change. A revoked token's name has nothing left to revoke.
    tokenRevoke: nameParam('tokenRevoke', 'DELETE', P.tokens, 'UNKNOWN_TOKEN', {
      bad: badTokenName,
      missing: fc.oneof(freshTokenName, fc.constant(w.tokenNames.revoked)),
    }),
  } satisfies Record<string, CaseArb | undefined>;
}
