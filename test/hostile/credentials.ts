/**
 * The credential dimension of the hostile-input suite: how a hostile request presents itself.
 * Every case the suite generates is sent with one of these; the plan says what the server must
 * answer because of the credential alone (`refusedWith`), or nothing when the request's own
 * refusal stands.
 *
 * Today's plan (`insecurePlan`) is for a host running `InsecureAuthenticator`
 * (host/auth/principal.ts) and a KV node without checks: bearer tokens and cluster signatures
 * are ignored, so only a malformed tenant header is refused by itself. Once tokens and the
 * cluster credential are wired, the suite is given a plan built from real ones (`CredentialPlan`):
 * `none`, a malformed `authorization` and a wrong token are then UNAUTHENTICATED whatever the
 * request; `tenant` is a good credential of a second tenant, which turns on the cases that name
 * the first tenant's modules, DAGs, keys and futures (`crossTenant` in host-routes.ts).
 */
import fc from 'fast-check';
import type { ErrorCode } from '../../common/index.ts';

export interface Credential {
  /** For the failure report. */
  readonly label: string;
  readonly headers: Readonly<Record<string, string>>;
  /** Codes the server must answer because of the credential alone; absent: the request's own refusal stands. */
  readonly refusedWith?: readonly ErrorCode[];
}

export interface CredentialPlan {
  /** For the public routes of a host. */
  readonly user: fc.Arbitrary<Credential>;
  /** For the cluster-internal routes of a host (access `internal`). */
  readonly internal: fc.Arbitrary<Credential>;
  /** For every route of a KV node. */
  readonly kv: fc.Arbitrary<Credential>;
  /**
   * A good credential of a second tenant, when the host isolates tenants: requests with it that
   * name the first tenant's things must find nothing. Undefined while every request acts in
   * one tenant (InsecureAuthenticator ignores who asks).
   */
  readonly otherTenant?: Credential;
}

const hex = (n: number) => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: n, maxLength: n });

/** `authorization` headers that are not a well-formed bearer token. */
const malformedAuthorization = fc.oneof(
  fc.constantFrom('Bearer', 'Bearer ', 'bearer', 'Basic dXNlcjpwYXNz', 'Bearer a b', 'Token abc', 'Bearer \u00e9\u00e8', 'Bearer ' + 'x'.repeat(5000)),
  fc.string({ unit: 'grapheme-ascii', maxLength: 40 }).map((s) => s.replace(/[\r\n\0]/g, '')),
);
/** A token of the right shape that no tenant holds. */
const wrongToken = hex(48).map((h) => `Bearer cb_${h}`);
/** Tenant headers that are not a tenant name (InsecureAuthenticator refuses them: INVALID_NAME). */
const badTenant = fc.constantFrom('', 'UPPER', '-lead', 'a'.repeat(64), 'sp ace', 'x/y', '..', 'caf\u00e9', 'a_b');
/** A cluster signature of the right shape under a secret nobody holds, and malformed ones. */
const forgedSignature = fc.oneof(
  hex(64).map((h) => `v1 ${Date.now()} ${h}`),
  fc.constantFrom('v1', 'v1 0 00', 'v2 1 ' + '0'.repeat(64), 'v1 99999999999999999 ' + 'f'.repeat(64), ''),
);

/**
 * Credentials for a host under InsecureAuthenticator and a KV node without checks. Headers the
 * product ignores today are still sent, so the suite already covers them when checks land.
 */
export function insecurePlan(): CredentialPlan {
  const user = fc.oneof(
    fc.constant<Credential>({ label: 'none', headers: {} }),
    malformedAuthorization.map((a): Credential => ({ label: 'malformed authorization', headers: { authorization: a } })),
    wrongToken.map((a): Credential => ({ label: 'wrong token', headers: { authorization: a } })),
    fc.constant<Credential>({ label: 'tenant other', headers: { 'x-cloudburst-tenant': 'other' } }),
    badTenant.map((t): Credential => ({ label: 'bad tenant', headers: { 'x-cloudburst-tenant': t }, refusedWith: ['INVALID_NAME'] })),
  );
  const internal = fc.oneof(
    fc.constant<Credential>({ label: 'none', headers: {} }),
    forgedSignature.map((s): Credential => ({ label: 'forged signature', headers: { 'x-cloudburst-cluster': s } })),
    wrongToken.map((a): Credential => ({ label: 'user token', headers: { authorization: a } })),
    badTenant.map((t): Credential => ({ label: 'bad tenant', headers: { 'x-cloudburst-tenant': t }, refusedWith: ['INVALID_NAME'] })),
  );
  const kv = fc.oneof(
    fc.constant<Credential>({ label: 'none', headers: {} }),
    forgedSignature.map((s): Credential => ({ label: 'forged signature', headers: { 'x-cloudburst-cluster': s } })),
    wrongToken.map((a): Credential => ({ label: 'user token', headers: { authorization: a } })),
  );
  return { user, internal, kv };
}
