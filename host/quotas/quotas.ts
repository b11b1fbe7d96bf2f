import { CloudburstError } from '../../common/index.ts';
import type { Lattice } from '../../kvs/index.ts';
import type { ReadThroughCache } from '../cache/read-through.ts';
import type { JobQuota } from '../executor/protocol.ts';
import type { MetricsRegistry } from '../metrics.ts';
import type { Principal } from '../auth/principal.ts';
import type { Timeouts } from '../protocol.ts';
import { CallAdmission } from './call-admission.ts';
import { quotaExceeded } from './quota-error.ts';
import { QuotaRefusals } from './refusals.ts';
import { StateLedger, stateBytesKey } from './state-ledger.ts';
import type { QuotaSource, TenantQuotas } from './tenant-quotas.ts';

const PAGE = 65536;
/**
 * How long a tenant whose ledger the tier did not have (or could not give) is not asked for it
 * again. Without it, every call of a tenant that never wrote state (only stateless functions)
 * cost the main thread a request to the KV tier.
 */
const LEARN_AGAIN_MS = 1000;
/** Tenants remembered as asked lately, at most (the map is cleared past it). */
const LEARN_TENANTS = 10_000;
const MiB = 1024 * 1024;

export interface QuotasOptions {
  source: QuotaSource;
  /** The host's own limits: a tenant's ceilings never go past them. */
  host: { guestMemoryMiB: number } & Timeouts;
  readThrough: ReadThroughCache;
  /** The main thread's writer id for the state ledger (its own entry of each tenant's count). */
  writer: string;
}

/** A module about to be deployed, as the deploy quotas see it. */
export interface ModuleCandidate {
  name: string;
  size: number;
  memoryInitialPages: number;
}

/**
 * A host's enforcement of its tenants' quotas (host/README.md, "Quotas"): each check is made
 * where a request is accepted, before anything of it runs or is written, and each refusal is
 * a 429 `QUOTA_EXCEEDED` counted in `cloudburst_quota_refusals_total{quota}`.
 */
export class Quotas {
  readonly #source: QuotaSource;
  readonly #host: QuotasOptions['host'];
  readonly #readThrough: ReadThroughCache;
  readonly #writer: string;
  readonly #calls = new CallAdmission();
  /** When this host last asked the tier for a tenant's ledger it did not hold (#learnStateBytes). */
  readonly #askedAt = new Map<string, number>();
  readonly refusals = new QuotaRefusals();

  constructor(opts: QuotasOptions) {
    this.#source = opts.source;
    this.#host = opts.host;
    this.#readThrough = opts.readThrough;
    this.#writer = opts.writer;
  }

  of(tenant: string): TenantQuotas {
    return this.#source.quotasOf(tenant);
  }

  /**
   * The deadlines a tenant's call may ask for: the host's, but a call that asks for none gets
   * the host's default only within the tenant's ceiling (asking for more is refused by `admitCall`).
   */
  timeouts(tenant: string): Timeouts {
    const ceiling = this.of(tenant).maxTimeoutMs;
    return { defaultTimeoutMs: Math.min(this.#host.defaultTimeoutMs, ceiling), maxTimeoutMs: this.#host.maxTimeoutMs };
  }

  /**
   * Admits a call or DAG call of the principal's tenant (its deadline, then its place among the
   * tenant's calls at once and its rate on this host). Returns the release, to call once the
   * call ended. A call another host forwarded here (`forwarded`, sent by the cluster, not by a
   * token's holder) was admitted where it arrived and is not counted again.
   *
   * @throws CloudburstError `QUOTA_EXCEEDED` (maxTimeoutMs, concurrentCalls, callsPerSecond)
   */
  admitCall(principal: Principal, timeoutMs: number, forwarded = false): () => void {
    const tenant = principal.tenant;
    const q = this.of(tenant);
    if (timeoutMs > q.maxTimeoutMs) {
      throw this.#refused(quotaExceeded('maxTimeoutMs', q.maxTimeoutMs, `the call asks for a deadline of ${timeoutMs} ms; tenant ${tenant}'s calls may ask for at most ${q.maxTimeoutMs} ms`));
    }
    if (forwarded && principal.kind !== 'token') return () => undefined;
    try {
      return this.#calls.admit(tenant, q);
    } catch (err) {
      throw this.#refused(err);
    }
  }

  /** What of the tenant's quotas a call's worker enforces (its commits, its memory). */
  jobQuota(tenant: string): JobQuota {
    const q = this.of(tenant);
    this.#learnStateBytes(tenant);
    return { tenant, stateBytes: q.stateBytes, memoryMaxPages: Math.floor((Math.min(q.guestMemoryMiB, this.#host.guestMemoryMiB) * MiB) / PAGE) };
  }

  /**
   * The deploy quotas of a module about to be stored (its checks passed): its memory within the
   * tenant's ceiling, then the tenant's modules, counted and summed across the cluster from the
   * registry's records (`deployed`, read fresh from the tier) with this one replacing its
   * namesake. Two deploys racing on different hosts may both pass.
   *
   * @throws CloudburstError `QUOTA_EXCEEDED` (guestMemoryMiB, modules, moduleBytes)
   */
  async admitModule(tenant: string, m: ModuleCandidate, deployed: () => Promise<readonly { name: string; size: number }[]>): Promise<void> {
    const q = this.of(tenant);
    const ceilingPages = this.jobQuota(tenant).memoryMaxPages;
    if (m.memoryInitialPages > ceilingPages) {
      throw this.#refused(quotaExceeded('guestMemoryMiB', q.guestMemoryMiB, `module ${m.name} needs ${m.memoryInitialPages} pages (64 KiB) of memory at start; tenant ${tenant}'s functions may have at most ${q.guestMemoryMiB} MiB (${ceilingPages} pages)`));
    }
    const others = (await deployed()).filter((r) => r.name !== m.name);
    if (others.length + 1 > q.modules) {
      throw this.#refused(quotaExceeded('modules', q.modules, `tenant ${tenant} has ${others.length} modules; its quota is ${q.modules} (delete one, or replace one by uploading under its name)`));
    }
    const bytes = others.reduce((n, r) => n + r.size, 0);
    if (bytes + m.size > q.moduleBytes) {
      throw this.#refused(quotaExceeded('moduleBytes', q.moduleBytes, `tenant ${tenant}'s modules take ${bytes} bytes and this one ${m.size}: its quota is ${q.moduleBytes} bytes of modules`));
    }
  }

  /**
   * Commits writes of a tenant's state from the main thread (`PUT`/`DELETE /v1/kv`) and waits
   * for the tier, settled against its state bytes: refused, nothing is written.
   *
   * @throws CloudburstError `QUOTA_EXCEEDED` (stateBytes)
   */
  async writeState(tenant: string, writes: ReadonlyMap<string, Lattice>): Promise<Map<string, Lattice>> {
    const ledger = new StateLedger(tenant, this.#writer, this.of(tenant).stateBytes);
    this.#learnStateBytes(tenant);
    try {
      return await this.#readThrough.writeDurable(writes, ledger);
    } catch (err) {
      throw this.#refused(err);
    }
  }

  /**
   * Brings a tenant's state-bytes ledger into the cache, in the background, when this host has
   * none of it yet: the other hosts' entries, for the checks of its next commits. Looked for
   * (in the cache, then the tier) at most once per LEARN_AGAIN_MS per tenant: a tenant that
   * never wrote state would otherwise cost a tier request per call. A commit never
   * waits for it (state-ledger.ts): with the tier unreachable, commits go on counting this
   * host's own writes.
   */
  #learnStateBytes(tenant: string): void {
    // The clock first: looked at within LEARN_AGAIN_MS, the ledger is not looked for in the
    // cache either (an LMDB lookup per call was ~1.8% of the main thread under load).
    const now = performance.now();
    const asked = this.#askedAt.get(tenant);
    if (asked !== undefined && now - asked < LEARN_AGAIN_MS) return;
    if (this.#askedAt.size >= LEARN_TENANTS) this.#askedAt.clear();
    this.#askedAt.set(tenant, now);
    const key = stateBytesKey(tenant);
    if (this.#readThrough.cache.has(key)) return;
    this.#readThrough.fetch(key).catch(() => undefined);
  }

  /** Counts a refusal a worker made (a call's commit over `stateBytes`, its memory ceiling) and returns it. */
  refusedInWorker(err: CloudburstError): CloudburstError {
    return this.refusals.refused(err);
  }

  registerMetrics(registry: MetricsRegistry): void {
    this.refusals.registerMetrics(registry);
  }

  #refused(err: unknown): unknown {
    return err instanceof CloudburstError && err.code === 'QUOTA_EXCEEDED' ? this.refusals.refused(err) : err;
  }
}
