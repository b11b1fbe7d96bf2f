import { CloudburstError } from '../common/index.ts';
import { gaugeFrom, type MetricsRegistry } from './metrics.ts';

/**
 * Whether this host can serve, what `GET /readyz` answers (host/README.md, "Readiness and
 * draining"): a load balancer or Kubernetes sends it work only while it is ready. `/healthz`
 * is liveness and stays 200 throughout.
 *
 * A host is ready once nothing holds it: `tier` (it has reached the KV tier and published its
 * first directory record, so that peers can place work on it) and whatever its starter asked
 * to hold (`cloudburst up` holds it until the examples are deployed). Once it drains, it is
 * never ready again.
 *
 * @example
 * const readiness = new Readiness({ tier: 'it has not reached the KV tier yet' });
 * readiness.release('tier');
 * readiness.check(); // throws NOT_READY or SHUTTING_DOWN, or returns
 */
export class Readiness {
  /** What still holds readiness back, with the reason /readyz gives. */
  readonly #holds: Map<string, string>;
  #draining = false;

  constructor(holds: Record<string, string>) {
    this.#holds = new Map(Object.entries(holds));
  }

  get ready(): boolean {
    return !this.#draining && this.#holds.size === 0;
  }

  get draining(): boolean {
    return this.#draining;
  }

  /** One condition is met (releasing twice, or one never held, changes nothing). */
  release(name: string): void {
    this.#holds.delete(name);
  }

  /** From now on /readyz answers SHUTTING_DOWN. */
  drain(): void {
    this.#draining = true;
  }

  /**
   * @throws CloudburstError `SHUTTING_DOWN` while draining, `NOT_READY` while something holds
   *   readiness (the message says what).
   */
  check(): void {
    if (this.#draining) throw new CloudburstError('SHUTTING_DOWN', 'this host is draining: send work to another host');
    if (this.#holds.size > 0) throw new CloudburstError('NOT_READY', `this host is not ready: ${[...this.#holds.values()].join('; ')}`);
  }

  /** `cloudburst_ready`: 1 while ready. */
  registerMetrics(registry: MetricsRegistry): void {
    gaugeFrom(registry, 'cloudburst_ready', 'Whether the host is ready to serve (what GET /readyz answers): 1 ready, 0 starting or draining.', () => (this.ready ? 1 : 0));
  }
}
