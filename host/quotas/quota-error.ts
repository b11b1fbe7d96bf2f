import { CloudburstError } from '../../common/index.ts';
import type { QuotaName } from './tenant-quotas.ts';

/**
 * The refusal of a request over a quota: 429 `QUOTA_EXCEEDED`, the quota and its limit in the
 * body, and `retryAfter` (seconds, sent as `Retry-After` too: common/respond.ts) where waiting helps.
 */
export function quotaExceeded(quota: QuotaName, limit: number, message: string, retryAfterSeconds?: number): CloudburstError {
  const details: Record<string, unknown> = { quota, limit };
  if (retryAfterSeconds !== undefined) details.retryAfter = Math.max(1, Math.ceil(retryAfterSeconds));
  return new CloudburstError('QUOTA_EXCEEDED', message, details);
}
