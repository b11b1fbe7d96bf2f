import { readJson, sendJson } from '../../common/index.ts';
import { HOST_LIMITS, parseTenantRequest, parseTokenRequest, type HostRouteName } from '../protocol.ts';
import type { HostHandler } from '../routes.ts';
import type { AuthStore } from './auth-store.ts';
import { checkTenantName } from './principal.ts';
import { tokenInfo } from './records.ts';

export type AdminRouteName = Extract<HostRouteName, `tenant${string}` | `token${string}`>;

/**
 * The admin API (`admin` scope, host/README.md, "Admin API"): tenants and tokens. Every change
 * goes to the tier before the answer; `changed` tells this host's authenticator to read again
 * what it cached of them (other hosts see the change within their cache age).
 */
export function adminHandlers(store: AuthStore, changed: (what: { hash?: string; tenant?: string }) => void): Record<AdminRouteName, HostHandler> {
  return {
    tenantCreate: async ({ req, res, audit }) => {
      const spec = parseTenantRequest(await readJson(req, HOST_LIMITS.adminBodyBytes));
      audit.target = spec.name;
      const record = await store.createTenant(spec.name, spec.quotas);
      changed({ tenant: spec.name });
      sendJson(res, 201, record);
    },

    tenantList: async ({ res }) => {
      sendJson(res, 200, { tenants: await store.tenants() });
    },

    tenantGet: async ({ res, params }) => {
      sendJson(res, 200, await store.tenant(params.name!));
    },

    tenantDelete: async ({ res, params }) => {
      const out = await store.deleteTenant(checkTenantName(params.name));
      changed({ tenant: out.deleted });
      sendJson(res, 200, out);
    },

    tokenCreate: async ({ req, res, audit }) => {
      const spec = parseTokenRequest(await readJson(req, HOST_LIMITS.adminBodyBytes));
      audit.target = spec.name;
      const { token, info } = await store.createToken(spec);
      sendJson(res, 201, { token, ...info });
    },

    tokenList: async ({ res, query }) => {
      const tenant = query.get('tenant');
      sendJson(res, 200, { tokens: await store.tokens(tenant === null ? undefined : checkTenantName(tenant)) });
    },

    tokenRevoke: async ({ res, params }) => {
      const revoked = await store.revokeToken(params.name!);
      for (const r of revoked) changed({ hash: r.hash });
      const now = Date.now();
      sendJson(res, 200, { revoked: params.name, tokens: revoked.map((r) => tokenInfo(r, now)) });
    },
  };
}
