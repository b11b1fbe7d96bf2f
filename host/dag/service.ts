import type { ClientSession } from '../consistency/client-session.ts';
import { CloudburstError } from '../../common/index.ts';
import { edgeFit } from './edge-types.ts';
import { type Hlc } from '../../kvs/index.ts';
import type { Calls } from '../calls.ts';
import type { ExecutorPool } from '../executor/pool.ts';
import type { ReadVersion } from '../consistency/call-session.ts';
import { readVersionToWire, type ReadVersionWire } from '../consistency/step-session.ts';
import type { PeerLink } from '../cluster/peer-link.ts';
import type { CausalCut } from '../consistency/causal.ts';
import type { Snapshots } from '../consistency/snapshots.ts';
import type { Futures } from '../futures.ts';
import { checkDagName, displayKey } from '../keys.ts';
import { counterFrom, gaugeFrom, type MetricsRegistry } from '../metrics.ts';
import type { Registry } from '../registry.ts';
import type { ReadThroughCache } from '../cache/read-through.ts';
import { Coordinator, type DagOutcome, type PreparedDag } from './coordinator.ts';
import { HOST_PATHS, type DagCallRequest } from '../protocol.ts';
import { parseDag, type DagSpec, type Topology } from './graph.ts';
import { parseReadVersion, type DoneMsg, type HostRef, type PinRequest, type ScheduleMsg, type StepState, type TriggerMsg } from './protocol.ts';
import type { HeldReply } from './reply.ts';
import { Steps } from './steps.ts';
import { DagStore } from './store.ts';

export interface DagServiceOptions {
  /** HTTP to the other hosts (shared with call forwarding). */
  link: PeerLink;
  registry: Registry;
  calls: Calls;
  pool: ExecutorPool;
  readThrough: ReadThroughCache;
  hlc: Hlc;
  futures: Futures;
  hostId: string;
  /** This host's URL (known once it listens). */
  selfUrl: () => string;
  /** rr requests' snapshots on this host. */
  snapshots: Snapshots;
  /** This host's causal cut: causal steps import what they depend on through it. */
  cut: CausalCut;
  /** Re-runs of a DAG whose run did not finish in time (a host died). Default 2. */
  maxReruns?: number;
  /** Wait past a run's deadline before giving up on it. Default 500 ms. */
  graceMs?: number;
  /** Longest a registration waits for a host to warm the functions up. Default 5 s. */
  warmTimeoutMs?: number;
  /** Run local chains of steps in one worker job (dag/chain.ts). Default true. */
  fuse?: boolean;
}

/** What the API shows of a DAG. */
export interface DagInfo extends DagSpec {
  sources: string[];
  sink: string;
}

const info = (t: Topology): DagInfo => ({ ...t.spec, sources: t.sources, sink: t.sink });

/**
 * What the routes call for DAGs on this host: registration (checked, stored in the KV tier,
 * warmed up on every live host), the coordinator of the calls it receives, its part (steps)
 * of every request, and rr's snapshots and pins served to peers.
 *
 * @example
 * await dags.register('pipeline', { functions: ['math.increment', 'math.square'], edges: [['math.increment', 'math.square']] });
 * const call = parseDagCall({ args: { 'math.increment': [3] } }, req.headers, query, calls.timeouts);
 * const out = await dags.call(await dags.prepare('pipeline', call)); // out.result === 16
 */
export class DagService {
  readonly #registry: Registry;
  readonly #calls: Calls;
  readonly #pool: ExecutorPool;
  readonly #link: PeerLink;
  readonly #hostId: string;
  readonly #selfUrl: DagServiceOptions['selfUrl'];
  readonly #snapshots: Snapshots;
  readonly #warmTimeoutMs: number;
  readonly #graceMs: number;
  readonly #store: DagStore;
  readonly steps: Steps;
  readonly #coordinator: Coordinator;

  constructor(opts: DagServiceOptions) {
    this.#registry = opts.registry;
    this.#calls = opts.calls;
    this.#pool = opts.pool;
    this.#hostId = opts.hostId;
    this.#selfUrl = opts.selfUrl;
    this.#snapshots = opts.snapshots;
    this.#warmTimeoutMs = opts.warmTimeoutMs ?? 5000;
    this.#link = opts.link;
    const graceMs = (this.#graceMs = opts.graceMs ?? 500);
    const self = (): HostRef => ({ id: opts.hostId, url: opts.selfUrl() });
    this.#store = new DagStore(opts.readThrough, opts.hlc);
    this.steps = new Steps({
      registry: opts.registry, calls: opts.calls, link: this.#link, self, graceMs, snapshots: opts.snapshots, cut: opts.cut, fuse: opts.fuse ?? true,
      onDone: (msg) => this.#coordinator.onDone(msg),
    });
    this.#coordinator = new Coordinator({
      store: this.#store, registry: opts.registry, calls: opts.calls, readThrough: opts.readThrough, futures: opts.futures,
      steps: this.steps, link: this.#link, self, cluster: opts.calls.cluster,
      maxReruns: opts.maxReruns ?? 2, graceMs, snapshots: opts.snapshots,
    });
  }

  /** Requests this host coordinates, and requests it holds steps of: both drop to 0 when idle. */
  get active(): { coordinating: number; holding: number } {
    return { coordinating: this.#coordinator.active, holding: this.steps.active };
  }

  registerMetrics(registry: MetricsRegistry): void {
    gaugeFrom(registry, 'cloudburst_dag_runs_active', 'DAG requests this host coordinates now.', () => this.active.coordinating);
    gaugeFrom(registry, 'cloudburst_dag_requests_held', 'DAG requests this host holds steps of now.', () => this.active.holding);
    counterFrom(registry, 'cloudburst_dag_fused_steps_total', 'DAG steps this host ran in chain jobs (several steps in one worker job, dag/chain.ts).', () => this.steps.fusedSteps);
    counterFrom(registry, 'cloudburst_dag_reply_messages_total', 'DAG messages this host sent to a coordinator on its schedule\'s reply, not as requests of their own (dag/reply.ts).', () => this.steps.repliedMessages);
  }

  /**
   * Checks and stores a DAG (replacing one of the same name), then warms its functions up.
   * Nothing is stored unless every check passed.
   */
  async register(tenant: string, name: string, body: unknown): Promise<{ dag: DagInfo; warmed: string[]; warnings?: string[] }> {
    checkDagName(name);
    const topo = parseDag(name, body, new Date().toISOString());
    const resolved = await Promise.all(topo.spec.functions.map((fn) => this.#registry.resolve(tenant, fn).catch((err: unknown) => {
      if (err instanceof CloudburstError && err.code === 'UNKNOWN_FUNCTION') return undefined;
      throw err;
    })));
    const missing = topo.spec.functions.filter((_, i) => resolved[i] === undefined);
    if (missing.length > 0) {
      throw new CloudburstError('UNKNOWN_FUNCTION', `DAG ${name} names functions that do not exist: ${missing.join(', ')} (deploy their modules first)`, { functions: missing });
    }
    // Each function takes its fixed arguments, then one per predecessor: the graph must fit the signatures.
    const warnings: string[] = [];
    topo.spec.functions.forEach((fn, i) => {
      const sig = resolved[i]!.signature;
      const preds = topo.preds.get(fn)!;
      if (sig.params.length < preds.length) {
        throw new CloudburstError('INVALID_REQUEST', `${fn} takes ${sig.params.length} argument(s) but has ${preds.length} predecessors (${preds.join(', ')}): each predecessor's result is one argument`);
      }
      const voids = preds.filter((p) => resolved[topo.spec.functions.indexOf(p)]!.signature.result === 'void');
      if (voids.length > 0) throw new CloudburstError('INVALID_REQUEST', `${voids.join(', ')} return(s) nothing, so cannot feed ${fn}`);
      // Predecessor k fills parameter (params - preds + k): its result type must fit it.
      preds.forEach((pred, k) => {
        const result = resolved[topo.spec.functions.indexOf(pred)]!.signature.result;
        const at = sig.params.length - preds.length + k;
        const param = sig.params[at]!;
        const fit = edgeFit(result, param.type);
        const edge = `edge ${pred} -> ${fn}: ${pred} returns ${result}, and argument ${at} of ${fn} (${param.name}: ${param.type}) takes its result`;
        if (fit === 'never') {
          throw new CloudburstError(
            'INVALID_REQUEST',
            `${edge}; no ${result} is a ${param.type}: change one of the two signatures, or put a function between them that converts ${result} to ${param.type}`,
            { edge: [pred, fn], result, param: { index: at, name: param.name, type: param.type } },
          );
        }
        if (fit === 'narrows') warnings.push(`${edge}; a ${result} that is no ${param.type} fails the step at run time (INVALID_ARGUMENTS)`);
      });
    });
    await this.#store.put(tenant, topo);
    const warmed = await this.#warmEverywhere(tenant, topo.spec.functions);
    return warnings.length > 0 ? { dag: info(topo), warmed, warnings } : { dag: info(topo), warmed };
  }

  async list(tenant: string): Promise<DagSpec[]> {
    return this.#store.list(tenant);
  }

  async show(tenant: string, name: string): Promise<DagInfo> {
    return info(await this.#store.get(tenant, name));
  }

  async remove(tenant: string, name: string): Promise<void> {
    await this.#store.remove(tenant, name);
  }

  prepare(tenant: string, name: string, call: DagCallRequest): Promise<PreparedDag> {
    return this.#coordinator.prepare(tenant, name, call);
  }

  call(p: PreparedDag): Promise<DagOutcome> {
    return this.#coordinator.call(p);
  }

  /**
   * Starts a DAG call in the background; returns the id of the future its outcome goes to.
   * `onEnd` is called once it ended (its place among its tenant's calls).
   */
  start(p: PreparedDag, onEnd?: () => void): Promise<string> {
    return this.#coordinator.start(p, onEnd);
  }

  // --- Messages from other hosts -------------------------------------------------------

  schedule(msg: ScheduleMsg, reply?: HeldReply): void {
    this.steps.schedule(msg, reply);
  }

  trigger(msg: TriggerMsg): void {
    this.steps.trigger(msg);
  }

  done(msg: DoneMsg): void {
    this.#coordinator.onDone(msg);
  }

  status(rid: string): Record<string, StepState> | undefined {
    return this.steps.status(rid);
  }

  /** Drops a request here: its steps and its rr snapshots (the coordinator says it ended). */
  cancel(rid: string): void {
    this.steps.cancel(rid);
    this.#snapshots.release(rid);
  }

  /** The rr snapshots this host holds (0 when no rr request is in flight). */
  snapshotStats(): { requests: number; entries: number; bytes: number } {
    return this.#snapshots.stats();
  }

  /** A peer fetches the version an rr request read first here. */
  serveSnapshot(req: { rid: string; key: string; v: string }): { base64: string | null } {
    return this.#snapshots.serve(req.rid, req.key, req.v);
  }

  /**
   * rr with parallel branches: a step here read `key` first at `version`. This host keeps a
   * snapshot of it, then asks the request's coordinator which version the request has: this
   * one, or the one another branch proposed before.
   */
  async pin(rid: string, key: string, version: string, bytes: Uint8Array | null): Promise<ReadVersion> {
    const req = this.steps.request(rid);
    if (!req) throw new CloudburstError('INTERNAL', `request ${rid} is not held here (it ended)`);
    this.#snapshots.store(rid, [{ key, version, bytes }], req.deadline - performance.now() + this.#graceMs);
    const proposal: ReadVersion = { version, host: this.#hostId, url: this.#selfUrl() };
    if (req.coordinator.id === this.#hostId) return this.#coordinator.pin(rid, key, proposal);
    let body: unknown;
    try {
      body = await this.#link.send(req.coordinator.url, 'POST', HOST_PATHS.dagPin, { rid, key, ...readVersionToWire(proposal) }, Math.max(1000, req.deadline - performance.now()), req.tenant);
    } catch (err) {
      // INTERNAL, not HOST_UNAVAILABLE: this host is fine; the run is re-run either way.
      throw new CloudburstError('INTERNAL', `the version of ${displayKey(key)} for request ${rid} could not be agreed with its coordinator: ${(err as Error).message}`);
    }
    return parseReadVersion(body, 'the coordinator\'s answer');
  }

  /** The coordinator's side of `pin`. */
  servePin({ rid, key, ...proposal }: PinRequest): ReadVersionWire {
    return readVersionToWire(this.#coordinator.pin(rid, key, proposal));
  }

  /**
   * Loads functions of `tenant` into a worker of this host (compiling their modules if
   * needed), so that the first call finds them warm. Returns the functions that are warm.
   */
  async warmLocal(tenant: string, functions: readonly string[]): Promise<string[]> {
    const timeout = this.#warmTimeoutMs;
    const warm = await Promise.all(functions.map(async (fn) => {
      try {
        const { spec } = await this.#registry.resolve(tenant, fn);
        return (await this.#pool.run({ kind: 'load', tenant, module: spec }, timeout)).ok;
      } catch {
        return false;
      }
    }));
    return functions.filter((_, i) => warm[i]);
  }

  /**
   * A call without references runs where it arrives, and any host may receive it: so every live
   * host warms the functions up. Best effort: returns the hosts that did.
   */
  async #warmEverywhere(tenant: string, functions: string[]): Promise<string[]> {
    const timeout = this.#warmTimeoutMs;
    const peers = this.#calls.cluster?.peers() ?? [];
    const results = await Promise.all([
      this.warmLocal(tenant, functions).then((w) => (w.length === functions.length ? this.#hostId : undefined)),
      ...peers.map((p) => this.#link.send(p.url, 'POST', HOST_PATHS.dagWarm, { tenant, functions }, timeout, tenant).then(
        (body) => ((body as { warmed?: unknown[] }).warmed?.length === functions.length ? p.id : undefined),
        () => undefined,
      )),
    ]);
    return results.filter((id): id is string => id !== undefined);
  }

  async close(): Promise<void> {
    this.#coordinator.close();
    this.steps.close();
    this.#snapshots.close();
  }
}
