/**
 * The credential dimension of the hostile-input suite: how a hostile request presents itself.
 * Every case the suite generates is sent with one of these; the plan says what the server must
 * answer because of the credential alone (`refusedWith`), or nothing when the request's own
 * refusal stands (a good credential: the case's codes must then come from the route itself).
 *
 * The plan is built from a running platform's real credentials (`platformPlan`): the admin
 * token of `default`, tokens of a second tenant, a revoked and an expired token, a deleted
 * tenant's, the cluster secret (host/README.md, "Authentication"; kvs/README.md,
 * "Authentication").
 */
import fc from 'fast-check';
import { CLUSTER_AUTH_SKEW_MS, signRequest, type ErrorCode } from '../../common/index.ts';
import { HOST_ROUTES } from '../../host/protocol.ts';
import { bearer, type Platform } from '../helpers/platform.ts';
import { testSecret } from '../helpers/cluster-secret.ts';
import type { WorldTokens } from './world.ts';

export interface Credential {
  /** For the failure report. */
  readonly label: string;
  /** The headers of one request (a cluster signature covers its method and target). */
  headers(method: string, target: string): Readonly<Record<string, string>>;
  /** Codes the server must answer because of the credential alone; absent: the request's own refusal stands. */
  readonly refusedWith?: readonly ErrorCode[];
}

export interface CredentialPlan {
  /** For the public routes of a host: some depend on the route (a token lacking its scope). */
  user(route: string): fc.Arbitrary<Credential>;
  /** For the cluster-internal routes of a host (access `internal`). */
  readonly internal: fc.Arbitrary<Credential>;
  /** For every route of a KV node. */
  readonly kv: fc.Arbitrary<Credential>;
  /**
   * Good credentials of a second tenant (its own token, the admin acting in it): requests with
   * them that name the first tenant's things must find nothing.
   */
  readonly otherTenant: fc.Arbitrary<Credential>;
}

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });
const b64url = (n: number) => fc.string({ unit: fc.constantFrom(...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'), minLength: n, maxLength: n });
const fixed = (label: string, headers: Record<string, string>, refusedWith?: readonly ErrorCode[]): Credential =>
  ({ label, headers: () => headers, ...(refusedWith === undefined ? {} : { refusedWith }) });

/** `authorization` headers that are not a well-formed bearer token. */
const malformedAuthorization = fc.oneof(
  fc.constantFrom('Bearer', 'Bearer ', 'bearer', 'Basic dXNlcjpwYXNz', 'Bearer a b', 'Token abc', 'Bearer \u00e9\u00e8', 'Bearer ' + 'x'.repeat(5000), 'Bearer cb_', 'Bearer cb_' + 'A'.repeat(42) + '=='),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => s.replace(/[\r\n\0]/g, '')),
);
/** A token of the right shape (`cb_` and 32 bytes in base64url) that no tenant holds. */
const unknownToken = b64url(43).map((t) => `Bearer cb_${t}`);
/** Cluster signatures that are not of the shape `v1 {ms} {64 hex}`. */
const malformedSignature = fc.constantFrom('v1', 'v1 0 00', 'v2 1 ' + '0'.repeat(64), 'v1 99999999999999999 ' + 'f'.repeat(64), '', 'v1  ' + '0'.repeat(64), `v1 ${Date.now()} ${'G'.repeat(64)}`);
/** Tenant headers that are not a tenant name. */
const badTenant = fc.constantFrom('', 'UPPER', '-lead', 'a'.repeat(64), 'sp ace', 'x/y', '..', 'caf\u00e9', '\u00ff', 'a_b', '_system');
/** Tenant names no tenant has. */
const missingTenant = fc.constantFrom('zz-nobody', 'zz-x', 'gone');

/** A signature of each request under `secret`, at `skewMs` from now (a stale one past the skew allowed). */
const signer = (label: string, secret: Buffer, skewMs = 0, refusedWith?: readonly ErrorCode[]): Credential => ({
  label,
  headers: (method, target) => signRequest(secret, method, target, undefined, Date.now() + skewMs),
  ...(refusedWith === undefined ? {} : { refusedWith }),
});

/**
 * The credentials that are not the cluster's: each refused by a host's internal routes and by
 * every route of a KV node, whatever the request.
 */
function notCluster(secret: Buffer, tokens: { admin: string; tenant: string }, tokenCode: ErrorCode): fc.Arbitrary<Credential> {
  const unauthenticated = ['UNAUTHENTICATED'] as const;
  return fc.oneof(
    fc.constant(fixed('none', {}, unauthenticated)),
    malformedSignature.map((s) => fixed(`malformed signature ${s.slice(0, 30)}`, { 'x-cloudburst-cluster': s }, unauthenticated)),
    fc.constant(signer('another secret', testSecret(), 0, unauthenticated)),
    fc.constantFrom(-1, 1).map((sign) => signer(`stale signature (${sign > 0 ? 'ahead' : 'behind'})`, secret, sign * (CLUSTER_AUTH_SKEW_MS + 60_000), unauthenticated)),
    // A good signature of another request: another method, another target (a replay).
    fc.constant<Credential>({ label: 'signature of another method', headers: (m, t) => signRequest(secret, m === 'GET' ? 'POST' : 'GET', t), refusedWith: unauthenticated }),
    fc.constantFrom('/healthz', '/v1/internal/messages', '/kv/v1/ring').map((other): Credential => ({
      label: `signature of another target`, headers: (m, t) => signRequest(secret, m, t === other ? `${other}?x` : other), refusedWith: unauthenticated,
    })),
    fc.constant(fixed('a tenant token', bearer(tokens.tenant), [tokenCode])),
    fc.constant(fixed('the admin token', bearer(tokens.admin), [tokenCode])),
  );
}

/**
 * Credentials from platform `p` and the world's tokens (world.ts). A good credential (the admin
 * token of `default`, where the world's things are; a signature under the cluster secret) comes
 * with about half of the cases, so that the routes' own refusals get as many as the credentials.
 */
export function platformPlan(p: Platform, tokens: WorldTokens): CredentialPlan {
  const admin = p.token!;
  const secret = p.clusterSecret!;
  const unauthenticated = ['UNAUTHENTICATED'] as const;
  const good = fixed('admin token', bearer(admin));
  const access = new Map<string, readonly string[] | string>(HOST_ROUTES.map((r) => [r.name, r.access]));
  const badUser = fc.oneof(
    fc.constant(fixed('none', {}, unauthenticated)),
    malformedAuthorization.map((a) => fixed('malformed authorization', { authorization: a }, unauthenticated)),
    unknownToken.map((a) => fixed('unknown token', { authorization: a }, unauthenticated)),
    fc.constant(fixed('revoked token', bearer(tokens.revoked), unauthenticated)),
    fc.constant(fixed('expired token', bearer(tokens.expired), unauthenticated)),
    fc.constant(fixed('token of a deleted tenant', bearer(tokens.ofDeletedTenant), unauthenticated)),
    // A cluster signature is a credential on every route (a host forwarding), so a bad one is refused there too.
    fc.constant(signer('another secret', testSecret(), 0, unauthenticated)),
    fc.constant(signer('stale signature', secret, -(CLUSTER_AUTH_SKEW_MS + 60_000), unauthenticated)),
    // A tenant's token naming another tenant: only an admin may act in another tenant.
    fc.constant(fixed('tenant token naming default', { ...bearer(tokens.other), 'x-cloudburst-tenant': 'default' }, ['FORBIDDEN'])),
    missingTenant.map((t) => fixed(`admin naming tenant ${t}`, { ...bearer(admin), 'x-cloudburst-tenant': t }, ['UNKNOWN_TENANT'])),
    badTenant.map((t) => fixed(`admin naming bad tenant ${JSON.stringify(t)}`, { ...bearer(admin), 'x-cloudburst-tenant': t }, ['INVALID_NAME'])),
  );
  /** A good token of the other tenant that has none of the route's scopes (none of its tokens is admin). */
  const lacking = (route: string): Credential[] => {
    const needs = access.get(route);
    if (needs === undefined || typeof needs === 'string') return [];
    return [
      { scope: 'state', token: tokens.stateOnly },
      { scope: 'read', token: tokens.readOnly },
    ].filter((t) => !needs.includes(t.scope)).map((t) => fixed(`${t.scope}-only token of another tenant`, bearer(t.token), ['FORBIDDEN']));
  };
  return {
    user: (route) => {
      // An open route (the dashboard's files) reads no credential: none, or any, is the same.
      if (access.get(route) === 'open') return fc.constantFrom(fixed('none', {}), good);
      const scope = lacking(route);
      return fc.oneof(
        { weight: 12, arbitrary: badUser },
        ...(scope.length === 0 ? [] : [{ weight: 1, arbitrary: fc.constantFrom(...scope) }]),
        { weight: 13, arbitrary: fc.constant(good) },
      );
    },
    internal: fc.oneof(
      { weight: 1, arbitrary: notCluster(secret, { admin, tenant: tokens.other }, 'FORBIDDEN') },
      { weight: 1, arbitrary: fc.constant(signer('cluster signature', secret)) },
    ),
    kv: fc.oneof(
      { weight: 1, arbitrary: notCluster(secret, { admin, tenant: tokens.other }, 'UNAUTHENTICATED') },
      { weight: 1, arbitrary: fc.constant(signer('cluster signature', secret)) },
    ),
    otherTenant: fc.constantFrom(
      fixed('token of tenant other', bearer(tokens.other)),
      fixed('admin acting in tenant other', { ...bearer(admin), 'x-cloudburst-tenant': 'other' }),
    ),
  };
}
