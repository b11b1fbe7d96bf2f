/**
 * Who may use a KV node: only the other processes of its cluster (hosts, KV nodes, and tools
 * that hold the secret), by the cluster credential of common/cluster-auth.ts. A node knows no
 * tenants and no tokens, so its port is not a public API: every route but the probes `healthz`
 * and `readyz` (`access` in KV_ROUTES) refuses a request that is not signed with the cluster's secret.
 */
import type { IncomingMessage } from 'node:http';
import { CloudburstError, CLUSTER_AUTH_HEADER, CLUSTER_AUTH_SKEW_MS, CLUSTER_SECRET_MIN_BYTES, verifyRequest } from '../common/index.ts';
import type { KvRoute } from './protocol.ts';

/** How the node authenticates: the secret, or none at all (`insecure`). */
export interface KvCredential {
  /** Checks requests and signs the node's own (undefined only when insecure). */
  readonly secret: Buffer | undefined;
  readonly insecure: boolean;
}

/**
 * The credential a node starts with.
 *
 * @throws CloudburstError `INVALID_REQUEST` with neither a secret nor `insecure`, or a secret
 *   shorter than CLUSTER_SECRET_MIN_BYTES (a startup error: the node does not start).
 */
export function kvCredential(opts: { readonly clusterSecret?: Buffer | undefined; readonly insecure?: boolean | undefined }): KvCredential {
  const secret = opts.clusterSecret;
  if (secret !== undefined && secret.length < CLUSTER_SECRET_MIN_BYTES) {
    throw new CloudburstError('INVALID_REQUEST', `the cluster secret is ${secret.length} bytes; it must be at least ${CLUSTER_SECRET_MIN_BYTES}`);
  }
  if (secret === undefined && opts.insecure !== true) {
    throw new CloudburstError(
      'INVALID_REQUEST',
      'a KV node needs the cluster secret (clusterSecret; `cloudburst kvs --cluster-secret-file PATH` or CLOUDBURST_CLUSTER_SECRET), ' +
        'or insecure: true, which lets anyone who reaches its port read, write and reconfigure it',
    );
  }
  return { secret, insecure: opts.insecure === true };
}

/**
 * Lets a request through to a route of `access`, or refuses it; called before the body is read.
 *
 * @throws CloudburstError `UNAUTHENTICATED` for a request to a `cluster` route without a good
 *   signature (a bearer token is no credential here).
 */
export function checkAccess(cred: KvCredential, access: KvRoute['access'], req: IncomingMessage): void {
  if (access === 'open' || cred.insecure) return;
  if (cred.secret && verifyRequest(cred.secret, req.method, req.url, req.headers)) return;
  if (req.headers[CLUSTER_AUTH_HEADER] === undefined) {
    throw new CloudburstError(
      'UNAUTHENTICATED',
      req.headers.authorization !== undefined
        ? 'a KV node accepts no tokens: only the processes of the cluster, which sign their requests with the cluster secret'
        : `this route of the KV node is for the processes of the cluster: sign the request with the cluster secret (${CLUSTER_AUTH_HEADER})`,
    );
  }
  throw new CloudburstError(
    'UNAUTHENTICATED',
    `the cluster signature does not hold for this request (another secret, method or path, or a clock more than ${CLUSTER_AUTH_SKEW_MS / 60_000} minutes off)`,
  );
}
