/** Histogram buckets for call latency, in seconds: 50 us to 10 s. */
const BUCKETS = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface FunctionStats {
  ok: number;
  errors: Map<string, number>;
  buckets: number[];
  sum: number;
  count: number;
}

const escape = (v: string): string => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/**
 * Per-function call metrics in the Prometheus text format: call counts by outcome, error
 * counts by code, and a latency histogram. Gauges from other parts are read at scrape time.
 *
 * @example
 * metrics.observeCall('math.square', 0.00012, undefined);
 * metrics.render({ cloudburst_outbox_keys: 3 });
 */
export class Metrics {
  readonly #fns = new Map<string, FunctionStats>();
  readonly #http = new Map<string, number>();

  observeCall(fn: string, seconds: number, errorCode: string | undefined): void {
    let s = this.#fns.get(fn);
    if (!s) {
      s = { ok: 0, errors: new Map(), buckets: new Array<number>(BUCKETS.length).fill(0), sum: 0, count: 0 };
      this.#fns.set(fn, s);
    }
    if (errorCode === undefined) s.ok++;
    else s.errors.set(errorCode, (s.errors.get(errorCode) ?? 0) + 1);
    s.sum += seconds;
    s.count++;
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) s.buckets[i]!++;
  }

  observeRequest(method: string, status: number): void {
    const k = `${method} ${status}`;
    this.#http.set(k, (this.#http.get(k) ?? 0) + 1);
  }

  /** Forget a function's series (its module was deleted). */
  forget(prefix: string): void {
    for (const fn of this.#fns.keys()) if (fn.startsWith(prefix)) this.#fns.delete(fn);
  }

  render(gauges: Record<string, number>): string {
    const out: string[] = [];
    out.push('# HELP cloudburst_calls_total Function calls by outcome.', '# TYPE cloudburst_calls_total counter');
    for (const [fn, s] of this.#fns) {
      const errors = [...s.errors.values()].reduce((a, b) => a + b, 0);
      out.push(`cloudburst_calls_total{function="${escape(fn)}",outcome="ok"} ${s.ok}`);
      out.push(`cloudburst_calls_total{function="${escape(fn)}",outcome="error"} ${errors}`);
    }
    out.push('# HELP cloudburst_call_errors_total Failed function calls by error code.', '# TYPE cloudburst_call_errors_total counter');
    for (const [fn, s] of this.#fns) {
      for (const [code, n] of s.errors) out.push(`cloudburst_call_errors_total{function="${escape(fn)}",code="${code}"} ${n}`);
    }
    out.push('# HELP cloudburst_call_duration_seconds Function call latency on this host.', '# TYPE cloudburst_call_duration_seconds histogram');
    for (const [fn, s] of this.#fns) {
      const f = escape(fn);
      BUCKETS.forEach((b, i) => out.push(`cloudburst_call_duration_seconds_bucket{function="${f}",le="${b}"} ${s.buckets[i]}`));
      out.push(`cloudburst_call_duration_seconds_bucket{function="${f}",le="+Inf"} ${s.count}`);
      out.push(`cloudburst_call_duration_seconds_sum{function="${f}"} ${s.sum}`);
      out.push(`cloudburst_call_duration_seconds_count{function="${f}"} ${s.count}`);
    }
    out.push('# HELP cloudburst_http_requests_total HTTP requests by method and status.', '# TYPE cloudburst_http_requests_total counter');
    for (const [k, n] of this.#http) {
      const [method, status] = k.split(' ');
      out.push(`cloudburst_http_requests_total{method="${method}",status="${status}"} ${n}`);
    }
    for (const [name, value] of Object.entries(gauges)) {
      out.push(`# TYPE ${name} gauge`, `${name} ${value}`);
    }
    return `${out.join('\n')}\n`;
  }
}
