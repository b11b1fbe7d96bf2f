import { tenantHeaders, type Platform } from './platform.ts';

export interface TenantReply<T> {
  status: number;
  body: T;
  headers: Headers;
}

/**
 * A small HTTP client of one host of platform `p` acting in one tenant, as that tenant's user
 * does: with a token of the tenant (`tenantToken`: created with the tenant on first use; tenant
 * `default` uses the admin token). JSON bodies, or raw bytes with `raw`.
 */
export function tenantClient(p: Platform, url: string, tenant: string) {
  return async <T = Record<string, unknown>>(method: string, path: string, body?: unknown, raw = false): Promise<TenantReply<T>> => {
    const headers: Record<string, string> = { ...(await tenantHeaders(p, tenant)) };
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
