import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';
import { histogramFrom, newFunctionStats, observeSeconds, type FunctionStats } from './call-stats.ts';

export type { Registry as MetricsRegistry } from 'prom-client';

/** Histogram buckets for call latency, in seconds: 50 us to 10 s. */
const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * A gauge read from the part that owns the number, at scrape time.
 *
 * @example
 * gaugeFrom(registry, 'cloudburst_outbox_keys', 'Writes waiting for the KV tier.', () => cache.outboxSize());
 */
export function gaugeFrom(registry: Registry, name: string, help: string, read: () => number): void {
  new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
}

/**
 * A counter read at scrape time from the part that counts: parts keep a plain number (an
 * increment on a hot path stays an increment), and the counter shows it.
 */
export function counterFrom(registry: Registry, name: string, help: string, read: () => number): void {
  new Counter({
    name, help, registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/**
 * The process's own metrics (CPU, memory, event loop, GC), collected once per process and
 * served by every host in it. prom-client cannot stop these collectors (a GC observer and an
 * event-loop delay monitor, kept for good), so collecting them on each host's registry would
 * leave a set behind, holding that registry, for every host a process starts and closes.
 */
let processRegistry: Registry | undefined;

/**
 * How often the event-loop delay monitor samples, in ms (prom-client's default is 10). Each
 * sample is a timer wake-up of the main thread: 100 a second at 10 ms was a measurable part of
 * an idle host's CPU (and so of every CPU-per-call figure). At 100 ms the `nodejs_eventloop_lag_*`
 * series still show a blocked loop, to the nearest 100 ms rather than 10.
 */
const EVENT_LOOP_SAMPLE_MS = 100;

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  }
  return processRegistry;
}

/**
 * A host's metrics: its own registry (never prom-client's global one, so that hosts in one
 * process do not mix), where the host records calls and HTTP answers and where each part
 * registers what it counts (`registerMetrics(registry)`, see host/README.md "Metrics").
 *
 * @example
 * metrics.observeCall('math.square', 0.00012, undefined);
 * res.setHeader('content-type', metrics.contentType);
 * res.end(await metrics.render());
 */
export class Metrics {
  readonly registry = new Registry();
  readonly #process = processMetrics();
  /** Each function seen, with its numbers (call-stats.ts): what the per-call series show, and what forget() removes. */
  readonly #functions = new Map<string, FunctionStats>();
  /** HTTP answers by method, then by status. */
  readonly #http = new Map<string, Map<number, { n: number }>>();

  constructor() {
    const fns = this.#functions;
    new Counter({
      name: 'cloudburst_calls_total', help: 'Function calls run on this host, by function and outcome (ok or error).',
      labelNames: ['function', 'outcome'] as const, registers: [this.registry],
      collect() {
        this.reset();
        // Both outcomes are shown from the first call on, so that an error rate reads 0, not nothing.
        for (const [fn, s] of fns) {
          this.inc({ function: fn, outcome: 'ok' }, s.ok);
          this.inc({ function: fn, outcome: 'error' }, s.error);
        }
      },
    });
    new Counter({
      name: 'cloudburst_call_errors_total', help: 'Failed function calls, by function and error code.',
      labelNames: ['function', 'code'] as const, registers: [this.registry],
      collect() {
        this.reset();
        for (const [fn, s] of fns) for (const [code, n] of s.codes) this.inc({ function: fn, code }, n);
      },
    });
    histogramFrom(this.registry, {
      name: 'cloudburst_call_duration_seconds', help: 'Function call latency on this host, by function.',
      bounds: BUCKETS, stats: () => fns,
    });
    const http = this.#http;
    new Counter({
      name: 'cloudburst_http_requests_total', help: 'HTTP requests answered, by method and status.',
      labelNames: ['method', 'status'] as const, registers: [this.registry],
      collect() {
        this.reset();
        for (const [method, byStatus] of http) for (const [status, { n }] of byStatus) this.inc({ method, status: String(status) }, n);
      },
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  observeCall(fn: string, seconds: number, errorCode: string | undefined): void {
    let s = this.#functions.get(fn);
    if (!s) this.#functions.set(fn, (s = newFunctionStats(BUCKETS)));
    if (errorCode === undefined) s.ok++;
    else {
      s.error++;
      s.codes.set(errorCode, (s.codes.get(errorCode) ?? 0) + 1);
    }
    observeSeconds(s, BUCKETS, seconds);
  }

  observeRequest(method: string, status: number): void {
    let byStatus = this.#http.get(method);
    if (!byStatus) this.#http.set(method, (byStatus = new Map()));
    const counted = byStatus.get(status);
    if (counted) counted.n++;
    else byStatus.set(status, { n: 1 });
  }

  /** Forget a function's series (its module was deleted). */
  forget(prefix: string): void {
    for (const fn of this.#functions.keys()) if (fn.startsWith(prefix)) this.#functions.delete(fn);
  }

  /** The Prometheus text of this host's metrics and of the process's. */
  async render(): Promise<string> {
    return `${await this.registry.metrics()}\n${await this.#process.metrics()}`;
  }
}
