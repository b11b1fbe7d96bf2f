import { TENANT_HEADER } from '../../common/index.ts';

/**
 * The headers that make a request act in `tenant`. Today the host runs the insecure
 * authenticator, which takes the tenant from `x-cloudburst-tenant`; once tokens land, this is
 * the one place to switch to a token of that tenant.
 */
export function asTenant(tenant: string): Record<string, string> {
  return { [TENANT_HEADER]: tenant };
}

export interface TenantReply<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** A small HTTP client of one host acting in one tenant (JSON bodies, or raw bytes with `raw`). */
export function tenantClient(url: string, tenant: string) {
  return async <T = Record<string, unknown>>(method: string, path: string, body?: unknown, raw = false): Promise<TenantReply<T>> => {
    const headers: Record<string, string> = { ...asTenant(tenant) };
    let payload: BodyInit | undefined;
    if (body !== undefined) {
      headers['content-type'] = raw ? 'application/octet-stream' : 'application/json';
      payload = raw ? new Uint8Array(body as Uint8Array) : JSON.stringify(body);
    }
    const res = await fetch(`${url}${path}`, { method, headers, ...(payload === undefined ? {} : { body: payload }) });
    const text = await res.text();
    return { status: res.status, body: (text.length > 0 ? JSON.parse(text) : undefined) as T, headers: res.headers };
  };
}
