/**
 * The cluster credential: how hosts and KV nodes know a request comes from another process of
 * the same cluster. Every process of a cluster holds one shared secret (at least 32 bytes; a
 * file or `CLOUDBURST_CLUSTER_SECRET`, created by `cloudburst up`, a Secret on Kubernetes). A
 * cluster-internal request carries an HMAC-SHA256 of its method, target, time and asserted
 * tenant under that secret; the secret itself never travels. A signature is good for
 * `CLUSTER_AUTH_SKEW_MS` either side of the receiver's clock, for that one method and target.
 *
 * Header: `x-cloudburst-cluster: v1 {unix ms} {hex hmac}`; the tenant a host acts for, when it
 * forwards a tenant's request, is `x-cloudburst-tenant` and is covered by the signature.
 *
 * @example
 * const headers = signRequest(secret, 'POST', '/kv/v1/put/default%2Fk%2Fa');
 * verifyRequest(secret, req.method, req.url, req.headers) // true
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

export const CLUSTER_AUTH_HEADER = 'x-cloudburst-cluster';
export const TENANT_HEADER = 'x-cloudburst-tenant';
/** How far a signature's time may be from the receiver's clock. */
export const CLUSTER_AUTH_SKEW_MS = 5 * 60_000;
/** The shortest secret accepted, in bytes. */
export const CLUSTER_SECRET_MIN_BYTES = 32;

/** A new secret for a cluster: 32 random bytes, hex (what `cloudburst up` writes). */
export function newClusterSecret(): string {
  return randomBytes(32).toString('hex');
}

/**
 * A secret as read from a file or the environment: surrounding whitespace trimmed, and at
 * least CLUSTER_SECRET_MIN_BYTES bytes.
 *
 * @throws Error for a secret that is too short (a startup error, not a request's).
 */
export function parseClusterSecret(text: string, from: string): Buffer {
  const secret = Buffer.from(text.trim(), 'utf8');
  if (secret.length < CLUSTER_SECRET_MIN_BYTES) {
    throw new Error(`the cluster secret from ${from} is ${secret.length} bytes; it must be at least ${CLUSTER_SECRET_MIN_BYTES} (cloudburst up creates one)`);
  }
  return secret;
}

function mac(secret: Buffer, method: string, target: string, time: string, tenant: string): Buffer {
  return createHmac('sha256', secret).update(`v1\n${method}\n${target}\n${time}\n${tenant}`).digest();
}

/**
 * The headers that sign one request (`target` as it goes on the request line: path and query).
 * With `tenant`, the request acts for that tenant and says so in TENANT_HEADER.
 */
export function signRequest(secret: Buffer, method: string, target: string, tenant?: string, now = Date.now()): Record<string, string> {
  const time = String(now);
  const headers: Record<string, string> = {
    [CLUSTER_AUTH_HEADER]: `v1 ${time} ${mac(secret, method, target, time, tenant ?? '').toString('hex')}`,
  };
  if (tenant !== undefined) headers[TENANT_HEADER] = tenant;
  return headers;
}

/**
 * Whether a request carries a good signature for its method and target. Constant time in the
 * signature; a missing, malformed, stale or wrong one is `false`.
 */
export function verifyRequest(secret: Buffer, method: string | undefined, target: string | undefined, headers: IncomingHttpHeaders, now = Date.now()): boolean {
  const value = headers[CLUSTER_AUTH_HEADER];
  if (typeof value !== 'string' || value.length > 100) return false;
  const parts = value.split(' ');
  if (parts.length !== 3 || parts[0] !== 'v1' || !/^\d{1,15}$/.test(parts[1]!) || !/^[0-9a-f]{64}$/.test(parts[2]!)) return false;
  const time = parts[1]!;
  if (Math.abs(now - Number(time)) > CLUSTER_AUTH_SKEW_MS) return false;
  const tenant = headers[TENANT_HEADER];
  if (tenant !== undefined && typeof tenant !== 'string') return false;
  const expected = mac(secret, method ?? 'GET', target ?? '/', time, tenant ?? '');
  return timingSafeEqual(expected, Buffer.from(parts[2]!, 'hex'));
}
