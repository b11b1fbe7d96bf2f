/**
 * The page's memory of what it polled: the last readings of `GET /v1/overview`, and the series
 * the charts draw from them (calls per second, errors per second, p50 and p99 of each poll
 * interval, the outbox). The host keeps counters since its start only; "over time" is made
 * here, from the differences between readings. Pure (unit-tested in test/ui/history.unit.test.ts).
 */
import { difference, quantile, type HistogramReading } from '../histogram.ts';

/** What history needs of an overview (its type is the host's, host/ui/overview.ts). */
export interface Reading {
  time: number;
  host: { id: string };
  functions: { name: string; calls: number; errors: number; latency: HistogramReading }[];
  cache: { outbox: number; callKeys: number; misses: number; lapsed: number };
}

/** One point per poll interval; null where there is nothing to say (no call in the interval). */
export interface FunctionSeries {
  rate: (number | null)[];
  errorRate: (number | null)[];
  p50: (number | null)[];
  p99: (number | null)[];
}

/** Readings kept: 150 polls, five minutes at the page's 2 s. */
export const HISTORY_LENGTH = 150;

/**
 * A bounded list of readings, oldest first. Readings of another host (the page was pointed
 * elsewhere, or the host restarted with a new id) start the history again.
 *
 * @example
 * const history = new History();
 * history.add(overview);
 * history.functionSeries('math.square').p99 // seconds, one per interval
 */
export class History {
  readonly #readings: Reading[] = [];
  readonly #max: number;

  constructor(max = HISTORY_LENGTH) {
    this.#max = max;
  }

  add(r: Reading): void {
    const last = this.#readings[this.#readings.length - 1];
    if (last !== undefined && (last.host.id !== r.host.id || r.time <= last.time)) this.#readings.length = 0;
    this.#readings.push(r);
    if (this.#readings.length > this.#max) this.#readings.splice(0, this.#readings.length - this.#max);
  }

  get size(): number {
    return this.#readings.length;
  }

  /** The pairs of consecutive readings, with the seconds between them. */
  #intervals(): { a: Reading; b: Reading; dt: number }[] {
    const out: { a: Reading; b: Reading; dt: number }[] = [];
    for (let i = 1; i < this.#readings.length; i++) {
      const a = this.#readings[i - 1]!;
      const b = this.#readings[i]!;
      out.push({ a, b, dt: (b.time - a.time) / 1000 });
    }
    return out;
  }

  functionSeries(name: string): FunctionSeries {
    const s: FunctionSeries = { rate: [], errorRate: [], p50: [], p99: [] };
    for (const { a, b, dt } of this.#intervals()) {
      const fa = a.functions.find((f) => f.name === name);
      const fb = b.functions.find((f) => f.name === name);
      if (fb === undefined) {
        s.rate.push(null); s.errorRate.push(null); s.p50.push(null); s.p99.push(null);
        continue;
      }
      // A counter that went back (module deleted and deployed again) starts from zero.
      const calls = fa === undefined || fb.calls < fa.calls ? fb.calls : fb.calls - fa.calls;
      const errors = fa === undefined || fb.errors < fa.errors ? fb.errors : fb.errors - fa.errors;
      const h = difference(fa?.latency, fb.latency);
      s.rate.push(calls / dt);
      s.errorRate.push(errors / dt);
      s.p50.push(quantile(h, 0.5) ?? null);
      s.p99.push(quantile(h, 0.99) ?? null);
    }
    return s;
  }

  /** Calls per second over every function, per interval. */
  totalRate(): (number | null)[] {
    return this.#intervals().map(({ a, b, dt }) => {
      const sum = (r: Reading): number => r.functions.reduce((n, f) => n + f.calls, 0);
      const d = sum(b) - sum(a);
      return d < 0 ? null : d / dt;
    });
  }

  /** The cache's hit rate per interval: 1 - misses / keys used; null when no call used a key. */
  hitRate(): (number | null)[] {
    return this.#intervals().map(({ a, b }) => {
      const keys = b.cache.callKeys - a.cache.callKeys;
      const misses = b.cache.misses - a.cache.misses;
      return keys > 0 && misses >= 0 ? Math.max(0, 1 - misses / keys) : null;
    });
  }

  /** A value of each reading (the outbox's depth, lapsed subscriptions). */
  gauge(read: (r: Reading) => number): number[] {
    return this.#readings.map(read);
  }
}
