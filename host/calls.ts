import { CloudburstError } from '../kvs/index.ts';
import { prepareArgs } from './executor/args.ts';
import type { ExecutorPool } from './executor/pool.ts';
import type { GuestLog } from './executor/protocol.ts';
import type { Metrics } from './metrics.ts';
import type { Registry } from './registry.ts';
import type { HostState } from './state.ts';

export interface CallsOptions {
  registry: Registry;
  pool: ExecutorPool;
  state: HostState;
  metrics: Metrics;
  hostId: string;
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  onGuestLog: (fn: string, level: number, message: string) => void;
}

export interface CallRequest {
  args?: unknown;
  timeoutMs?: unknown;
}

export interface CallOutcome {
  result: unknown;
  logs: GuestLog[];
  durationUs: number;
}

/** Runs function calls on this host: resolve, check arguments, warm referenced keys, execute. */
export class Calls {
  readonly #o: CallsOptions;

  constructor(opts: CallsOptions) {
    this.#o = opts;
  }

  /** A call is arriving: get a worker out of its sleep while the request is read. */
  prewake(): void {
    this.#o.pool.prewake();
  }

  timeout(requested: unknown): number {
    if (requested === undefined || requested === null) return this.#o.defaultTimeoutMs;
    const n = typeof requested === 'string' ? Number(requested) : requested;
    if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0 || n > this.#o.maxTimeoutMs) {
      throw new CloudburstError('INVALID_REQUEST', `timeoutMs must be an integer from 1 to ${this.#o.maxTimeoutMs}`);
    }
    return n;
  }

  async call(fn: string, req: CallRequest): Promise<CallOutcome> {
    const { registry, pool, state, metrics } = this.#o;
    const resolved = await registry.resolve(fn);
    const timeoutMs = this.timeout(req.timeoutMs);
    const args = prepareArgs(fn, resolved.signature, req.args ?? []);
    // Reference arguments are read by the worker from the cache: bring misses in first, so
    // the worker does not have to stop and ask.
    for (const a of args) {
      if (a.kind === 'ref' && !state.cache.has(a.key)) {
        const v = await state.fetch(a.key);
        if (v === undefined) {
          const key = a.key.slice(a.key.indexOf('/', a.key.indexOf('/') + 1) + 1);
          throw new CloudburstError('REF_NOT_FOUND', `no value under key ${JSON.stringify(key)}`, { key });
        }
      }
    }
    const started = performance.now();
    const outcome = await pool.run({ kind: 'call', module: resolved.spec, exportName: resolved.info.export, args }, timeoutMs);
    const seconds = (performance.now() - started) / 1000;
    metrics.observeCall(resolved.info.name, seconds, outcome.ok ? undefined : outcome.code);
    for (const l of outcome.logs) this.#o.onGuestLog(resolved.info.name, l.level, l.message);
    if (!outcome.ok) throw new CloudburstError(outcome.code, outcome.message, { function: resolved.info.name });
    if (outcome.wrote > 0) state.flusher.kick();
    return { result: outcome.result, logs: outcome.logs, durationUs: Math.round(seconds * 1e6) };
  }
}
