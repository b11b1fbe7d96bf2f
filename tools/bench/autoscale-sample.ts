// What the autoscale bench (autoscale.ts) reads off the platform while the load runs: which
// hosts there are (the first host's directory, and cluster.json for hosts it has not seen yet),
// which of them are ready, and their workers summed from their /metrics.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HOST_PATHS } from '../../host/index.ts';
import { readClusterFile } from '../cli/cluster.ts';

export interface PlatformSample {
  /** ms since the load started. */
  t: number;
  /** Hosts that answer /readyz 200 (a draining host answers 503). */
  hosts: number;
  /** `cloudburst_workers` summed over the hosts that answered /metrics. */
  workers: number;
  /** `cloudburst_workers_busy` and `cloudburst_calls_queued`, summed likewise. */
  busy: number;
  queued: number;
  /** Every host URL known at the time (ready or not). */
  urls: string[];
}

/** The values of a metric in Prometheus text (any labels), summed. */
export function metricTotal(text: string, name: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+(\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

export class PlatformSampler {
  readonly #first: string;
  readonly #dataDir: string;
  readonly #headers: Record<string, string>;
  /** Every host URL seen so far: a host that stops (scale-in) is then counted as not ready. */
  readonly #known = new Set<string>();

  /** `first`: the host the clients use; `dataDir`: the `up`'s (its cluster.json); `token`: one with the read scope, if the hosts want one. */
  constructor(first: string, dataDir: string, token: string | undefined) {
    this.#first = first;
    this.#dataDir = dataDir;
    this.#headers = token ? { authorization: `Bearer ${token}` } : {};
    this.#known.add(first);
  }

  async #get(url: string): Promise<{ status: number; text: string } | undefined> {
    try {
      const res = await fetch(url, { headers: this.#headers, signal: AbortSignal.timeout(1000) });
      return { status: res.status, text: await res.text() };
    } catch {
      return undefined;
    }
  }


  async sample(t: () => number): Promise<PlatformSample> {
    for (const p of readClusterFile(this.#dataDir)?.processes ?? []) if (p.role === 'host') this.#known.add(p.url);
    const view = await this.#get(`${this.#first}${HOST_PATHS.cluster}`);
    if (view?.status === 200) {
      const c = JSON.parse(view.text) as { host: { url: string }; peers: { url: string }[] };
      for (const u of [c.host.url, ...c.peers.map((p) => p.url)]) this.#known.add(u);
    }
    const urls = [...this.#known];
    const per = await Promise.all(urls.map(async (u) => {
      const [readyz, metrics] = await Promise.all([this.#get(`${u}${HOST_PATHS.readyz}`), this.#get(`${u}${HOST_PATHS.metrics}`)]);
      const text = metrics?.status === 200 ? metrics.text : '';
      return { ready: readyz?.status === 200, workers: metricTotal(text, 'cloudburst_workers'), busy: metricTotal(text, 'cloudburst_workers_busy'), queued: metricTotal(text, 'cloudburst_calls_queued') };
    }));
    const sum = (f: (x: (typeof per)[number]) => number): number => per.reduce((a, x) => a + f(x), 0);
    return { t: t(), hosts: per.filter((x) => x.ready).length, workers: sum((x) => x.workers), busy: sum((x) => x.busy), queued: sum((x) => x.queued), urls };
  }

  /** Samples every `everyMs` (one at a time: a slow one delays the next) until `stop` is called. */
  every(everyMs: number, t: () => number): { stop(): Promise<PlatformSample[]> } {
    const samples: PlatformSample[] = [];
    let stopped = false;
    const loop = (async (): Promise<void> => {
      while (!stopped) {
        const began = t();
        samples.push(await this.sample(t));
        await new Promise((r) => setTimeout(r, Math.max(0, everyMs - (t() - began))));
      }
    })();
    return { stop: async () => ((stopped = true), await loop, samples) };
  }
}

/** The `up`'s autoscale decisions (`<data>/autoscale.jsonl`, one JSON object a line), if it keeps any. */
export function autoscaleDecisions(dataDir: string): Record<string, unknown>[] {
  let text: string;
  try {
    text = readFileSync(join(dataDir, 'autoscale.jsonl'), 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>);
}
