import { CloudburstError } from '../common/index.ts';
import { prepareArgs, prepareResolved, refArgument, type FutureArg } from './executor/args.ts';
import type { ExecutorPool } from './executor/pool.ts';
import type { CallJob, GuestLog, JobResult, PreparedArg } from './executor/protocol.ts';
import type { SessionResult, SessionSpec } from './consistency/call-session.ts';
import { advance, encodeSession, type ClientSession } from './consistency/client-session.ts';
import type { SessionCatchUp } from './consistency/session-catch-up.ts';
import { toEvents, type HistoryEvent } from './consistency/history.ts';
import type { PeerView } from './cluster/directory.ts';
import type { Forwarder } from './cluster/forward.ts';
import type { PlacementLoad } from './cluster/load.ts';
import { place } from './cluster/scheduler.ts';
import type { Futures } from './futures.ts';
import type { Messaging } from './messaging/messaging.ts';
import type { Metrics } from './metrics.ts';
import type { CallRequest, Timeouts } from './protocol.ts';
import type { Registry, ResolvedFunction } from './registry.ts';
import type { ReadThroughCache } from './cache/read-through.ts';
import { displayKey } from './keys.ts';
import { runChain, type ChainStepOutcome, type PreparedChain } from './calls-chain.ts';
import type { Quotas } from './quotas/quotas.ts';
import type { LogStore } from './logs/log-store.ts';
import { withCallLogs } from './logs/call-logs.ts';

/** The other hosts, for placing calls where their data is (see cluster/scheduler.ts). */
export interface ClusterView {
  peers(): PeerView[];
  /** `url`: the address that failed (a peer that restarted elsewhere meanwhile stays in the view). */
  markUnreachable(id: string, url?: string): void;
  /** Why `id` is not among `peers()`: undefined when it is, null when no host of that id joined. */
  absence(id: string): string | null | undefined;
  forwarder: Forwarder;
  /** This host's load now and its peers' as estimated here: what placement compares (cluster/load.ts). */
  load: PlacementLoad;
  explore: number;
  maxUtilization: number;
}

/** How many placements a call may try when the hosts it is sent to cannot be reached. */
const MAX_PLACEMENTS = 3;

export interface CallsOptions {
  registry: Registry;
  pool: ExecutorPool;
  readThrough: ReadThroughCache;
  metrics: Metrics;
  futures: Futures;
  hostId: string;
  /** Gives each call its id; absent, calls have the id `{hostId}.0.0` and cannot message. */
  messaging?: Messaging;
  cluster?: ClusterView;
  /** Keys a call read or wrote, for the cache's LRU index. */
  onTouched?: (keys: readonly string[]) => void;
  /** Brings the cache up to a client's session before its call runs; and this host's URL. */
  sessions?: { catchUp: SessionCatchUp; selfUrl: () => string };
  defaultTimeoutMs: number;
  maxTimeoutMs: number;
  onGuestLog: (fn: string, level: number, message: string, tenant: string) => void;
  /** Where each call's log lines and failure are kept for `GET /v1/functions/{fn}/logs` and `GET /v1/errors`. */
  logStore?: LogStore;
  /** The tenants' quotas that a call's worker enforces (state bytes, memory); absent, none. */
  quotas?: Quotas;
}

export interface PreparedCall {
  /**
   * The tenant the call runs in: its function, references, futures, keys and messages are this
   * tenant's, and so are its place in the executor's queues and its quotas.
   */
  tenant: string;
  resolved: ResolvedFunction;
  timeoutMs: number;
  args: (PreparedArg | FutureArg)[];
  /** rr or a recorded history; absent for plain lww calls. */
  session?: SessionSpec;
  /** The client's session: this host catches up with it before the call runs. */
  client?: ClientSession;
  /** What the answer's session builds on, when more than `client` (a DAG step's predecessors' sessions). */
  carried?: ClientSession;
}

/** A call that arrived over HTTP, checked, with its request (what a forward sends on). */
export interface CheckedCall extends PreparedCall {
  request: CallRequest;
}

export interface CallOutcome {
  result: unknown;
  /** The host that ran the call. */
  host: string;
  /** The call's id (its log lines carry it; answered as `x-cloudburst-call-id`); absent when the forwarded-to host did not say. */
  callId?: string;
  logs: GuestLog[];
  durationUs: number;
  /** What a session recorded (rr or history): the step's snapshots and operations. */
  session?: SessionResult;
  /** A single call's recorded history (`?history=1`). */
  history?: HistoryEvent[];
  /** The client's session after this call (its token goes back with the answer). */
  client?: ClientSession;
}

/** Runs function calls on this host: resolve, check arguments, warm referenced keys, execute. */
export class Calls {
  readonly #registry: Registry;
  readonly #pool: ExecutorPool;
  readonly #readThrough: ReadThroughCache;
  readonly #metrics: Metrics;
  readonly #futures: Futures;
  readonly #hostId: string;
  readonly #messaging: CallsOptions['messaging'];
  readonly #cluster: CallsOptions['cluster'];
  readonly #onTouched: CallsOptions['onTouched'];
  readonly #sessions: CallsOptions['sessions'];
  readonly #defaultTimeoutMs: number;
  readonly #maxTimeoutMs: number;
  readonly #onGuestLog: CallsOptions['onGuestLog'];
  readonly #logStore: LogStore | undefined;
  readonly #quotas: Quotas | undefined;

  constructor(opts: CallsOptions) {
    this.#registry = opts.registry;
    this.#pool = opts.pool;
    this.#readThrough = opts.readThrough;
    this.#metrics = opts.metrics;
    this.#futures = opts.futures;
    this.#hostId = opts.hostId;
    this.#messaging = opts.messaging;
    this.#cluster = opts.cluster;
    this.#onTouched = opts.onTouched;
    this.#sessions = opts.sessions;
    this.#defaultTimeoutMs = opts.defaultTimeoutMs;
    this.#maxTimeoutMs = opts.maxTimeoutMs;
    this.#onGuestLog = opts.onGuestLog;
    this.#logStore = opts.logStore;
    this.#quotas = opts.quotas;
  }

  /** The other hosts, when there is a cluster (DAG placement uses the same view). */
  get cluster(): ClusterView | undefined {
    return this.#cluster;
  }

  /** A call is arriving: get a worker out of its sleep while the request is read. */
  prewake(): void {
    this.#pool.prewake();
  }

  /** The deadlines a call may ask for (checked with its request, protocol.ts). */
  get timeouts(): Timeouts {
    return { defaultTimeoutMs: this.#defaultTimeoutMs, maxTimeoutMs: this.#maxTimeoutMs };
  }

  /**
   * Checks a call of `tenant` (its request was parsed on arrival, protocol.ts) against the
   * function without running it: everything a caller can get wrong fails here.
   */
  async prepare(tenant: string, fn: string, req: CallRequest): Promise<CheckedCall> {
    const resolved = await this.#registry.resolve(tenant, fn);
    const { timeoutMs, consistency, history } = req;
    const args = prepareArgs(tenant, fn, resolved.signature, req.args);
    const rr = consistency === 'rr';
    // Plain lww calls carry no session spec at all (the hot path).
    const session: SessionSpec | undefined = consistency === 'causal' ? { rr, causal: true, history, reads: {} } : rr || history ? { rr, history, reads: {} } : undefined;
    return { tenant, request: req, resolved, timeoutMs, args, ...(session ? { session } : {}), ...(req.client ? { client: req.client } : {}) };
  }

  /**
   * Places a checked call (this host, or the one caching most of its referenced keys) and runs
   * it there. A host that cannot be reached drops out of placement and the call is placed
   * again, at most MAX_PLACEMENTS times, with what is left of its deadline (counted from here):
   * once that is spent, the call is FORWARD_TIMEOUT, never placed again. Calls forwarded here by
   * another host run here.
   */
  async dispatch(prepared: CheckedCall): Promise<CallOutcome> {
    const fn = prepared.resolved.info.name;
    const cluster = this.#cluster;
    if (!cluster) return this.run(prepared);
    const { forwarded, forwardedBy } = prepared.request;
    if (forwarded) {
      // A host placed it here: it runs here, counted in this host's record as that host's, so
      // that its estimate of this host's load does not count its own calls twice (cluster/load.ts).
      const done = forwardedBy === undefined ? undefined : cluster.load.received(forwardedBy);
      try {
        return await this.run(prepared);
      } finally {
        done?.();
      }
    }
    const refs = prepared.args.flatMap((a) => (a.kind === 'ref' ? [a.key] : []));
    const caches = (keys: readonly string[]): number => keys.filter((k) => this.#readThrough.cache.has(k)).length;
    const opts = { explore: cluster.explore, maxUtilization: cluster.maxUtilization, loadOf: (p: PeerView) => cluster.load.peer(p) };
    const deadline = performance.now() + prepared.timeoutMs;
    let last: { error: CloudburstError; peer: PeerView } | undefined;
    for (let attempt = 0; attempt < MAX_PLACEMENTS; attempt++) {
      // A placement after a failed forward gets what is left of the deadline.
      const timeoutMs = last ? Math.floor(deadline - performance.now()) : prepared.timeoutMs;
      if (last && timeoutMs <= 0) {
        throw new CloudburstError('FORWARD_TIMEOUT', `${fn} was forwarded to host ${last.peer.id} (${last.peer.url}), which did not answer before the call's deadline of ${prepared.timeoutMs} ms: it may have run there, or not (${last.error.message})`, { host: last.peer.id });
      }
      // Loads taken now, for each placement: a burst of calls spreads as it is placed.
      const placement = place(refs, { utilization: cluster.load.self(), caches }, cluster.peers(), opts);
      if (placement.kind === 'self') return this.run(last ? { ...prepared, timeoutMs } : prepared);
      const started = performance.now();
      const answered = cluster.load.sent(placement.peer.id);
      try {
        const out = await cluster.forwarder.call(placement.peer.url, prepared.tenant, fn, { ...prepared.request, timeoutMs });
        return { logs: [], ...out, durationUs: Math.round((performance.now() - started) * 1000) };
      } catch (err) {
        // A host that is stopping did not run the call (or cut it before it committed anything):
        // as good as unreachable. One that stopped answering (its link cut) may have run it: a
        // forwarded call may run twice (host/README.md, "Many hosts").
        if (!(err instanceof CloudburstError) || (err.code !== 'HOST_UNAVAILABLE' && err.code !== 'SHUTTING_DOWN')) throw err;
        cluster.markUnreachable(placement.peer.id, placement.peer.url);
        last = { error: err, peer: placement.peer };
      } finally {
        answered();
      }
    }
    throw new CloudburstError('HOST_UNAVAILABLE', `the call was placed ${MAX_PLACEMENTS} times and no host could be reached; last: ${last?.error.message}`);
  }

  /**
   * Starts an asynchronous call, checked already (so bad input was a 4xx): answers with a
   * future id once its pending record is in the KV tier, and stores the outcome under the
   * future when the call ends, then calls `onEnd` (the call's place among its tenant's calls).
   */
  async start(prepared: CheckedCall, onEnd: () => void = () => undefined): Promise<string> {
    const createdAt = new Date().toISOString();
    const { tenant } = prepared;
    // What the arguments name is checked now, as a synchronous call's is when it runs: a 4xx,
    // not a failed future. Each key must hold a value the parameter takes (read into the cache
    // on the way, for the run); each future must exist (a pending one is waited for when the
    // call runs). A key deleted or changed after this fails the call when it runs.
    const params = prepared.resolved.signature.params;
    await Promise.all(prepared.args.map(async (a, i) => {
      if (a.kind === 'future') await this.#futures.get(tenant, a.id, 0);
      else if (a.kind === 'ref') refArgument(a.key, await this.#readThrough.read(a.key), params[i]!.type);
    }));
    const id = await this.#futures.create(tenant, prepared.resolved.info.name);
    void this.dispatch(prepared).finally(onEnd).then(
      (out) => this.#futures.complete(tenant, id, prepared.resolved.info.name, createdAt, {
        result: out.result, host: out.host, ...(out.client ? { session: encodeSession(out.client) } : {}),
      }),
      (err: unknown) => this.#futures.complete(tenant, id, prepared.resolved.info.name, createdAt, {
        error: err instanceof CloudburstError ? err : new CloudburstError('INTERNAL', String(err)),
      }),
    );
    return id;
  }

  /**
   * Reference arguments are read by the worker from the cache: misses are brought in first, so
   * the worker does not have to stop and ask.
   *
   * @throws CloudburstError `REF_NOT_FOUND` for a key that holds nothing
   */
  async #fetchRefs(args: readonly (PreparedArg | FutureArg)[]): Promise<void> {
    const missing = args.flatMap((a) => (a.kind === 'ref' && !this.#readThrough.cache.has(a.key) ? [a.key] : []));
    const fetched = await Promise.all(missing.map((k) => this.#readThrough.fetch(k)));
    fetched.forEach((v, i) => {
      if (v === undefined) {
        const key = displayKey(missing[i]!);
        throw new CloudburstError('REF_NOT_FOUND', `no value under key ${JSON.stringify(key)}`, { key });
      }
    });
  }

  /** Runs consecutive DAG steps of this host in one worker job, each counted as its own call (calls-chain.ts). */
  runChain(chain: PreparedChain): Promise<ChainStepOutcome[]> {
    return runChain({
      pool: this.#pool, readThrough: this.#readThrough, metrics: this.#metrics, hostId: this.#hostId, messaging: this.#messaging, load: this.#cluster?.load,
      onTouched: this.#onTouched, sessions: this.#sessions, onGuestLog: this.#onGuestLog, logStore: this.#logStore, quotas: this.#quotas,
    }, chain);
  }

  async run({ tenant, resolved, timeoutMs, args: pending, session, client, carried }: PreparedCall): Promise<CallOutcome> {
    const sessions = this.#sessions;
    const fn = resolved.info.name;
    const deadline = Date.now() + timeoutMs;
    // The client's earlier calls may have run elsewhere: what they saw must be here first.
    if (client && client.length > 0 && sessions) await sessions.catchUp.ensure(tenant, client, performance.now() + timeoutMs);
    // Future arguments wait for their call (within this call's deadline), then are checked
    // like literals.
    const args: PreparedArg[] = [];
    for (const [i, a] of pending.entries()) {
      if (a.kind !== 'future') {
        args.push(a);
        continue;
      }
      const record = await this.#futures.get(tenant, a.id, deadline - Date.now());
      if (record.status === 'pending') throw new CloudburstError('CALL_TIMEOUT', `future ${a.id} (argument ${i}) did not finish within the deadline of ${fn}`);
      if (record.status === 'failed') {
        throw new CloudburstError('FUTURE_FAILED', `future ${a.id} (argument ${i}) failed: ${record.error?.code}: ${record.error?.message}`, { future: a.id });
      }
      args.push(prepareResolved(fn, resolved.signature, i, record.result));
    }
    // From here until the pool has it, the call counts in this host's load (cluster/load.ts), so
    // that calls placed meanwhile see it (for a plain call, from the moment it was placed here).
    const starting = this.#cluster?.load.starting();
    let outcome: JobResult;
    const messaging = this.#messaging;
    let callId: string | undefined;
    let started: number;
    try {
      await this.#fetchRefs(args);
      started = performance.now();
      callId = messaging ? messaging.nextId() : `${this.#hostId}.0.0`;
      const job: CallJob = { kind: 'call', tenant, module: resolved.spec, exportName: resolved.info.export, args, callId };
      if (session) job.session = session; // lww calls carry nothing more than before
      if (this.#quotas) job.quota = this.#quotas.jobQuota(tenant);
      starting?.(); // the pool counts it now
      outcome = await this.#pool.run(job, Math.max(1, deadline - Date.now()));
    } finally {
      starting?.();
      if (callId !== undefined) messaging?.finished(tenant, callId);
    }
    const seconds = (performance.now() - started) / 1000;
    this.#metrics.observeCall(fn, seconds, outcome.ok ? undefined : outcome.code);
    for (const l of outcome.logs) this.#onGuestLog(fn, l.level, l.message, tenant);
    const id = callId!;
    this.#logStore?.record(tenant, fn, id, outcome.logs, outcome.ok ? undefined : outcome);
    if (!outcome.ok) {
      const err = new CloudburstError(outcome.code, outcome.message, { function: fn, ...outcome.details });
      throw withCallLogs(err.code === 'QUOTA_EXCEEDED' && this.#quotas ? this.#quotas.refusedInWorker(err) : err, { callId: id, logs: outcome.logs });
    }
    this.#onTouched?.(outcome.touched);
    if (outcome.wrote > 0) this.#readThrough.flusher.kick();
    const out: CallOutcome = { result: outcome.result, host: this.#hostId, callId: id, logs: outcome.logs, durationUs: Math.round(seconds * 1e6) };
    if (sessions) {
      const after = advance(carried ?? client ?? [], sessions.selfUrl(), outcome.versions);
      // A call that touched no key, without a session, has nothing to pass on (math.square).
      if (after.length > 0) out.client = after;
    }
    if (outcome.session) {
      out.session = outcome.session;
      // A single call is its own request; a DAG step's history is labelled by the step (dag/steps.ts).
      if (session?.history && session.rid === undefined) out.history = toEvents(outcome.session.history, callId, fn, this.#hostId);
    }
    return out;
  }
}
