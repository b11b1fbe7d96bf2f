import { randomUUID } from 'node:crypto';
import { CloudburstError, ERROR_CODES } from '../../common/index.ts';
import type { Calls, ClusterView } from '../calls.ts';
import { place } from '../cluster/scheduler.ts';
import type { Futures } from '../futures.ts';
import type { Registry } from '../registry.ts';
import type { ReadThroughCache } from '../cache/read-through.ts';
import type { Topology } from './graph.ts';
import type { ReadVersion } from '../consistency/call-session.ts';
import type { PeerLink } from '../cluster/peer-link.ts';
import type { HistoryEvent } from '../consistency/history.ts';
import type { Consistency } from '../consistency/mode.ts';
import type { Snapshots } from '../consistency/snapshots.ts';
import { encodeSession, type ClientSession } from '../consistency/client-session.ts';
import { HOST_PATHS, hostPath, type DagCallRequest } from '../protocol.ts';
import { clientOf, type DoneMsg, type HostRef, type ScheduleMsg, type StepSchedule, type StepState } from './protocol.ts';
import { prepareFixedArgs, type Steps } from './steps.ts';
import type { DagStore } from './store.ts';
import { parseReply } from './reply.ts';

export interface CoordinatorOptions {
  store: DagStore;
  registry: Registry;
  calls: Calls;
  readThrough: ReadThroughCache;
  futures: Futures;
  steps: Steps;
  link: PeerLink;
  self: () => HostRef;
  cluster: ClusterView | undefined;
  /** Runs after the first that a request may get when a step does not report (2: three runs in all). */
  maxReruns: number;
  /** How long past its deadline a run is waited for, so that a step's own CALL_TIMEOUT arrives first. */
  graceMs: number;
  snapshots: Snapshots;
}

/** A DAG call, checked: everything a caller can get wrong fails before anything runs. */
export interface PreparedDag {
  /** The caller's tenant: the DAG, its functions, references and future are this tenant's; every step runs in it. */
  tenant: string;
  topo: Topology;
  /** Deadline of one run of the whole DAG, in ms. */
  timeoutMs: number;
  /** Fixed arguments per function, as JSON (each host checks them again where the step runs). */
  args: Map<string, unknown[]>;
  /** Storage keys of each function's `{"ref": key}` arguments, for placement by locality. */
  refs: Map<string, string[]>;
  /** Forced placement: function -> host id. */
  pins: Map<string, string>;
  consistency: Consistency;
  /** Record every read and write of the request (`?history=1`). */
  history: boolean;
  /** The client's session: every step's host brings its cache up to it before the step runs. */
  client?: ClientSession;
}

export interface DagOutcome {
  result: unknown;
  /** Where each function ran (in the run that succeeded). */
  hosts: Record<string, string>;
  /** Runs it took: 1, or more after re-runs. */
  runs: number;
  /** Every read and write of the run that succeeded, with versions (`?history=1`). */
  history?: HistoryEvent[];
  /** The client's session after the call (what every step read and wrote). */
  client?: ClientSession;
}

type RunOutcome =
  | { kind: 'ok'; msg: Extract<DoneMsg, { ok: true }> }
  | { kind: 'failed'; msg: Extract<DoneMsg, { ok: false }> }
  | { kind: 'timeout' };

/** How often the directory is checked for hosts that left, while runs involve other hosts. */
const WATCH_MS = 250;

/**
 * The coordinator of DAG calls received by this host: places every step (locality of its
 * reference arguments and load, as for single calls, unless forced), sends each host its share
 * of the schedule (in-process for this host), and waits for the sink's result. A run that
 * does not finish by its deadline (a host died, a message was lost) is abandoned and re-run
 * from the start under a new request id, at most `maxReruns` times; a step that fails by
 * itself (a trap, bad arguments) fails the request at once, since a re-run would fail alike.
 */
export class Coordinator {
  readonly #store: DagStore;
  readonly #registry: Registry;
  readonly #calls: Calls;
  readonly #readThrough: ReadThroughCache;
  readonly #futures: Futures;
  readonly #steps: Steps;
  readonly #link: PeerLink;
  readonly #self: CoordinatorOptions['self'];
  readonly #cluster: ClusterView | undefined;
  readonly #maxReruns: number;
  readonly #graceMs: number;
  readonly #snapshots: Snapshots;
  /** Runs in flight, by request id: its tenant, how to end each, and its other hosts (id -> a step there). */
  readonly #runs = new Map<string, { tenant: string; end: (o: RunOutcome) => void; remote: Map<string, string> }>();
  /** rr runs with parallel branches: the versions agreed per request (see `pin`). */
  readonly #shared = new Map<string, Map<string, ReadVersion>>();
  /** Watches the directory while runs involve other hosts: one that leaves it ends them early. */
  #watch: NodeJS.Timeout | undefined;

  constructor(opts: CoordinatorOptions) {
    this.#store = opts.store;
    this.#registry = opts.registry;
    this.#calls = opts.calls;
    this.#readThrough = opts.readThrough;
    this.#futures = opts.futures;
    this.#steps = opts.steps;
    this.#link = opts.link;
    this.#self = opts.self;
    this.#cluster = opts.cluster;
    this.#maxReruns = opts.maxReruns;
    this.#graceMs = opts.graceMs;
    this.#snapshots = opts.snapshots;
  }

  get active(): number {
    return this.#runs.size;
  }

  /**
   * Checks a DAG call (its shape was checked on arrival, protocol.ts) against the DAG, the
   * functions' signatures and the cluster's hosts: everything a caller can get wrong fails
   * here (4xx); then a forced host that is not live now is HOST_UNAVAILABLE (503).
   */
  async prepare(tenant: string, name: string, call: DagCallRequest): Promise<PreparedDag> {
    const { consistency, args: given, placement } = call;
    const topo = await this.#store.get(tenant, name);
    const fns = new Set(topo.spec.functions);
    const strangers = Object.keys(given).filter((f) => !fns.has(f));
    if (strangers.length > 0) throw new CloudburstError('INVALID_REQUEST', `"args" names functions that are not in DAG ${name}: ${strangers.join(', ')}`);
    const args = new Map<string, unknown[]>();
    const refs = new Map<string, string[]>();
    for (const fn of topo.order) {
      const a = given[fn] ?? [];
      const resolved = await this.#registry.resolve(tenant, fn);
      const prepared = prepareFixedArgs(tenant, fn, resolved.signature, topo.preds.get(fn)!.length, a);
      args.set(fn, a as unknown[]);
      refs.set(fn, prepared.flatMap((p) => (p.kind === 'ref' ? [p.key] : [])));
    }
    const pins = new Map<string, string>();
    const self = this.#self().id;
    const live = (): string => [self, ...(this.#cluster?.peers().map((p) => p.id) ?? [])].join(', ');
    /** A host of the cluster, live or not: this one, or one the directory has a record of. */
    const known = (host: string): boolean => host === self || (this.#cluster !== undefined && this.#cluster.absence(host) !== null);
    for (const [fn, host] of Object.entries(placement)) {
      if (!fns.has(fn)) throw new CloudburstError('INVALID_REQUEST', `"placement" names ${fn}, which is not in DAG ${name}`);
      if (typeof host !== 'string' || !known(host)) {
        throw new CloudburstError('INVALID_REQUEST', `"placement" of ${fn}: ${JSON.stringify(host)} is not a host of this cluster (live: ${live()}; see GET /v1/cluster)`);
      }
      pins.set(fn, host);
    }
    // Last, once the request is known to be right: a host of the cluster that is not live now
    // (it died, is restarting, or missed its records under load, as the directory sees it) is
    // the system's state, not the caller's mistake, and may be back by the next try.
    for (const [fn, host] of pins) {
      const why = host === self ? undefined : this.#cluster?.absence(host);
      if (why) {
        throw new CloudburstError('HOST_UNAVAILABLE', `"placement" of ${fn}: host ${JSON.stringify(host)} is not live (${why}); retry, or place the step elsewhere (live: ${live()}; see GET /v1/cluster)`, { step: fn, host });
      }
    }
    return { tenant, topo, timeoutMs: call.timeoutMs, args, refs, pins, consistency, history: call.history, ...(call.client ? { client: call.client } : {}) };
  }

  /** Runs a prepared DAG call to its end: the sink's result, or the error that ended it. */
  async call(p: PreparedDag): Promise<DagOutcome> {
    const name = p.topo.spec.name;
    let last: CloudburstError | undefined;
    const maxRuns = this.#maxReruns + 1;
    for (let run = 1; run <= maxRuns; run++) {
      const hosts = this.#place(p);
      const rid = randomUUID();
      const out = await this.#run(p, hosts, rid);
      if (out.kind === 'ok') {
        // rr: the request is over, every host of the run drops its snapshots.
        if (p.consistency === 'rr') this.#abandon(rid, hosts);
        const history = p.history ? { history: out.msg.history ?? [] } : {};
        const client = clientOf(out.msg.client) ?? p.client;
        return { result: out.msg.result, hosts: Object.fromEntries([...hosts].map(([fn, h]) => [fn, h.id])), runs: run, ...history, ...(client ? { client } : {}) };
      }
      if (out.kind === 'timeout') {
        const blame = await this.#diagnose(rid, p.topo, hosts);
        this.#abandon(rid, hosts);
        last = new CloudburstError('DAG_STEP_TIMEOUT', `DAG ${name}: step ${blame.step} on host ${blame.host} did not report within ${p.timeoutMs} ms (${blame.why})`, { step: blame.step, host: blame.host, run });
        continue;
      }
      this.#abandon(rid, hosts);
      const { step, host, error } = out.msg;
      const err = new CloudburstError(error.code, `DAG ${name}: step ${step} on host ${host} failed: ${error.message}`, { step, host, run });
      // The function's own failure (a trap, bad input): a re-run would fail the same way.
      if (ERROR_CODES[error.code].userFault) throw err;
      if (error.code === 'HOST_UNAVAILABLE') this.#cluster?.markUnreachable(host, [...hosts.values()].find((h) => h.id === host)?.url);
      last = err;
    }
    throw new CloudburstError(last!.code, `${last!.message}; the DAG ran ${maxRuns} times and no run finished`, last!.details);
  }

  /**
   * Starts an asynchronous DAG call: already checked by `prepare`, so bad input was a 4xx;
   * the outcome is stored under a future, like an asynchronous function call's (the id once
   * the pending record is in the KV tier).
   */
  async start(p: PreparedDag, onEnd: () => void = () => undefined): Promise<string> {
    const label = `dag:${p.topo.spec.name}`;
    const createdAt = new Date().toISOString();
    const id = await this.#futures.create(p.tenant, label);
    void this.call(p).finally(onEnd).then(
      (out) => this.#futures.complete(p.tenant, id, label, createdAt, {
        result: out.result, host: out.hosts[p.topo.sink]!, ...(out.client ? { session: encodeSession(out.client) } : {}),
      }),
      (err: unknown) => this.#futures.complete(p.tenant, id, label, createdAt, { error: err instanceof CloudburstError ? err : new CloudburstError('INTERNAL', String(err)) }),
    );
    return id;
  }

  /**
   * rr with parallel branches: the request's version of `key` is the first one proposed (a
   * branch's first read of it); every later proposal gets that one back.
   */
  pin(rid: string, key: string, proposal: ReadVersion): ReadVersion {
    if (!this.#runs.has(rid)) throw new CloudburstError('INTERNAL', `request ${rid} is not running here (it ended or was re-run)`);
    let pins = this.#shared.get(rid);
    if (!pins) this.#shared.set(rid, (pins = new Map()));
    const agreed = pins.get(key);
    if (agreed !== undefined) return agreed;
    pins.set(key, proposal);
    return proposal;
  }

  /** A step's report for a run this host coordinates (the sink's result, or a failure); one of another tenant changes nothing. */
  onDone(msg: DoneMsg): void {
    const run = this.#runs.get(msg.rid);
    if (run?.tenant === msg.tenant) run.end(msg.ok ? { kind: 'ok', msg } : { kind: 'failed', msg });
  }

  /**
   * Hosts for every step of one run. A forced host that is gone (it was live when the call was
   * checked) is replaced by the scheduler's choice, so that a re-run after its death can succeed.
   */
  #place(p: PreparedDag): Map<string, HostRef> {
    const self = this.#self();
    const cluster = this.#cluster;
    const peers = cluster?.peers() ?? [];
    const out = new Map<string, HostRef>();
    const selfView = cluster && { utilization: cluster.load.self(), caches: (keys: readonly string[]) => keys.filter((k) => this.#readThrough.cache.has(k)).length };
    for (const fn of p.topo.order) {
      const pin = p.pins.get(fn);
      const pinned = pin === self.id ? self : peers.find((x) => x.id === pin);
      if (pinned) {
        out.set(fn, { id: pinned.id, url: pinned.url });
        continue;
      }
      if (!cluster || !selfView || peers.length === 0) {
        out.set(fn, self);
        continue;
      }
      const placement = place(p.refs.get(fn)!, selfView, peers, { explore: cluster.explore, maxUtilization: cluster.maxUtilization, loadOf: (x) => cluster.load.peer(x) });
      out.set(fn, placement.kind === 'self' ? self : { id: placement.peer.id, url: placement.peer.url });
    }
    return out;
  }

  /** One run: every host gets its share of the schedule; the sink (or a failure) reports back. */
  #run(p: PreparedDag, hosts: Map<string, HostRef>, rid: string): Promise<RunOutcome> {
    const self = this.#self();
    const { topo } = p;
    const shares = new Map<string, { host: HostRef; steps: StepSchedule[] }>();
    for (const fn of topo.order) {
      const host = hosts.get(fn)!;
      let share = shares.get(host.id);
      if (!share) shares.set(host.id, (share = { host, steps: [] }));
      share.steps.push({
        fn, args: p.args.get(fn)!, inputs: topo.preds.get(fn)!.length,
        succs: topo.succs.get(fn)!.map((s) => ({ fn: s.fn, slot: s.slot, host: hosts.get(s.fn)! })),
      });
    }
    return new Promise<RunOutcome>((resolve) => {
      const timer = setTimeout(() => end({ kind: 'timeout' }), p.timeoutMs + this.#graceMs);
      const end = (o: RunOutcome): void => {
        if (this.#runs.get(rid)?.end !== end) return;
        clearTimeout(timer);
        this.#runs.delete(rid);
        this.#shared.delete(rid);
        resolve(o);
      };
      const remote = new Map([...shares.values()].filter((x) => x.host.id !== self.id).map((x) => [x.host.id, x.steps[0]!.fn]));
      this.#runs.set(rid, { tenant: p.tenant, end, remote });
      if (remote.size > 0) this.#watchHosts();
      let local: ScheduleMsg | undefined;
      // Remote shares first, so that they travel while this host runs its own steps.
      for (const { host, steps } of shares.values()) {
        const msg: ScheduleMsg = {
          rid, tenant: p.tenant, dag: topo.spec.name, coordinator: self, remainingMs: p.timeoutMs, steps,
          ...(p.consistency === 'rr' && hasParallelBranches(topo) ? { shared: true } : {}),
          ...(p.consistency === 'rr' ? { rr: true } : {}), ...(p.consistency === 'causal' ? { causal: true } : {}), ...(p.history ? { history: true } : {}),
          ...(p.client && p.client.length > 0 ? { client: encodeSession(p.client) } : {}),
        };
        if (host.id === self.id) {
          local = msg;
          continue;
        }
        // A share that waits for nothing from elsewhere answers with its first messages here (reply.ts).
        if (steps.every((s) => topo.preds.get(s.fn)!.every((pred) => hosts.get(pred)!.id === host.id))) msg.reply = true;
        this.#link.send(host.url, 'POST', HOST_PATHS.dagSchedule, msg, Math.max(1000, p.timeoutMs + (msg.reply ? 2 * this.#graceMs + 1000 : 0)), p.tenant).then((body) => {
          const { triggers, dones } = parseReply(body, p.tenant);
          if (triggers.length > 0 && this.#runs.get(rid)?.end === end) for (const t of triggers) this.#steps.trigger(t);
          for (const d of dones) this.onDone(d);
        }).catch((err: unknown) => {
          const e = err instanceof CloudburstError ? err : new CloudburstError('HOST_UNAVAILABLE', String(err));
          const what = msg.reply ? 'the schedule could not be delivered, or its host was lost before it answered' : 'the schedule could not be delivered';
          end({ kind: 'failed', msg: { rid, tenant: p.tenant, ok: false, step: steps[0]!.fn, host: host.id, error: { code: e.code, message: `${what}: ${e.message}` } } });
        });
      }
      if (local) this.#steps.schedule(local);
    });
  }

  /**
   * A host that dies mid-run stops publishing its record and leaves the directory within its
   * staleness limit (3 s): the runs waiting on it end then, rather than at their deadline.
   */
  #watchHosts(): void {
    if (this.#watch) return;
    this.#watch = setInterval(() => {
      const live = new Set(this.#cluster?.peers().map((p) => p.id) ?? []);
      let watched = 0;
      for (const [rid, run] of this.#runs) {
        if (run.remote.size === 0) continue;
        watched++;
        for (const [host, step] of run.remote) {
          if (live.has(host)) continue;
          run.end({ kind: 'failed', msg: { rid, tenant: run.tenant, ok: false, step, host, error: { code: 'HOST_UNAVAILABLE', message: `host ${host} left the cluster during the run (it stopped publishing its record, or could not be reached)` } } });
          break;
        }
      }
      if (watched === 0) this.close();
    }, WATCH_MS);
    this.#watch.unref();
  }

  close(): void {
    if (this.#watch) clearInterval(this.#watch);
    this.#watch = undefined;
  }

  /**
   * Tells every host of an unfinished run (or a finished rr one) to drop it and its snapshots
   * (best effort: their state expires anyway).
   */
  #abandon(rid: string, hosts: Map<string, HostRef>): void {
    const self = this.#self();
    this.#steps.cancel(rid);
    this.#snapshots.release(rid);
    for (const host of new Map([...hosts.values()].map((h) => [h.id, h])).values()) {
      if (host.id !== self.id) this.#link.send(host.url, 'DELETE', hostPath.dagRequest(rid), undefined, 1000).catch(() => undefined);
    }
  }

  /** After a run timed out: which step held it up, and why (asking each host; one that does not answer is dead). */
  async #diagnose(rid: string, topo: Topology, hosts: Map<string, HostRef>): Promise<{ step: string; host: string; why: string }> {
    const self = this.#self();
    const states = new Map<string, StepState | 'unreachable' | 'forgotten'>();
    const byHost = new Map([...hosts.values()].map((h) => [h.id, h]));
    await Promise.all([...byHost.values()].map(async (h) => {
      let steps: Record<string, StepState> | undefined;
      if (h.id === self.id) steps = this.#steps.status(rid);
      else {
        try {
          steps = ((await this.#link.send(h.url, 'GET', hostPath.dagRequest(rid), undefined, 1000)) as { steps?: Record<string, StepState> } | undefined)?.steps;
        } catch {
          this.#cluster?.markUnreachable(h.id, h.url);
          for (const [fn, at] of hosts) if (at.id === h.id) states.set(fn, 'unreachable');
          return;
        }
      }
      for (const [fn, at] of hosts) if (at.id === h.id) states.set(fn, steps?.[fn] ?? 'forgotten');
    }));
    const WHY = {
      unreachable: 'its host does not answer',
      running: 'it was still running',
      waiting: 'it was waiting for the results of its predecessors',
      forgotten: 'its host has no record of the request: it restarted, or the schedule was lost',
    } as const;
    // The first unfinished step in topological order is the one the rest waited for.
    for (const fn of topo.order) {
      const s = states.get(fn);
      if (s !== undefined && s !== 'done' && s !== 'failed') return { step: fn, host: hosts.get(fn)!.id, why: WHY[s] };
    }
    return { step: topo.sink, host: hosts.get(topo.sink)!.id, why: 'its result did not reach the coordinator' };
  }
}

/** Whether steps of the DAG can run at the same time (several sources, or a step with several successors). */
function hasParallelBranches(topo: Topology): boolean {
  return topo.sources.length > 1 || [...topo.succs.values()].some((s) => s.length > 1);
}
