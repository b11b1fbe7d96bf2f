import { appendFileSync, readFileSync } from 'node:fs';
import { Agent } from 'undici';
import { connectOptions } from '../../common/index.ts';
import type { HostRecord } from '../../host/index.ts';
import { AutoscalePolicy, type Decision, type HostSample } from './autoscale-policy.ts';
import type { LocalCluster, LocalHost } from './cluster.ts';
import { probeReady } from './ready.ts';

export const AUTOSCALE_FILE = 'autoscale.jsonl';

/** One line of `<data>/autoscale.jsonl`: a decision the autoscaler acted on, or how it ended. */
export interface AutoscaleEvent {
  time: string;
  /** `out`/`in`: decided; `added`: the new host is ready; `removed`: the drained host exited; `failed`: an action did not complete. */
  action: 'out' | 'in' | 'added' | 'removed' | 'failed';
  host?: string;
  url?: string;
  reason: string;
  /** Ready hosts counted, and their mean utilization, when decided. */
  hosts?: number;
  mean?: number;
  /** Each host's utilization (as its directory record said) when decided. */
  utilization?: Record<string, number>;
}

export interface AutoscalerOptions {
  cluster: Pick<LocalCluster, 'hosts' | 'addHost' | 'removeHost'>;
  policy: AutoscalePolicy;
  /** The directory's host records (host/cluster/directory.ts `readHostRecords` on the KV tier). */
  readRecords: () => Promise<HostRecord[]>;
  /** Where the events go (`<data>/autoscale.jsonl`). */
  file: string;
  /** How often the hosts are sampled (default 250 ms: records are published every 500 ms). */
  intervalMs?: number;
  /** A record older than this is not counted (the scheduler's staleness, 3 s). */
  staleMs?: number;
  /** How long a new host may take to be ready before it is taken out again. Default 60 s. */
  readyTimeoutMs?: number;
  ca?: Buffer | undefined;
  /** Each event, as it happens (printed by `up`). */
  print: (line: string) => void;
  clock?: () => number;
}

const round = (x: number): number => Math.round(x * 1000) / 1000;

/**
 * The local provider of host autoscaling (`cloudburst up --autoscale`): samples every host's
 * utilization from the directory, asks the policy, and adds a host process (`addHost`) or
 * drains the newest removable one (`removeHost`: SIGTERM, the host's drain). One action at a
 * time: a host is `starting` until its /readyz says 200 and its record is in the directory,
 * `draining` until its process exited; neither is counted meanwhile.
 */
export class Autoscaler {
  readonly #o: AutoscalerOptions;
  readonly #clock: () => number;
  readonly #agent: Agent;
  /** Hosts added and not ready yet, and hosts being drained. */
  readonly #starting = new Set<string>();
  readonly #draining = new Set<string>();
  #action: Promise<void> | undefined;
  /** A host process is being launched (not in the cluster's list yet). */
  #launching = false;
  #timer: NodeJS.Timeout | undefined;
  #tick: Promise<void> | undefined;
  #stopped = false;
  #lastError = '';

  constructor(o: AutoscalerOptions) {
    this.#o = o;
    this.#clock = o.clock ?? Date.now;
    this.#agent = new Agent(connectOptions(o.ca));
  }

  start(): void {
    const loop = (): void => {
      this.#tick = this.#sample().catch((err: unknown) => this.#warn(`autoscale: cannot read the hosts' utilization: ${(err as Error).message}`)).finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(loop, this.#o.intervalMs ?? 250);
      });
    };
    loop();
  }

  /** No new decision; waits for the one under way (a host being added or drained). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#tick;
    await this.#action;
    await this.#agent.close();
  }

  async #sample(): Promise<void> {
    const records = await this.#o.readRecords();
    const now = this.#clock();
    const hosts = this.#o.cluster.hosts();
    const samples: HostSample[] = [];
    for (const h of hosts) {
      const s = this.#sampleOf(h, records, now);
      if (s) samples.push(s);
    }
    if (this.#launching) samples.push({ name: 'a new host', url: '', state: 'starting', utilization: 0, queued: 0, removable: false, startedAt: now });
    const decision = this.#o.policy.decide(now, samples);
    if (decision.action === 'hold' || this.#stopped || this.#action) return;
    this.#o.policy.acted(decision.action, now);
    this.#action = (decision.action === 'out' ? this.#scaleOut(decision, samples) : this.#scaleIn(decision, samples)).finally(() => (this.#action = undefined));
  }

  /** The host as the policy sees it; undefined: not counted at all (its process is gone, or it publishes no record). */
  #sampleOf(h: LocalHost, records: readonly HostRecord[], now: number): HostSample | undefined {
    const record = records.filter((r) => r.url === h.url).sort((a, b) => b.updatedAt - a.updatedAt)[0];
    const fresh = record !== undefined && !record.stopped && now - record.updatedAt <= (this.#o.staleMs ?? 3000);
    const base = { name: h.name, url: h.url, utilization: fresh ? record.utilization : 0, queued: fresh ? record.queued : 0, removable: !h.first, startedAt: Date.parse(h.startedAt ?? '') || 0 };
    if (this.#draining.has(h.name)) return { ...base, state: 'draining' };
    if (this.#starting.has(h.name)) return { ...base, state: 'starting' };
    return h.alive && fresh ? { ...base, state: 'ready' } : undefined;
  }

  async #scaleOut(d: Decision, samples: HostSample[]): Promise<void> {
    const started = this.#clock();
    this.#event({ action: 'out', reason: d.reason, ...this.#seen(d, samples) });
    let host: LocalHost | undefined;
    this.#launching = true;
    try {
      host = await this.#o.cluster.addHost();
      this.#starting.add(host.name);
      this.#launching = false;
      await this.#untilReady(host, started);
      this.#event({ action: 'added', host: host.name, url: host.url, reason: `ready after ${this.#clock() - started} ms` });
    } catch (err) {
      this.#event({ action: 'failed', ...(host ? { host: host.name, url: host.url } : {}), reason: `scale-out: ${(err as Error).message}` });
      if (host) await this.#o.cluster.removeHost(host.name).catch(() => undefined);
    } finally {
      this.#launching = false;
      if (host) this.#starting.delete(host.name);
    }
  }

  async #scaleIn(d: Extract<Decision, { action: 'in' }>, samples: HostSample[]): Promise<void> {
    const started = this.#clock();
    this.#draining.add(d.host);
    this.#event({ action: 'in', host: d.host, url: d.url, reason: d.reason, ...this.#seen(d, samples) });
    try {
      await this.#o.cluster.removeHost(d.host);
      this.#event({ action: 'removed', host: d.host, url: d.url, reason: `drained and exited after ${this.#clock() - started} ms` });
    } catch (err) {
      this.#event({ action: 'failed', host: d.host, url: d.url, reason: `scale-in: ${(err as Error).message}` });
    } finally {
      this.#draining.delete(d.host);
    }
  }

  /** Until the new host answers /readyz 200 and its record is in the directory. */
  async #untilReady(host: LocalHost, started: number): Promise<void> {
    const timeoutMs = this.#o.readyTimeoutMs ?? 60_000;
    for (;;) {
      if (this.#stopped) throw new Error('up is stopping');
      const ready = await probeReady({ role: 'host', name: host.name, url: host.url }, this.#agent);
      if (ready.ready) {
        const records = await this.#o.readRecords().catch(() => []);
        if (records.some((r) => r.url === host.url && !r.stopped)) return;
      }
      if (this.#clock() - started > timeoutMs) throw new Error(`${host.name} was not ready within ${Math.round(timeoutMs / 1000)} s (${ready.ready ? 'no directory record' : ready.code})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  #seen(d: Decision, samples: HostSample[]): Pick<AutoscaleEvent, 'hosts' | 'mean' | 'utilization'> {
    return { hosts: d.hosts, mean: round(d.mean), utilization: Object.fromEntries(samples.map((s) => [s.name, round(s.utilization)])) };
  }

  #event(e: Omit<AutoscaleEvent, 'time'>): void {
    const event: AutoscaleEvent = { time: new Date(this.#clock()).toISOString(), ...e };
    appendFileSync(this.#o.file, `${JSON.stringify(event)}\n`);
    this.#o.print(describeEvent(event));
  }

  #warn(line: string): void {
    // Once per distinct trouble, not every 250 ms.
    if (line === this.#lastError) return;
    this.#lastError = line;
    this.#o.print(line);
  }
}

/** One line for people: `up` prints it, `cluster status` lists the last ones. */
export function describeEvent(e: AutoscaleEvent): string {
  const host = e.host ? ` ${e.host}${e.url ? ` (${e.url})` : ''}` : '';
  const what = { out: 'scale out', in: `scale in: draining${host}`, added: `added${host}`, removed: `removed${host}`, failed: `failed${host}` }[e.action];
  const seen = e.utilization ? ` [${Object.entries(e.utilization).map(([n, u]) => `${n}=${Math.round(u * 100)}%`).join(' ')}]` : '';
  return `${e.time} autoscale: ${what}: ${e.reason}${seen}`;
}

/** The last `n` events of an autoscale file (none when it does not exist). */
export function lastEvents(file: string, n: number): AutoscaleEvent[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text.split('\n').filter((l) => l.trim()).slice(-n).flatMap((l) => {
    try {
      return [JSON.parse(l) as AutoscaleEvent];
    } catch {
      return [];
    }
  });
}

/**
 * What `cloudburst cluster status` adds for a cluster `up --autoscale` runs: the host count
 * with its bounds, and the last decisions.
 */
export function autoscaleSummary(file: { processes: { role: string }[]; autoscale?: { minHosts: number; maxHosts: number; decisions: string } }, last = 5): string[] {
  if (!file.autoscale) return [];
  const { minHosts, maxHosts, decisions } = file.autoscale;
  const events = lastEvents(decisions, last);
  return [
    `hosts: ${file.processes.filter((p) => p.role === 'host').length} (autoscale: min ${minHosts}, max ${maxHosts})`,
    events.length === 0 ? 'autoscale: no decision yet' : `autoscale, last decisions (all in ${decisions}):`,
    ...events.map((e) => `  ${describeEvent(e)}`),
  ];
}
