/**
 * Seeds given by name: `--seeds` of a KV node and `--kvs` of a host (and `cluster status`) may
 * name a host that resolves to several addresses, as a Kubernetes headless Service does (one
 * A/AAAA record per pod). Each name is resolved to all its addresses (`dns.lookup` with
 * `all: true`: /etc/hosts and the system's resolver, as every other program on the machine),
 * the seed's port kept, and looked up again when the last answer is older than `maxAgeMs`
 * (10 s) or the caller asks (after a failure), so pods that come later are found without a
 * restart.
 *
 * Passed through as given: literal IP addresses, and `https://` seeds (a certificate names the
 * host, not its addresses: an https seed is reached by its name, which the connection resolves
 * to one address). A name that does not resolve is kept as it was last resolved, or as given
 * when it never was (its requests then fail with the resolver's error, which says why).
 *
 * @example
 * const seeds = new Seeds(['http://kv.cloudburst.svc:7100']);
 * await seeds.urls(); // ['http://10.1.0.7:7100', 'http://10.1.0.8:7100', 'http://10.1.0.9:7100']
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';

/** Every address of a host name, as `dns.promises.lookup(name, { all: true })` answers. */
export type Lookup = (hostname: string) => Promise<readonly { address: string; family: number }[]>;

/** The system's resolver. */
export const systemLookup: Lookup = (hostname) => dnsLookup(hostname, { all: true });

/** How old a resolution may be before it is looked up again. */
export const SEED_RESOLVE_MS = 10_000;

export interface SeedsOptions {
  /** The resolver (default: the system's, `dns.lookup`). A seam for tests, never a mock of ours. */
  readonly lookup?: Lookup;
  /** How old a resolution may be before `urls()` looks it up again (default 10 s). */
  readonly maxAgeMs?: number;
}

/** A seed to resolve: its URL split, or undefined when it passes through as given. */
function nameOf(seed: string): { hostname: string; prefix: string; suffix: string } | undefined {
  let url: URL;
  try {
    url = new URL(seed);
  } catch {
    return undefined;
  }
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (url.protocol !== 'http:' || isIP(host) !== 0) return undefined;
  return { hostname: host, prefix: `${url.protocol}//`, suffix: `${url.port ? `:${url.port}` : ''}${url.pathname === '/' ? '' : url.pathname}` };
}

/** The seeds of a KV client or node, with their names resolved. */
export class Seeds {
  /** The seeds as given (trailing slashes removed). */
  readonly given: readonly string[];
  readonly #lookup: Lookup;
  readonly #maxAgeMs: number;
  /** seed -> its last resolution. */
  readonly #resolved = new Map<string, readonly string[]>();
  #resolvedAt = -Infinity;
  #resolving: Promise<string[]> | undefined;

  constructor(seeds: readonly string[], opts: SeedsOptions = {}) {
    this.given = seeds.map((s) => s.replace(/\/+$/, ''));
    this.#lookup = opts.lookup ?? systemLookup;
    this.#maxAgeMs = opts.maxAgeMs ?? SEED_RESOLVE_MS;
  }

  /** Whether any seed is a name (resolving does something). */
  get hasNames(): boolean {
    return this.given.some((s) => nameOf(s) !== undefined);
  }

  /** The URLs of the last resolution (the seeds as given before the first). */
  get known(): string[] {
    return [...new Set(this.given.flatMap((s) => this.#resolved.get(s) ?? [s]))];
  }

  /**
   * The URLs to contact: every address of every named seed (looked up again when the last
   * lookup is older than `maxAgeMs`, or with `fresh`), the others as given. Never rejects.
   */
  urls(opts: { fresh?: boolean } = {}): Promise<string[]> {
    if (!this.hasNames) return Promise.resolve(this.known);
    if (!opts.fresh && Date.now() - this.#resolvedAt < this.#maxAgeMs) return Promise.resolve(this.known);
    this.#resolving ??= this.#resolve().finally(() => (this.#resolving = undefined));
    return this.#resolving;
  }

  async #resolve(): Promise<string[]> {
    await Promise.all(this.given.map(async (seed) => {
      const name = nameOf(seed);
      if (name === undefined) return;
      try {
        const addresses = await this.#lookup(name.hostname);
        const urls = [...new Set(addresses.map((a) => `${name.prefix}${a.family === 6 || isIP(a.address) === 6 ? `[${a.address}]` : a.address}${name.suffix}`))];
        // No address (a name with no records yet): keep what we had.
        if (urls.length > 0) this.#resolved.set(seed, urls);
      } catch {
        // Not resolvable now (NXDOMAIN before the first pod, a resolver timeout): keep the last
        // answer, or the name itself, whose requests say what is wrong.
      }
    }));
    this.#resolvedAt = Date.now();
    return this.known;
  }
}
