import { receiveMessageOnPort } from 'node:worker_threads';
import { CloudburstError, distUrl } from '../../common/index.ts';
import {
  BRIDGE, DONE, IDLE, JOB, READY, REPLY, STATE, WAKE, WATCHING, wakeWorker,
  type BridgeReply, type BridgeRequest, type Job, type JobResult, type ValueMemoInit,
} from './protocol.ts';
import type { ReadVersion } from '../consistency/call-session.ts';
import { Histogram } from 'prom-client';
import { counterFrom, gaugeFrom, type MetricsRegistry } from '../metrics.ts';
import { PoolScaler, type GrowReason, type PoolLoad } from './pool-scaler.ts';
import { TenantShare } from './tenant-share.ts';
import { closeGate, orDied, startSlot, terminateSlot, type Slot } from './worker-slot.ts';

/** Buckets of the queue wait histogram, in seconds: 100 us to 30 s. */
const WAIT_BUCKETS = [0.0001, 0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface PoolOptions {
  /** Worker threads the pool starts with and never goes below. */
  size: number;
  /** Worker threads it may grow to when calls wait (see pool-scaler.ts). Default `size`: a fixed pool. */
  maxSize?: number;
  /** A call that waited this long for a worker starts one more (ms). Default 20. */
  scaleUpWaitMs?: number;
  /** A worker idle this long is stopped, down to `size` (ms). Default 30 s. */
  idleTimeoutMs?: number;
  cachePath: string;
  /** Each worker's value memo: the cache's version table and the bound (protocol.ts). Default: none. */
  valueMemo?: ValueMemoInit;
  /** Writer ids are `${writerPrefix}/w${slot}`. */
  writerPrefix: string;
  /**
   * Serves a worker's request for the network (read misses, durable puts, messages).
   * `remainingMs` is what is left of the call's deadline: a `recv` waits no longer. `tenant`
   * is the one the job runs in (as this thread posted it, not as the worker says).
   */
  bridge: (req: BridgeRequest, remainingMs: number, tenant: string) => Promise<Uint8Array | null | void | { at: ReadVersion }>;
  /** A worker holding more memory than this after a job is replaced (see WorkerInit). */
  workerMemoryBytes?: number;
  /** Calls waiting for a free worker beyond this are refused with OVERLOADED. Default 10,000. */
  maxQueue?: number;
  /**
   * Calls of one tenant waiting for a free worker beyond this are refused with OVERLOADED,
   * so that one tenant cannot fill the queue. Default a quarter of `maxQueue`.
   */
  maxQueuePerTenant?: number;
  /**
   * `share` (the default): one queue per tenant, served in turn, and each active tenant holds
   * at most its share of the workers (`TenantShare`). `fair`: the queues in turn, without
   * shares. `fifo`: one queue for every tenant, in arrival order. The last two are the
   * benchmark's baselines.
   */
  queue?: 'share' | 'fair' | 'fifo';
  /** How long a tenant stays active after its last job ended, for the shares (ms). Default 1000. */
  shareWindowMs?: number;
  /** How long the main thread may busy-wait for a lone call before parking (microseconds). */
  spinMicros?: number;
  /** Whether nothing else needs the main thread right now (then a lone call may spin). */
  mainIsIdle?: () => boolean;
  workerUrl?: URL;
}

type ResolvedOptions = Required<Omit<PoolOptions, 'workerUrl' | 'maxSize' | 'scaleUpWaitMs' | 'idleTimeoutMs' | 'valueMemo'>> & Pick<PoolOptions, 'valueMemo'> & { workerUrl: URL };

interface Waiting {
  tenant: string;
  job: Job;
  timeoutMs: number;
  /** When it was queued (`performance.now()`). */
  at: number;
  resolve: (r: JobResult) => void;
  reject: (e: unknown) => void;
}

/** The executor worker's entry (common/dist-files.ts). */
const defaultWorkerUrl = (): URL => distUrl('worker.js');

/**
 * A pool of executor worker threads, `size` to `maxSize` of them (pool-scaler.ts decides when
 * it grows and shrinks).
 *
 * Each job goes to an idle worker, preferring one that already holds the module warm. A job
 * past its deadline has its worker terminated and replaced (V8 has no fuel; a terminated
 * thread is the only way to stop a guest that loops). A lone call is awaited by a short
 * bounded spin of the main thread, which saves the ~50 us of an async wake-up; under
 * concurrency the main thread parks on Atomics.waitAsync instead and keeps serving.
 */
export class ExecutorPool {
  readonly #opts: ResolvedOptions;
  readonly #slots: Slot[] = [];
  /**
   * Calls waiting for a worker: one FIFO per tenant, the tenants in the order they are served
   * (round-robin: a tenant served goes to the back). A tenant with nothing waiting has no entry.
   */
  readonly #queue = new Map<string, Waiting[]>();
  #queued = 0;
  readonly #share: TenantShare;
  /** Whether the shares are enforced (`queue: 'share'`); they are counted in every mode. */
  readonly #sharing: boolean;
  /** Drains again when a tenant's window ends, if a worker was held free for it meanwhile. */
  #expiry: NodeJS.Timeout | undefined;
  #draining = false;
  #inflight = 0;
  #closed = false;
  #replaced = 0;
  #retired = 0;
  readonly #scaler: PoolScaler;
  /** Workers ready (taking jobs), and starting. */
  #ready = 0;
  #starting = 0;
  /** The timer of the scaler's next look, and when it fires (Infinity: none). */
  #scaleTimer: NodeJS.Timeout | undefined;
  #scaleAt = Infinity;
  #added = 0;
  #stopped = 0;
  #startFailures = 0;
  #waits: Histogram | undefined;
  /** Resolves once `size` workers were ready (see `ready`). */
  readonly #started: Promise<void>;
  #markStarted!: () => void;

  constructor(opts: PoolOptions) {
    const maxQueue = opts.maxQueue ?? 10_000;
    this.#opts = {
      spinMicros: 50, mainIsIdle: () => true, queue: 'share', shareWindowMs: 1000, workerMemoryBytes: 512 * 1024 * 1024, maxQueuePerTenant: Math.max(1, Math.floor(maxQueue / 4)),
      ...opts, maxQueue, workerUrl: opts.workerUrl ?? defaultWorkerUrl(),
    };
    // Shares are of the ready workers (none yet: see TenantShare.resize), at most the base size:
    // workers the pool adds beyond it serve waiting calls, not more CPU (see TenantShare).
    this.#share = new TenantShare(0, this.#opts.shareWindowMs, undefined, opts.size);
    this.#sharing = this.#opts.queue === 'share';
    this.#scaler = new PoolScaler({
      min: opts.size, max: Math.max(opts.size, opts.maxSize ?? opts.size), scaleUpWaitMs: opts.scaleUpWaitMs ?? 20, idleTimeoutMs: opts.idleTimeoutMs ?? 30_000,
    });
    this.#started = new Promise((resolve) => (this.#markStarted = resolve));
    for (let i = 0; i < opts.size; i++) this.#spawn();
  }

  /**
   * Resolves once `size` workers have started (calls run before that wait for the first ones).
   * It never rejects: a start that fails is retried (see pool-scaler.ts).
   */
  ready(): Promise<void> {
    return this.#started;
  }

  /** Starts a worker in the lowest free slot index (writer ids stay `w0`..`w{max-1}`). */
  #spawn(reason?: GrowReason): void {
    const used = new Set(this.#slots.map((s) => s.index));
    let index = 0;
    while (used.has(index)) index++;
    const slot = this.#start(index);
    this.#slots.push(slot);
    this.#starting++;
    if (reason === 'queue' || reason === 'utilization') this.#added++;
    void this.#whenReady(slot);
  }

  /** Waits for a starting worker: it takes jobs once ready; a start that failed is retried later. */
  async #whenReady(slot: Slot): Promise<void> {
    const wait = Atomics.waitAsync(slot.ctrl, READY, 0);
    if (wait.async) await Promise.race([wait.value, slot.died]);
    this.#starting--;
    if (this.#closed) return;
    if (slot.dead || Atomics.load(slot.ctrl, READY) !== 1) {
      this.#drop(slot);
      this.#startFailures++;
      const delay = this.#scaler.startFailed(performance.now());
      console.error(`executor worker ${slot.index} failed to start${slot.error === undefined ? '' : `: ${String(slot.error)}`}; starting workers again in ${delay} ms`);
      // No worker left to serve what waits: the calls fail now rather than wait for a start that may never come.
      if (this.#ready === 0 && this.#starting === 0) this.#rejectQueued(new CloudburstError('INTERNAL', 'no executor worker could be started (the host log has why); try again later'));
    } else {
      slot.ready = true;
      slot.idleSince = performance.now();
      this.#ready++;
      if (this.#ready >= this.#scaler.options.min) this.#markStarted();
      this.#share.resize(this.#ready);
      this.#scaler.started();
      // The scaler sees the pool with this worker idle before it takes what waits: a busy spell
      // of the smaller pool is over.
      this.#scaler.observe(this.#load(), performance.now());
      this.#drain();
    }
    this.#tick();
  }

  #start(index: number): Slot {
    return startSlot(index, this.#opts, (slot, err) => {
      // A start that failed is reported where it is retried (#whenReady).
      if (err !== undefined && !this.#closed && slot.ready) console.error(`executor worker ${index} failed:`, err);
      if (!this.#closed && slot.ready && this.#slots.includes(slot) && !slot.busy) this.#replace(slot);
    });
  }

  /** A worker that was ready died (deadline, crash, retired): another takes its place. */
  #replace(slot: Slot): void {
    this.#replaced++;
    this.#drop(slot);
    this.#spawn();
    this.#drain();
    this.#tick();
  }

  /** Takes a dead or stopped worker out of the pool. */
  #drop(slot: Slot): void {
    const i = this.#slots.indexOf(slot);
    if (i < 0) return;
    this.#slots.splice(i, 1);
    if (slot.ready) {
      slot.ready = false;
      this.#ready--;
      this.#share.resize(this.#ready);
    }
    slot.port.close();
  }

  #rejectQueued(err: CloudburstError): void {
    for (const fifo of this.#queue.values()) {
      for (const w of fifo) {
        this.#share.unqueued(w.tenant);
        w.reject(err);
      }
    }
    this.#queue.clear();
    this.#queued = 0;
  }

  /**
   * The load as the scaler sees it. A call that waits only for its tenant's turn (over its
   * share, see TenantShare) does not count as waiting: a worker more would not be its, and
   * would only take cores from the other tenants' calls.
   */
  #load(): PoolLoad {
    let oldestQueuedAt: number | undefined;
    let queued = 0;
    if (this.#queued > 0) {
      for (const [tenant, fifo] of this.#queue) {
        if (fifo.length === 0 || !this.#admits(tenant)) continue;
        queued += fifo.length;
        if (oldestQueuedAt === undefined || fifo[0]!.at < oldestQueuedAt) oldestQueuedAt = fifo[0]!.at;
      }
    }
    // Which running jobs stall (pool-scaler.ts: only they make a worker past the cores useful).
    let stalled = 0;
    let shortSince: number | undefined;
    if (this.#inflight > 0) {
      const longAgo = performance.now() - this.#scaler.options.scaleUpWaitMs;
      for (const s of this.#slots) {
        if (!s.busy) continue;
        if (s.bridging || s.since <= longAgo) stalled++;
        else if (shortSince === undefined || s.since < shortSince) shortSince = s.since;
      }
    }
    return { ready: this.#ready, starting: this.#starting, busy: this.#inflight, queued, oldestQueuedAt, stalled, shortSince };
  }

  /**
   * Lets the scaler look at the load (after every change of it, and when it asked to look
   * again): starts the workers it asks for, stops workers idle past the idle timeout while
   * nothing waits, and arms the timer of its next look.
   */
  #tick(): void {
    if (this.#closed) return;
    // Jobs held back by short work on every core may go now that some of it stalled.
    if (this.#queued > 0) this.#drain();
    const now = performance.now();
    let load = this.#load();
    this.#scaler.observe(load, now);
    for (let reason = this.#scaler.grow(load, now); reason !== undefined; reason = this.#scaler.grow(load, now)) {
      this.#spawn(reason);
      load = this.#load();
    }
    let next = this.#scaler.nextCheck(load, now);
    // Whatever the scaler looks at: jobs held back by short work on every core look again when it would stall.
    if (this.#queued > 0 && load.shortSince !== undefined) next = Math.min(next ?? Infinity, load.shortSince + this.#scaler.options.scaleUpWaitMs);
    if (this.#scaler.mayStop(load)) {
      const { idleTimeoutMs, min } = this.#scaler.options;
      let spare = this.#ready + this.#starting - min;
      // The longest idle first, until the floor.
      const idle = this.#slots.filter((s) => s.ready && !s.busy && !s.dead).sort((a, b) => a.idleSince - b.idleSince);
      for (const s of idle) {
        if (spare > 0 && now - s.idleSince >= idleTimeoutMs) {
          spare--;
          this.#stopIdle(s);
        } else {
          if (spare > 0) next = Math.min(next ?? Infinity, s.idleSince + idleTimeoutMs);
          break;
        }
      }
    }
    if (next !== undefined && next < this.#scaleAt) {
      clearTimeout(this.#scaleTimer);
      this.#scaleAt = next;
      this.#scaleTimer = setTimeout(() => {
        this.#scaleTimer = undefined;
        this.#scaleAt = Infinity;
        this.#tick();
      }, Math.max(0, Math.ceil(next - now)));
      this.#scaleTimer.unref();
    }
  }

  #stopIdle(slot: Slot): void {
    this.#stopped++;
    slot.dead = true;
    this.#drop(slot);
    void terminateSlot(slot);
  }

  /**
   * Announces a job: wakes an idle worker so that it spins, ready, while the caller is still
   * reading and checking the request. Only for a lone request (`mainIsIdle`): under concurrency
   * the job may go to another worker (or wait), and a woken worker would spin for nothing on a
   * core the main thread and the other workers need (WAKE_SPIN_MS of CPU per request, worse
   * than the wake-up it saves). Costs nothing when every worker is busy.
   */
  prewake(): void {
    if (this.#queued > 0 || !this.#opts.mainIsIdle()) return;
    for (const s of this.#slots) {
      if (s.ready && !s.busy && !s.dead && Atomics.compareExchange(s.ctrl, STATE, IDLE, WAKE) === IDLE) {
        wakeWorker(s.ctrl);
        return;
      }
    }
  }

  /**
   * Runs a job on some worker, in its tenant's place (`job.tenant`: a call's, or the uploader's
   * for a module's trial load). Resolves with the job's outcome; rejects only with
   * OVERLOADED/SHUTTING_DOWN. When no worker is free for it (every worker is busy, or the
   * tenant holds its share) the job waits in its tenant's queue; the queues are served in
   * turn, one job each, so a job waits for at most one job of each other tenant with jobs
   * waiting, however many they queued.
   */
  run(job: Job, timeoutMs: number): Promise<JobResult> {
    if (this.#closed) return Promise.reject(new CloudburstError('SHUTTING_DOWN'));
    const tenant = this.#opts.queue === 'fifo' ? '' : job.tenant;
    const mine = this.#queue.get(tenant);
    // Nobody of this tenant is waiting: an idle worker takes the job at once (with others
    // waiting, every worker is busy, a worker just freed is about to take the next in turn, or
    // the free ones are held for tenants below their share).
    const slot = mine === undefined ? this.#pick(job) : undefined;
    if (slot && this.#admits(tenant)) return this.#execute(slot, job, timeoutMs, tenant);
    if (this.#queued >= this.#opts.maxQueue) {
      return Promise.reject(new CloudburstError('OVERLOADED', `${this.#queued} calls are already waiting for a worker`));
    }
    if (this.#opts.queue !== 'fifo' && (mine?.length ?? 0) >= this.#opts.maxQueuePerTenant) {
      return Promise.reject(new CloudburstError('OVERLOADED', `${mine!.length} calls of tenant ${tenant} are already waiting for a worker (the most one tenant may queue on a host)`));
    }
    if (this.#ready === 0 && this.#starting === 0 && this.#scaler.holdingBack(performance.now())) {
      return Promise.reject(new CloudburstError('INTERNAL', 'no executor worker could be started (the host log has why); try again later'));
    }
    const queued = new Promise<JobResult>((resolve, reject) => {
      const waiting: Waiting = { tenant, job, timeoutMs, at: performance.now(), resolve, reject };
      if (mine) mine.push(waiting);
      else this.#queue.set(tenant, [waiting]);
      this.#queued++;
      this.#share.queued(tenant);
    });
    // A worker freed meanwhile (none should be while jobs wait) takes the next job in turn.
    this.#drain();
    // The scaler's timer: a worker more if this waits past scaleUpWaitMs.
    this.#tick();
    return queued;
  }

  /**
   * The worker for a job: one already awake (prewake) and holding the module, else one holding
   * the module, else one awake, else any idle one. Giving the job to the worker that is spinning
   * for it saves a wake-up, and leaves no worker spinning for a job that went elsewhere.
   */
  #pick(job: Job): Slot | undefined {
    if (this.#inflight >= this.#scaler.options.min && this.#onCores() >= this.#scaler.options.min) return undefined;
    let warm: Slot | undefined;
    let awake: Slot | undefined;
    let idle: Slot | undefined;
    for (const s of this.#slots) {
      if (s.busy || s.dead || !s.ready) continue;
      const isAwake = Atomics.load(s.ctrl, STATE) === WAKE;
      if (s.modules.has(job.module.id)) {
        if (isAwake) return s;
        warm ??= s;
      } else if (isAwake) awake ??= s;
      idle ??= s;
    }
    return warm ?? awake ?? idle;
  }

  /**
   * Running jobs that are short work on a core: not waiting on the main thread, running for
   * less than `scaleUpWaitMs`. With as many as the base size (`size`, the cores by default), a
   * job more waits for one of them to end (or to stall) rather than take turns with them on
   * the same cores in a worker past the base: the cores' throughput does not grow with
   * threads, only the switching between them (pool-scaler.ts, `stalled`).
   */
  #onCores(): number {
    const longAgo = performance.now() - this.#scaler.options.scaleUpWaitMs;
    let n = 0;
    for (const s of this.#slots) if (s.busy && !s.bridging && s.since > longAgo) n++;
    return n;
  }

  #admits(tenant: string): boolean {
    return !this.#sharing || this.#share.admits(tenant);
  }

  /**
   * Gives free workers the next jobs, one per tenant in turn (the Map's order is the turn),
   * passing over the tenants that hold their share (they keep their place in the turn).
   */
  #drain(): void {
    // A job it hands out ticks the scaler, which drains too: the outer loop goes on instead.
    if (this.#draining) return;
    this.#draining = true;
    try {
      this.#drainTurn();
    } finally {
      this.#draining = false;
    }
  }

  #drainTurn(): void {
    for (const [tenant, fifo] of this.#queue) {
      const next = fifo[0]!;
      const slot = this.#pick(next.job);
      if (!slot) return;
      if (!this.#admits(tenant)) continue;
      fifo.shift();
      this.#queued--;
      this.#share.unqueued(tenant);
      // To the back of the turn, or out of it when nothing of the tenant waits any more.
      this.#queue.delete(tenant);
      if (fifo.length > 0) this.#queue.set(tenant, fifo);
      this.#waits?.observe((performance.now() - next.at) / 1000);
      this.#execute(slot, next.job, next.timeoutMs, tenant).then(next.resolve, next.reject);
    }
    // Jobs wait while a worker is free: it is held for a tenant that may not come back.
    if (this.#queued > 0 && this.#expiry === undefined && !this.#closed) {
      const at = this.#share.nextExpiry();
      if (at !== undefined) {
        this.#expiry = setTimeout(() => {
          this.#expiry = undefined;
          this.#drain();
        }, Math.ceil(at - performance.now()) + 1);
      }
    }
  }

  async #execute(slot: Slot, job: Job, timeoutMs: number, tenant: string): Promise<JobResult> {
    slot.busy = true;
    slot.tenant = tenant;
    slot.since = performance.now();
    this.#share.started(tenant);
    this.#inflight++;
    this.#observeLoad();
    try {
      return await this.#converse(slot, job, timeoutMs);
    } finally {
      this.#inflight--;
      this.#share.ended(tenant);
      slot.busy = false;
      slot.idleSince = performance.now();
      if (slot.dead && !this.#closed && this.#slots.includes(slot)) this.#replace(slot);
      else {
        this.#drain();
        this.#observeLoad();
      }
    }
  }

  /**
   * The scaler sees every change of the busy workers; on the hot path (a fixed pool, or a
   * pool at its floor with nothing waiting and nothing to stop) that is all it costs.
   */
  #observeLoad(): void {
    if (this.#queued > 0 || this.#ready + this.#starting > this.#scaler.options.min || this.#scaler.options.max > this.#scaler.options.min) this.#tick();
  }

  async #converse(slot: Slot, job: Job, timeoutMs: number): Promise<JobResult> {
    const { ctrl } = slot;
    const id = job.module.id;
    // Send the module's spec once per worker; later jobs name it by id (no cloning of its types).
    const message: Job = slot.modules.has(id) ? { ...job, module: { id } } : job;
    slot.modules.add(id);
    slot.port.postMessage(message);
    Atomics.store(ctrl, STATE, JOB);
    wakeWorker(ctrl);
    const deadline = performance.now() + timeoutMs;

    for (;;) {
      let state = Atomics.load(ctrl, STATE);
      if (state === JOB && this.#inflight === 1 && this.#opts.spinMicros > 0 && this.#opts.mainIsIdle()) {
        const spinUntil = performance.now() + this.#opts.spinMicros / 1000;
        let n = 0;
        while ((state = Atomics.load(ctrl, STATE)) === JOB && ((++n & 63) !== 0 || performance.now() < spinUntil));
      }
      if (state === JOB) {
        const remaining = deadline - performance.now();
        // A death before this wait was set up notified nobody: it must not wait for the deadline.
        if (slot.hasDied) return this.#died(slot);
        if (remaining > 0) {
          Atomics.store(ctrl, WATCHING, 1);
          const wait = Atomics.waitAsync(ctrl, STATE, JOB, remaining);
          // A death wakes this wait too (onDeath in #start notifies STATE).
          if (wait.async) await wait.value;
          Atomics.store(ctrl, WATCHING, 0);
        }
        if (slot.dead) return this.#died(slot);
        state = Atomics.load(ctrl, STATE);
        if (state === JOB && performance.now() >= deadline) {
          // Stop the guest, never the host's own work: if the job finished meanwhile (its
          // commit was under way when the deadline came), its result stands.
          if ((await closeGate(slot)) !== 'done') return this.#timeout(slot, timeoutMs);
          continue;
        }
      }
      if (state === DONE) {
        const result = receiveMessageOnPort(slot.port)?.message as JobResult | undefined;
        Atomics.store(ctrl, STATE, IDLE);
        if (result === undefined) return this.#failed(slot, 'INTERNAL', 'the executor worker sent no result');
        if (result.retire) {
          // It holds memory only its end gives back: replace it (after this job, see #execute).
          this.#retired++;
          slot.dead = true;
          void terminateSlot(slot);
        }
        return result;
      }
      if (state === BRIDGE) {
        const req = receiveMessageOnPort(slot.port)?.message as BridgeRequest | undefined;
        Atomics.store(ctrl, STATE, JOB);
        // A recv may wait for a message another job of the tenant has yet to send: while it
        // waits, it leaves the tenant's share to that job (see TenantShare).
        const pauses = req?.op === 'recv';
        if (pauses) {
          this.#share.paused(slot.tenant);
          this.#drain();
        }
        let reply: BridgeReply;
        slot.bridging = true;
        // Calls waiting while this job waits on the main thread: its core is free for them now,
        // and a worker more may serve them.
        if (this.#queued > 0) this.#tick();
        try {
          if (req === undefined) throw new CloudburstError('INTERNAL', 'bridge request missing');
          const data = await orDied(slot, this.#opts.bridge(req, deadline - performance.now(), job.tenant));
          reply = data instanceof Uint8Array || data === null ? { ok: true, data } : data === undefined ? { ok: true } : { ok: true, at: data.at };
        } catch (err) {
          const e = err instanceof CloudburstError ? err : new CloudburstError('INTERNAL', String(err));
          reply = { ok: false, code: e.code, message: e.message };
        } finally {
          slot.bridging = false;
          if (pauses) this.#share.resumed(slot.tenant);
        }
        if (slot.dead) return this.#died(slot);
        // The worker waits for this reply with its gate open: closing it cannot find the job done.
        if (performance.now() >= deadline) return this.#timeout(slot, timeoutMs);
        slot.port.postMessage(reply);
        Atomics.store(ctrl, REPLY, 1);
        Atomics.notify(ctrl, REPLY);
      }
    }
  }

  #timeout(slot: Slot, timeoutMs: number): JobResult {
    return this.#failed(slot, 'CALL_TIMEOUT', `the call ran past its deadline of ${timeoutMs} ms and was stopped`);
  }

  /**
   * The worker died under its job: a crash, or close() stopped it (through the gate, so the
   * job committed nothing: a host that drains cuts what still runs at its deadline this way).
   */
  #died(slot: Slot): JobResult {
    // A job that finished (its commit done) just before the worker was stopped stands.
    if (Atomics.load(slot.ctrl, STATE) === DONE) {
      const result = receiveMessageOnPort(slot.port)?.message as JobResult | undefined;
      if (result !== undefined) return result;
    }
    if (this.#closed) return this.#failed(slot, 'SHUTTING_DOWN', 'the host is stopping: the call was cut before it finished (nothing it wrote was committed); retry it on another host');
    return this.#failed(slot, 'INTERNAL', 'the executor worker died during the call');
  }

  #failed(slot: Slot, code: 'CALL_TIMEOUT' | 'INTERNAL' | 'SHUTTING_DOWN', message: string): JobResult {
    // The worker may be mid-guest or mid-bridge: it cannot be trusted again.
    slot.dead = true;
    void terminateSlot(slot);
    return { kind: 'done', ok: false, code, message, logs: [] };
  }

  /** `workers`: threads ready or starting (`starting` of them); `maxWorkers`: what the pool may grow to. */
  stats(): { workers: number; starting: number; maxWorkers: number; busy: number; queued: number; replaced: number; retired: number } {
    return {
      workers: this.#slots.length, starting: this.#starting, maxWorkers: this.#scaler.options.max,
      busy: this.#inflight, queued: this.#queued, replaced: this.#replaced, retired: this.#retired,
    };
  }

  /** The workers each tenant holds now (jobs waiting in `recv` included); tenants holding none are left out. */
  holding(): Record<string, number> {
    return this.#share.holding();
  }

  /** The workers and the calls waiting for one. */
  registerMetrics(registry: MetricsRegistry): void {
    gaugeFrom(registry, 'cloudburst_workers', 'Executor worker threads (those starting included).', () => this.#slots.length);
    gaugeFrom(registry, 'cloudburst_workers_starting', 'Executor workers starting (given no call until ready).', () => this.#starting);
    gaugeFrom(registry, 'cloudburst_workers_max', 'Executor workers the pool may grow to (maxWorkers).', () => this.#scaler.options.max);
    counterFrom(registry, 'cloudburst_workers_added_total', 'Executor workers started because calls waited or the workers stayed busy.', () => this.#added);
    counterFrom(registry, 'cloudburst_workers_idle_stopped_total', 'Executor workers stopped after idleTimeoutMs without a call.', () => this.#stopped);
    counterFrom(registry, 'cloudburst_worker_start_failures_total', 'Executor workers that failed to start (retried with backoff).', () => this.#startFailures);
    this.#waits = new Histogram({
      name: 'cloudburst_queue_wait_seconds', help: 'How long calls that found no free worker waited for one (those that found one at once are not observed: the hot path stays free).',
      buckets: WAIT_BUCKETS, registers: [registry],
    });
    gaugeFrom(registry, 'cloudburst_workers_busy', 'Executor workers running a call now.', () => this.#inflight);
    gaugeFrom(registry, 'cloudburst_calls_queued', 'Calls waiting for a free worker.', () => this.#queued);
    counterFrom(registry, 'cloudburst_workers_replaced_total', 'Executor workers replaced (terminated at a deadline, crashed, or retired for memory).', () => this.#replaced);
    counterFrom(registry, 'cloudburst_workers_retired_total', 'Executor workers replaced because they held more than workerMemoryMiB after a call.', () => this.#retired);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#expiry);
    clearTimeout(this.#scaleTimer);
    this.#rejectQueued(new CloudburstError('SHUTTING_DOWN'));
    await Promise.all(this.#slots.map(async (s) => {
      await terminateSlot(s);
      s.port.close();
    }));
  }
}
