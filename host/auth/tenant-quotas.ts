import { defaultQuotas, parseQuotas } from '../quotas/tenant-quotas.ts';

/** Any base will do: only the fields given are checked, and only they are stored. */
const CHECK_BASE = defaultQuotas({ guestMemoryMiB: 1, maxTimeoutMs: 1 });

/**
 * The `quotas` of a tenant as `POST /v1/tenants` gives them: any of the quotas of
 * host/quotas/tenant-quotas.ts, each checked by `parseQuotas` (the one parser of quotas), and
 * stored as given, so that the quotas left out follow each host's defaults.
 *
 * @throws CloudburstError `INVALID_REQUEST` for anything but an object of known quotas with valid values.
 */
export function checkTenantQuotas(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  parseQuotas(value, CHECK_BASE);
  return value as Record<string, unknown>;
}
