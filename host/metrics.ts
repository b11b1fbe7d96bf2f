import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';

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

function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
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
  readonly #calls = new Counter({
    name: 'cloudburst_calls_total', help: 'Function calls run on this host, by function and outcome (ok or error).',
    labelNames: ['function', 'outcome'] as const, registers: [this.registry],
  });
  readonly #errors = new Counter({
    name: 'cloudburst_call_errors_total', help: 'Failed function calls, by function and error code.',
    labelNames: ['function', 'code'] as const, registers: [this.registry],
  });
  readonly #duration = new Histogram({
    name: 'cloudburst_call_duration_seconds', help: 'Function call latency on this host, by function.',
    labelNames: ['function'] as const, buckets: BUCKETS, registers: [this.registry],
  });
  readonly #http = new Counter({
    name: 'cloudburst_http_requests_total', help: 'HTTP requests answered, by method and status.',
    labelNames: ['method', 'status'] as const, registers: [this.registry],
  });
  /** The functions seen, each with the error codes it failed with: what forget() removes. */
  readonly #functions = new Map<string, Set<string>>();

  get contentType(): string {
    return this.registry.contentType;
  }

  observeCall(fn: string, seconds: number, errorCode: string | undefined): void {
    let codes = this.#functions.get(fn);
    if (!codes) {
      codes = new Set();
      this.#functions.set(fn, codes);
      // Both outcomes are shown from the first call on, so that an error rate reads 0, not nothing.
      this.#calls.inc({ function: fn, outcome: 'ok' }, 0);
      this.#calls.inc({ function: fn, outcome: 'error' }, 0);
    }
    if (errorCode === undefined) this.#calls.inc({ function: fn, outcome: 'ok' });
    else {
      this.#calls.inc({ function: fn, outcome: 'error' });
      this.#errors.inc({ function: fn, code: errorCode });
      codes.add(errorCode);
    }
    this.#duration.observe({ function: fn }, seconds);
  }

  observeRequest(method: string, status: number): void {
    this.#http.inc({ method, status: String(status) });
  }

  /** Forget a function's series (its module was deleted). */
  forget(prefix: string): void {
    for (const [fn, codes] of this.#functions) {
      if (!fn.startsWith(prefix)) continue;
      this.#calls.remove({ function: fn, outcome: 'ok' });
      this.#calls.remove({ function: fn, outcome: 'error' });
      for (const code of codes) this.#errors.remove({ function: fn, code });
      this.#duration.remove({ function: fn });
      this.#functions.delete(fn);
    }
  }

  /** The Prometheus text of this host's metrics and of the process's. */
  async render(): Promise<string> {
    return `${await this.registry.metrics()}\n${await this.#process.metrics()}`;
  }
}
