import { CloudburstError } from '../../common/index.ts';
import type { Calls, PreparedCall } from '../calls.ts';
import { prepareResolved } from '../executor/args.ts';
import { prepareFixedArgs } from './steps-args.ts';
import { chainAfter, chainSuccessor, type FusedStep } from './chain.ts';
import type { PreparedArg } from '../executor/protocol.ts';
import type { Registry } from '../registry.ts';
import type { PeerLink } from '../cluster/peer-link.ts';
import type { CausalCut } from '../consistency/causal.ts';
import { toEvents } from '../consistency/history.ts';
import type { Snapshots } from '../consistency/snapshots.ts';
import { addCausal, joinSessions, type StepSession } from '../consistency/step-session.ts';
import { encodeSession, joinClientSessions, type ClientSession } from '../consistency/client-session.ts';
import { HOST_PATHS } from '../protocol.ts';
import type { HeldReply } from './reply.ts';
import { clientOf, triggerToWire, type DoneMsg, type HostRef, type ScheduleMsg, type StepSchedule, type StepState, type TriggerMsg } from './protocol.ts';

export { prepareFixedArgs };

/** Requests whose triggers arrived before their schedule, kept until their deadline at most. */
const MAX_EARLY_REQUESTS = 10_000;
/** Requests whose end is remembered (for diagnosis of timed-out runs). */
const MAX_ENDED = 1024;

export interface StepsOptions {
  registry: Registry;
  calls: Calls;
  link: PeerLink;
  self: () => HostRef;
  /** A report for a request this host coordinates. */
  onDone: (msg: DoneMsg) => void;
  /** Extra life of per-request state past the run's deadline, so late messages find it. */
  graceMs: number;
  /** rr requests' snapshots on this host. */
  snapshots: Snapshots;
  /** Causal steps import what their request depends on through the cut before they run. */
  cut: CausalCut;
  /** Run local chains of steps in one worker job (chain.ts). Default true; off: one call per step. */
  fuse?: boolean;
}

interface Step {
  plan: StepSchedule;
  /** Predecessor results by slot (declared-edge order), and who sent them (for error messages). */
  inputs: unknown[];
  from: (string | undefined)[];
  /** rr or recorded requests: what each predecessor passed on with its result. */
  sessions: (StepSession | undefined)[];
  /** The client's session as each predecessor left it. */
  clients: (ClientSession | undefined)[];
  received: number;
  state: StepState;
}

interface HostRequest {
  rid: string;
  /** The request's tenant: its steps run in it; messages of another tenant for its rid are dropped. */
  tenant: string;
  dag: string;
  coordinator: HostRef;
  /** performance.now() by which the run must be over. */
  deadline: number;
  steps: Map<string, Step>;
  open: number;
  timer: NodeJS.Timeout | undefined;
  rr: boolean;
  /** rr with parallel branches: first reads are agreed with the coordinator. */
  shared: boolean;
  causal: boolean;
  history: boolean;
  /** The client's session the DAG call came with. */
  client: ClientSession | undefined;
  /** The coordinator's schedule request, held open for the first messages to its host (reply.ts). */
  reply: HeldReply | undefined;
}

/**
 * This host's part of DAG requests: the steps scheduled here, their inputs as they arrive, and
 * their runs. A step runs once every predecessor's result is in; its result goes straight to
 * its successors' hosts (in-process when local), and the sink's to the coordinator. All state
 * is per request id, and dropped when the host's last step of the request ends, when the
 * coordinator abandons the request, or at the run's deadline (plus grace) in any case.
 */
export class Steps {
  readonly #registry: Registry;
  readonly #calls: Calls;
  readonly #link: PeerLink;
  readonly #self: StepsOptions['self'];
  readonly #onDone: StepsOptions['onDone'];
  readonly #graceMs: number;
  readonly #snapshots: Snapshots;
  readonly #cut: CausalCut;
  readonly #fuse: boolean;
  #fusedSteps = 0;
  #replied = 0;
  readonly #requests = new Map<string, HostRequest>();
  /** Triggers that overtook their schedule (they travel on other connections). */
  readonly #early = new Map<string, { triggers: TriggerMsg[]; timer: NodeJS.Timeout }>();
  /**
   * How the latest requests ended here, for a coordinator asking why a run timed out (a step
   * that finished here is not the one to blame). Bounded; no timers.
   */
  readonly #ended = new Map<string, Record<string, StepState>>();

  constructor(opts: StepsOptions) {
    this.#registry = opts.registry;
    this.#calls = opts.calls;
    this.#link = opts.link;
    this.#self = opts.self;
    this.#onDone = opts.onDone;
    this.#graceMs = opts.graceMs;
    this.#snapshots = opts.snapshots;
    this.#cut = opts.cut;
    this.#fuse = opts.fuse ?? true;
  }

  get active(): number {
    return this.#requests.size;
  }

  /** Steps run in chain jobs so far (the metric `cloudburst_dag_fused_steps_total`). */
  get fusedSteps(): number {
    return this.#fusedSteps;
  }

  /** Messages sent to a coordinator on its schedule's reply (reply.ts; `cloudburst_dag_reply_messages_total`). */
  get repliedMessages(): number {
    return this.#replied;
  }

  /** `reply`: the schedule's request, held open (`msg.reply`): the first messages for the coordinator's host answer it. */
  schedule(msg: ScheduleMsg, reply?: HeldReply): void {
    if (this.#requests.has(msg.rid)) return reply?.close(); // a repeated delivery
    const steps = new Map<string, Step>();
    for (const plan of msg.steps) {
      steps.set(plan.fn, { plan, inputs: new Array<unknown>(plan.inputs), from: new Array<string | undefined>(plan.inputs), sessions: [], clients: [], received: 0, state: 'waiting' });
    }
    const req: HostRequest = {
      rid: msg.rid, tenant: msg.tenant, dag: msg.dag, coordinator: msg.coordinator, steps, open: steps.size,
      deadline: performance.now() + msg.remainingMs, timer: undefined, rr: msg.rr === true, shared: msg.shared === true, causal: msg.causal === true, history: msg.history === true,
      client: clientOf(msg.client), reply,
    };
    // The coordinator's own share needs no timer: it ends its runs itself (cancel on every
    // outcome but success, and success means every step here has run).
    if (msg.coordinator.id !== this.#self().id) {
      req.timer = setTimeout(() => this.cancel(msg.rid), Math.max(0, msg.remainingMs) + this.#graceMs);
      req.timer.unref();
    }
    this.#requests.set(msg.rid, req);
    for (const step of steps.values()) if (step.plan.inputs === 0) void this.#run(req, step);
    const early = this.#early.get(msg.rid);
    if (early) {
      this.#early.delete(msg.rid);
      clearTimeout(early.timer);
      for (const t of early.triggers) this.trigger(t);
    }
  }

  trigger(msg: TriggerMsg): void {
    const req = this.#requests.get(msg.rid);
    if (!req) {
      // Late for a request that ended here (abandoned, or a repeated delivery): dropped.
      if (!this.#ended.has(msg.rid)) this.#keepEarly(msg);
      return;
    }
    const step = req.steps.get(msg.to);
    // Unknown steps, slots out of range, repeated deliveries and another tenant's triggers change nothing.
    if (!step || msg.tenant !== req.tenant || step.state !== 'waiting' || msg.slot < 0 || msg.slot >= step.plan.inputs || step.from[msg.slot] !== undefined) return;
    step.inputs[msg.slot] = msg.value;
    step.from[msg.slot] = msg.from;
    step.sessions[msg.slot] = msg.session;
    step.clients[msg.slot] = clientOf(msg.client);
    if (++step.received === step.plan.inputs) void this.#run(req, step);
  }

  #keepEarly(msg: TriggerMsg): void {
    let early = this.#early.get(msg.rid);
    if (!early) {
      if (this.#early.size >= MAX_EARLY_REQUESTS || msg.remainingMs <= 0) return; // the run will time out and re-run
      const timer = setTimeout(() => this.#early.delete(msg.rid), msg.remainingMs + this.#graceMs);
      timer.unref();
      early = { triggers: [], timer };
      this.#early.set(msg.rid, early);
    }
    early.triggers.push(msg);
  }

  /** Where a request held here is coordinated, until when it runs, and its tenant. */
  request(rid: string): { coordinator: HostRef; deadline: number; tenant: string } | undefined {
    const req = this.#requests.get(rid);
    return req && { coordinator: req.coordinator, deadline: req.deadline, tenant: req.tenant };
  }

  /** The state of this host's steps of a request (also of one that ended lately), or undefined when it knows none. */
  status(rid: string): Record<string, StepState> | undefined {
    const req = this.#requests.get(rid);
    if (!req) return this.#ended.get(rid);
    return Object.fromEntries([...req.steps].map(([fn, s]) => [fn, s.state]));
  }

  /** Ends a request here: drops its state; a step already running finishes, but its result goes nowhere. */
  cancel(rid: string): void {
    const req = this.#requests.get(rid);
    if (req) {
      if (req.timer) clearTimeout(req.timer);
      req.reply?.close();
      // A snapshot of the states only: the steps hold arguments and inputs, which may be large.
      this.#ended.set(rid, this.status(rid)!);
      if (this.#ended.size > MAX_ENDED) this.#ended.delete(this.#ended.keys().next().value!);
      this.#requests.delete(rid);
    }
    const early = this.#early.get(rid);
    if (early) {
      clearTimeout(early.timer);
      this.#early.delete(rid);
    }
  }

  close(): void {
    for (const rid of [...this.#requests.keys(), ...this.#early.keys()]) this.cancel(rid);
    this.#ended.clear();
  }

  /** The step's call, and (for rr, causal or recorded requests) its predecessors' sessions joined. */
  async #prepare(req: HostRequest, step: Step): Promise<{ call: PreparedCall; joined?: StepSession }> {
    const { fn, inputs } = step.plan;
    const resolved = await this.#registry.resolve(req.tenant, fn);
    const sig = resolved.signature;
    const args = prepareFixedArgs(req.tenant, fn, sig, inputs, step.plan.args);
    const fixed = args.length;
    for (let i = 0; i < inputs; i++) {
      try {
        args.push(prepareResolved(fn, sig, fixed + i, step.inputs[i]));
      } catch (err) {
        if (!(err instanceof CloudburstError) || err.code !== 'INVALID_ARGUMENTS') throw err;
        const p = sig.params[fixed + i]!;
        throw new CloudburstError('INVALID_ARGUMENTS', `the result of ${step.from[i]} (${JSON.stringify(step.inputs[i])}) does not fit argument ${fixed + i} (${p.name}: ${p.type}) of ${fn}`);
      }
    }
    const timeoutMs = Math.max(1, Math.floor(req.deadline - performance.now()));
    const call = await this.#prepareSession(req, step, { tenant: req.tenant, resolved, args, timeoutMs });
    // The host catches up with what the client saw before the DAG call (within the request,
    // its consistency mode decides what a step sees of the steps before it); the answer's
    // session also carries what those steps read and wrote.
    if (req.client) call.call.client = req.client;
    const carried = joinClientSessions([...step.clients, req.client]);
    if (carried.length > 0) call.call.carried = carried;
    return call;
  }

  /** The step's call with its request's consistency session (rr, causal, a recorded history), if any. */
  async #prepareSession(req: HostRequest, step: Step, plain: PreparedCall): Promise<{ call: PreparedCall; joined?: StepSession }> {
    const { tenant, resolved, args, timeoutMs } = plain;
    if (!req.rr && !req.causal && !req.history) return { call: plain };
    // The spec below is copied to the worker when the call is posted: #passOn may then extend `joined`.
    const joined = joinSessions(step.sessions);
    if (!req.causal) {
      return { call: { tenant, resolved, args, timeoutMs, session: { rr: req.rr, history: req.history, rid: req.rid, reads: joined.reads, ...(req.shared ? { shared: true } : {}) } }, joined };
    }
    // Causal: this host's cache first catches up with everything the request depends on, so
    // that the step's reads (and what they depend on, through the cut) are never older.
    if (joined.need) await this.#cut.ensureAll(joined.need, req.deadline);
    return {
      call: {
        tenant, resolved, args, timeoutMs: Math.max(1, Math.floor(req.deadline - performance.now())),
        session: { rr: false, causal: true, history: req.history, rid: req.rid, reads: {}, seen: joined.seen ?? {}, need: joined.need ?? {} },
      },
      joined,
    };
  }

  async #run(req: HostRequest, step: Step): Promise<void> {
    step.state = 'running';
    const fn = step.plan.fn;
    try {
      const { call, joined } = await this.#prepare(req, step);
      // A request without a session (no `joined`) runs a local chain after this step in one job.
      const self = this.#self().id;
      const fusable = joined === undefined && this.#fuse && chainSuccessor(req.steps, step, self) !== undefined && call.args.every((a) => a.kind !== 'future');
      const fused = fusable ? await chainAfter(this.#registry, req.tenant, req.steps, step, self) : [];
      if (fused.length > 0) {
        await this.#runChain(req, step, call, fused);
        return;
      }
      const out = await this.#calls.run(call);
      // A successor runs here next: have a worker spin for it rather than sleep (a futex wake saved).
      if (step.plan.succs.some((s) => s.host.id === this.#self().id)) this.#calls.prewake();
      step.state = 'done';
      // The request may have been abandoned while the step ran: then its result goes nowhere.
      // A step's call has a session (and so `joined`) exactly when its request has one.
      if (this.#requests.get(req.rid) === req) this.#forward(req, step, out.result, out.session && this.#passOn(req, step, joined!, out.session), out.client);
    } catch (err) {
      step.state = 'failed';
      const e = err instanceof CloudburstError ? err : new CloudburstError('INTERNAL', String(err));
      if (!(err instanceof CloudburstError)) console.error(`DAG ${req.dag}, step ${fn}: unexpected error`, err);
      this.#report(req, { rid: req.rid, tenant: req.tenant, ok: false, step: fn, host: this.#self().id, error: { code: e.code, message: e.message } });
    } finally {
      if (--req.open === 0 && this.#requests.get(req.rid) === req) this.cancel(req.rid);
    }
  }

  /**
   * Runs `head` and the steps fused after it (chain.ts) as one worker job, then does for each
   * what #run does for one step: its state, its failure reported as its own, and the last
   * one's result forwarded. Steps after a failed one stay waiting, as after an unfused failure.
   */
  async #runChain(req: HostRequest, head: Step, call: PreparedCall, fused: FusedStep<Step>[]): Promise<void> {
    const members = [head, ...fused.map((f) => f.step)];
    for (const f of fused) f.step.state = 'running';
    let outcomes;
    try {
      outcomes = await this.#calls.runChain({
        tenant: req.tenant, timeoutMs: call.timeoutMs, steps: [{ resolved: call.resolved, args: call.args as PreparedArg[] }, ...fused.map((f) => f.call)],
        ...(call.client ? { client: call.client } : {}), ...(call.carried ? { carried: call.carried } : {}),
      });
    } catch (err) {
      for (const f of fused) f.step.state = 'waiting';
      throw err; // #run reports it as the head's
    }
    this.#fusedSteps += outcomes.length;
    for (const s of members.slice(outcomes.length)) s.state = 'waiting';
    const last = members[members.length - 1]!;
    const end = outcomes[members.length - 1];
    if (end?.ok) {
      if (last.plan.succs.some((s) => s.host.id === this.#self().id)) this.#calls.prewake();
      last.state = 'done';
      if (this.#requests.get(req.rid) === req) this.#forward(req, last, end.result, undefined, end.client);
    }
    for (const [i, o] of outcomes.entries()) {
      const step = members[i]!;
      if (o.ok) step.state = 'done';
      else {
        step.state = 'failed';
        this.#report(req, { rid: req.rid, tenant: req.tenant, ok: false, step: step.plan.fn, host: this.#self().id, error: { code: o.error.code, message: o.error.message } });
      }
      // The head's count is #run's.
      if (i > 0 && --req.open === 0 && this.#requests.get(req.rid) === req) this.cancel(req.rid);
    }
  }

  /**
   * What a step of an rr or recorded request passes on: its predecessors' read sets and
   * histories (`joined`, extended in place), plus its own first reads and writes (their
   * snapshots stay here, for the request's life) and operations.
   */
  #passOn(req: HostRequest, step: Step, joined: StepSession, got: NonNullable<Awaited<ReturnType<Calls['run']>>['session']>): StepSession {
    const self = this.#self();
    if (req.rr) {
      this.#snapshots.store(req.rid, got.snaps, req.deadline - performance.now() + this.#graceMs);
      for (const s of got.snaps) joined.reads[s.key] = { version: s.version, host: self.id, url: self.url };
      for (const [key, at] of Object.entries(got.shared ?? {})) joined.reads[key] = at;
    }
    if (req.causal) addCausal(joined, got, self.id, self.url);
    if (req.history) joined.history.push(...toEvents(got.history, req.rid, step.plan.fn, self.id));
    return joined;
  }

  #forward(req: HostRequest, step: Step, value: unknown, session: StepSession | undefined, clientSession: ClientSession | undefined): void {
    const succs = step.plan.succs;
    const client = clientSession && clientSession.length > 0 ? { client: encodeSession(clientSession) } : {};
    if (succs.length === 0) {
      const history = req.history ? { history: session?.history ?? [] } : {};
      this.#report(req, { rid: req.rid, tenant: req.tenant, ok: true, step: step.plan.fn, host: this.#self().id, result: value, ...history, ...client });
      return;
    }
    const self = this.#self();
    const remainingMs = req.deadline - performance.now();
    const local: TriggerMsg[] = [];
    // Remote successors first: their messages are on the wire before a local step takes the thread.
    for (const s of succs) {
      const msg: TriggerMsg = { rid: req.rid, tenant: req.tenant, from: step.plan.fn, to: s.fn, slot: s.slot, value, remainingMs, ...client };
      if (session) msg.session = session;
      if (s.host.id === self.id) {
        local.push(msg);
        continue;
      }
      if (s.host.id === req.coordinator.id && req.reply?.trigger(msg)) {
        this.#replied++;
        continue;
      }
      this.#link.send(s.host.url, 'POST', HOST_PATHS.dagTrigger, triggerToWire(msg), Math.max(1000, remainingMs), req.tenant).catch((err: unknown) => {
        const e = err instanceof CloudburstError ? err : new CloudburstError('HOST_UNAVAILABLE', String(err));
        this.#report(req, { rid: req.rid, tenant: req.tenant, ok: false, step: s.fn, host: s.host.id, error: { code: e.code, message: `the result of ${step.plan.fn} could not be delivered: ${e.message}` } });
      });
    }
    for (const msg of local) this.trigger(msg);
  }

  #report(req: HostRequest, msg: DoneMsg): void {
    if (req.coordinator.id === this.#self().id) {
      this.#onDone(msg);
      return;
    }
    if (req.reply?.done(msg)) {
      this.#replied++;
      return;
    }
    // A coordinator that cannot be reached has gone with its client: nobody is left to tell.
    this.#link.send(req.coordinator.url, 'POST', HOST_PATHS.dagDone, msg, 5000, req.tenant).catch(() => undefined);
  }
}
