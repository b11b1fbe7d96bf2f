import { CloudburstError } from '../../common/index.ts';

/**
 * The `quotas` of a tenant as `POST /v1/tenants` gives them: an object, stored as given. What
 * its fields mean and which values are allowed is the quota model's (host/quotas), whose parser
 * replaces this check once it exists; until then any object is kept, so tenants created now
 * keep their quotas.
 *
 * @throws CloudburstError `INVALID_REQUEST` for anything but a plain object.
 */
export function checkTenantQuotas(value: unknown): Record<string, unknown> {
  if (value === undefined) return {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new CloudburstError('INVALID_REQUEST', '"quotas" is an object: {"concurrentCalls": 10, ...}');
  }
  return value as Record<string, unknown>;
}
