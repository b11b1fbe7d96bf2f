/**
 * What a tenant may use: the quota model, its one parser, and where a host reads a tenant's
 * quotas from (`QuotaSource`). Enforcement is in the other files of this folder; each quota's
 * meaning and default is in host/README.md, "Quotas".
 */
import { CloudburstError } from '../../common/index.ts';

/**
 * One tenant's quotas. The per-host ones (`concurrentCalls`, `callsPerSecond`, `burst`) bound
 * what the tenant runs on each host; the others hold across the cluster.
 */
export interface TenantQuotas {
  /** Calls (and DAG calls, counted at their coordinator) of the tenant running or queued on one host at once. */
  concurrentCalls: number;
  /** Calls per second on one host, on average (a token bucket refilled at this rate). */
  callsPerSecond: number;
  /** The bucket's size: calls the tenant may make at once after a quiet spell. */
  burst: number;
  /** Modules the tenant may have deployed. */
  modules: number;
  /** Bytes of the tenant's modules, together (each module's wasm size). */
  moduleBytes: number;
  /** Bytes of the tenant's state (keys and encoded values; see "Quotas" for how it is counted). */
  stateBytes: number;
  /** The most linear memory one instance of the tenant's functions gets, in MiB (at most the host's `guestMemoryMiB`). */
  guestMemoryMiB: number;
  /** The longest deadline the tenant's calls may ask for, in ms (at most the host's `maxTimeoutMs`). */
  maxTimeoutMs: number;
}

export type QuotaName = keyof TenantQuotas;

const MiB = 1024 * 1024;

/**
 * The defaults, generous enough that one user of a host never meets them: the per-host ones
 * are beyond what a host serves (a host answers some tens of thousands of calls per second,
 * and queues at most 10,000), the others far beyond a laptop's use. The two ceilings default
 * to the host's own limits (`guestMemoryMiB`, `maxTimeoutMs`), so they restrict nothing unless set.
 */
export function defaultQuotas(host: { guestMemoryMiB: number; maxTimeoutMs: number }): TenantQuotas {
  return {
    concurrentCalls: 10_000,
    callsPerSecond: 100_000,
    burst: 100_000,
    modules: 1_000,
    moduleBytes: 4096 * MiB,
    stateBytes: 2 ** 50,
    guestMemoryMiB: host.guestMemoryMiB,
    maxTimeoutMs: host.maxTimeoutMs,
  };
}

/** Each quota's rule: the smallest value it takes, and whether it must be a whole number. */
const RULES: Readonly<Record<QuotaName, { min: number; integer: boolean }>> = {
  concurrentCalls: { min: 0, integer: true },
  callsPerSecond: { min: 0, integer: false },
  burst: { min: 1, integer: true },
  modules: { min: 0, integer: true },
  moduleBytes: { min: 0, integer: true },
  stateBytes: { min: 0, integer: true },
  guestMemoryMiB: { min: 1, integer: true },
  maxTimeoutMs: { min: 1, integer: true },
};

export const QUOTA_NAMES = Object.keys(RULES) as QuotaName[];

/**
 * A tenant's `quotas` object (a tenant record, the host's options): any of the quotas, each a
 * number by its rule; those left out are `base`'s. The one parser of quotas: what it accepts
 * every part of the host enforces as is.
 *
 * @throws CloudburstError `INVALID_REQUEST` for anything but an object of known quotas with valid values.
 * @example
 * parseQuotas({ concurrentCalls: 8, callsPerSecond: 50 }, defaultQuotas(opts)).burst // the default's
 */
export function parseQuotas(json: unknown, base: TenantQuotas): TenantQuotas {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CloudburstError('INVALID_REQUEST', `quotas are an object of numbers: {"concurrentCalls": n, ...}, with any of ${QUOTA_NAMES.join(', ')}`);
  }
  const out = { ...base };
  for (const [name, value] of Object.entries(json)) {
    if (!Object.hasOwn(RULES, name)) {
      throw new CloudburstError('INVALID_REQUEST', `unknown quota ${JSON.stringify(name)}: the quotas are ${QUOTA_NAMES.join(', ')}`);
    }
    const rule = RULES[name as QuotaName];
    const ok = typeof value === 'number' && Number.isFinite(value) && value >= rule.min && value <= Number.MAX_SAFE_INTEGER
      && (!rule.integer || Number.isInteger(value));
    if (!ok) {
      throw new CloudburstError('INVALID_REQUEST', `quota ${name} must be ${rule.integer ? 'an integer' : 'a number'} from ${rule.min} to ${Number.MAX_SAFE_INTEGER}, not ${JSON.stringify(value)}`);
    }
    out[name as QuotaName] = value;
  }
  return out;
}

/**
 * Where a host reads a tenant's quotas: on every call, so synchronously, from memory (a source
 * backed by the tenants' records in the KV tier keeps them cached and refreshes them aside).
 */
export interface QuotaSource {
  quotasOf(tenant: string): TenantQuotas;
}

/**
 * Each tenant's quotas from its record (`POST /v1/tenants` `{"quotas": {...}}`, host/auth), over
 * the host's (`base`): `lookup` gives the record's `quotas` as the authenticator last read it (at
 * most 1 s old for a tenant whose token came with the request), undefined for `default` and for
 * a tenant not read here, which get `base`. A record's quotas are parsed once.
 */
export class RecordQuotaSource implements QuotaSource {
  readonly #lookup: (tenant: string) => object | undefined;
  readonly #base: TenantQuotas;
  readonly #parsed = new WeakMap<object, TenantQuotas>();

  constructor(lookup: (tenant: string) => object | undefined, base: TenantQuotas) {
    this.#lookup = lookup;
    this.#base = Object.freeze({ ...base });
  }

  quotasOf(tenant: string): TenantQuotas {
    const given = this.#lookup(tenant);
    if (given === undefined) return this.#base;
    let q = this.#parsed.get(given);
    if (q === undefined) {
      // Checked by the same parser when the tenant was created (protocol.ts): a record that
      // fails now (written by another version) gets the host's quotas, not an error per call.
      try {
        q = Object.freeze(parseQuotas(given, this.#base));
      } catch {
        q = this.#base;
      }
      this.#parsed.set(given, q);
    }
    return q;
  }
}

/** Every tenant gets the host's defaults (the `quotas` host option). */
export class DefaultQuotaSource implements QuotaSource {
  readonly #quotas: TenantQuotas;

  constructor(quotas: TenantQuotas) {
    this.#quotas = Object.freeze({ ...quotas });
  }

  quotasOf(): TenantQuotas {
    return this.#quotas;
  }
}
