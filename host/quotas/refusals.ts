import { Counter } from 'prom-client';
import type { CloudburstError } from '../../common/index.ts';
import type { MetricsRegistry } from '../metrics.ts';
import { QUOTA_NAMES, type QuotaName } from './tenant-quotas.ts';

/** How many requests each quota refused on this host (`cloudburst_quota_refusals_total{quota}`). */
export class QuotaRefusals {
  readonly #counts = new Map<QuotaName, number>(QUOTA_NAMES.map((q) => [q, 0]));

  count(quota: QuotaName): void {
    this.#counts.set(quota, (this.#counts.get(quota) ?? 0) + 1);
  }

  /** Counts a refusal, by the quota its details name, and returns it (to be thrown). */
  refused(err: CloudburstError): CloudburstError {
    const quota = err.details?.['quota'];
    if (typeof quota === 'string' && this.#counts.has(quota as QuotaName)) this.count(quota as QuotaName);
    return err;
  }

  registerMetrics(registry: MetricsRegistry): void {
    const counts = this.#counts;
    new Counter({
      name: 'cloudburst_quota_refusals_total', help: 'Requests refused with QUOTA_EXCEEDED, by the quota they were over.',
      labelNames: ['quota'] as const, registers: [registry],
      collect() {
        this.reset();
        for (const [quota, n] of counts) this.inc({ quota }, n);
      },
    });
  }
}
