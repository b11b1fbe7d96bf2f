/**
 * Who a request comes from, and what each route asks of it: the contract between the routes
 * table (host/protocol.ts, each row's `access`) and whatever authenticates requests
 * (`Authenticator`). The handlers read the tenant they act in from the principal only.
 */
import type { IncomingMessage } from 'node:http';
import { CloudburstError, TENANT_HEADER } from '../../common/index.ts';
import { DEFAULT_TENANT } from '../keys.ts';

/**
 * What a token may do. `admin` manages tenants and tokens, may act in any tenant (header
 * `x-cloudburst-tenant`), and implies every other scope; `deploy`: modules and DAGs;
 * `invoke`: calls and futures; `state`: `/v1/kv`; `read`: lists, the cluster view and metrics.
 */
export const SCOPES = ['admin', 'deploy', 'invoke', 'state', 'read'] as const;
export type Scope = (typeof SCOPES)[number];

/**
 * What a route asks: `open` (anyone: `/healthz`), `internal` (only another process of the
 * cluster, by the cluster credential), or the scopes of which a token needs one.
 */
export type RouteAccess = 'open' | 'internal' | readonly Scope[];

/**
 * The sender of a request, once authenticated.
 * - `token`: a tenant's bearer token (its name, for audit; never the token).
 * - `cluster`: another host or KV node (signed with the cluster secret), acting for `tenant`.
 * - `anonymous`: no credential on an `open` route, or any request of a host running with `--insecure`.
 */
export type Principal =
  | { readonly kind: 'token'; readonly tenant: string; readonly scopes: ReadonlySet<Scope>; readonly name: string }
  | { readonly kind: 'cluster'; readonly tenant: string }
  | { readonly kind: 'anonymous'; readonly tenant: string };

/** Authenticates a request for a route before its body is read. */
export interface Authenticator {
  /**
   * The request's principal if it may use a route of `access`.
   * @throws CloudburstError `UNAUTHENTICATED` (no or a bad credential), `FORBIDDEN` (a good one without the scope).
   */
  authenticate(req: IncomingMessage, access: RouteAccess): Principal | Promise<Principal>;
}

/** Tenant names: 1-63 of lowercase letters, digits and `-`, starting with a letter or digit. */
const TENANT = /^[a-z0-9][a-z0-9-]{0,62}$/;

export function checkTenantName(name: unknown): string {
  if (typeof name !== 'string' || !TENANT.test(name)) {
    throw new CloudburstError('INVALID_NAME', `invalid tenant name ${JSON.stringify(name)}: use 1-63 lowercase letters, digits or -, not starting with -`);
  }
  return name;
}

/** The tenant a request asks to act in with `x-cloudburst-tenant`, if it names one. */
export function requestedTenant(req: IncomingMessage): string | undefined {
  const value = req.headers[TENANT_HEADER];
  if (value === undefined) return undefined;
  return checkTenantName(value);
}

/**
 * No authentication at all (`--insecure`): every request is an admin of the tenant it names,
 * `default` unless it names another. For a laptop or a test, never for a network.
 */
export class InsecureAuthenticator implements Authenticator {
  authenticate(req: IncomingMessage): Principal {
    return { kind: 'anonymous', tenant: requestedTenant(req) ?? DEFAULT_TENANT };
  }
}
