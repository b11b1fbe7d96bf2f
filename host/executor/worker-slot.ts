// One executor worker thread as the pool holds it (a slot): starting it, noticing its death,
// and stopping it through its gate, never while it is in host code. The pool (pool.ts) decides
// when to start and stop slots and what runs on them.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { CTRL_WORDS, DONE, GATE, GATE_CLAIMED, GATE_CLOSING, GATE_FREE, GATE_HOST, STATE, type ValueMemoInit, type WorkerInit } from './protocol.ts';

export interface Slot {
  index: number;
  worker: Worker;
  ctrl: Int32Array;
  port: MessagePort;
  /** Modules already sent to this worker. */
  modules: Set<string>;
  busy: boolean;
  /** Resolves when the worker died (exit or uncaught error). */
  died: Promise<void>;
  /**
   * Called when the worker dies, by whatever awaits something for it (see `orDied`): a
   * `Promise.race` with `died` would leave a reaction on `died` per call, kept until the
   * worker dies, which may be never.
   */
  onDeath: Set<() => void>;
  /** `died` has resolved. */
  hasDied: boolean;
  /** Not to be given jobs again (it died, or it is being stopped). */
  dead: boolean;
  /** It has started (READY): until then it gets no job. */
  ready: boolean;
  /** When its last job ended, or it became ready (`performance.now()`). */
  idleSince: number;
  /** The thread has exited. */
  exited: boolean;
  /** The tenant of the job it runs, while `busy`. */
  tenant: string;
  /** When the job it runs started (`performance.now()`), while `busy`. */
  since: number;
  /** Its job waits for the main thread's answer to a bridge request (a fetch, a message...). */
  bridging: boolean;
  /** Why the thread failed, when it did. */
  error?: unknown;
}

/** What a new worker is started with (the pool's options). */
export interface SlotStart {
  cachePath: string;
  writerPrefix: string;
  workerMemoryBytes: number;
  valueMemo?: ValueMemoInit | undefined;
  workerUrl: URL;
}

/**
 * Starts worker `index`. `onDied` runs once when the thread dies (an uncaught error, or its
 * exit), after the slot is marked dead and whatever waited for it (`orDied`, the main thread's
 * wait for the job's end) was woken; `err` is undefined for an exit.
 */
export function startSlot(index: number, opts: SlotStart, onDied: (slot: Slot, err: unknown) => void): Slot {
  const ctrlBuffer = new SharedArrayBuffer(CTRL_WORDS * 4);
  // A worker starts in host code (it opens the cache) and opens its gate once ready.
  new Int32Array(ctrlBuffer)[GATE] = GATE_HOST;
  const { port1, port2 } = new MessageChannel();
  const init: WorkerInit = {
    cachePath: opts.cachePath,
    writer: `${opts.writerPrefix}/w${index}`,
    ctrl: ctrlBuffer,
    port: port2,
    memoryBudget: opts.workerMemoryBytes,
    ...(opts.valueMemo ? { valueMemo: opts.valueMemo } : {}),
  };
  const worker = new Worker(opts.workerUrl, {
    workerData: init,
    transferList: [port2],
    resourceLimits: { maxOldGenerationSizeMb: 1024 },
    stderr: false,
  });
  let markDead!: () => void;
  const died = new Promise<void>((resolve) => (markDead = resolve));
  const slot: Slot = {
    index, worker, ctrl: new Int32Array(ctrlBuffer), port: port1, modules: new Set(), busy: false, died, onDeath: new Set(), hasDied: false, dead: false, exited: false, tenant: '', since: 0, bridging: false, ready: false, idleSince: 0,
  };
  const onDeath = (err?: unknown): void => {
    if (err !== undefined) slot.error = err;
    if (slot.dead) return;
    slot.dead = true;
    markDead();
    slot.hasDied = true;
    for (const f of slot.onDeath) f();
    // Wakes the main thread's wait for the job's end (pool.ts #converse), which then finds it dead.
    Atomics.notify(slot.ctrl, STATE);
    onDied(slot, err);
  };
  worker.on('error', onDeath);
  worker.on('exit', () => {
    slot.exited = true;
    onDeath();
  });
  return slot;
}

/** `p`, or undefined as soon as the slot's worker dies. */
export function orDied<T>(slot: Slot, p: Promise<T>): Promise<T | undefined> {
  if (slot.hasDied) return Promise.resolve(undefined);
  return new Promise<T | undefined>((resolve, reject) => {
    const died = (): void => resolve(undefined);
    slot.onDeath.add(died);
    p.then((v) => {
      slot.onDeath.delete(died);
      resolve(v);
    }, (err: unknown) => {
      slot.onDeath.delete(died);
      reject(err);
    });
  });
}

/**
 * Closes a worker's gate (see GATE in protocol.ts): resolves once the worker can no longer
 * enter host code, so that it may be terminated. While it is in host code (a commit, a host
 * import, opening the cache) that work finishes first: the worker hands the gate over as it
 * leaves. Resolves 'done' instead, with the gate open again, when the worker finished its
 * job meanwhile (unless `stopping`); 'dead' when the thread exited.
 */
export async function closeGate(slot: Slot, stopping = false): Promise<'closed' | 'done' | 'dead'> {
  const { ctrl } = slot;
  const since = performance.now();
  let warned = false;
  for (;;) {
    const prev = Atomics.compareExchange(ctrl, GATE, GATE_FREE, GATE_CLAIMED);
    if (prev === GATE_FREE || prev === GATE_CLAIMED) {
      if (stopping || Atomics.load(ctrl, STATE) !== DONE) return 'closed';
      Atomics.store(ctrl, GATE, GATE_FREE);
      Atomics.notify(ctrl, GATE);
      return 'done';
    }
    if (slot.exited) return 'dead';
    // In host code: ask for the gate, and wait for the worker to hand it over.
    if (prev === GATE_HOST) Atomics.compareExchange(ctrl, GATE, GATE_HOST, GATE_CLOSING);
    if (!warned && performance.now() - since > 10_000) {
      warned = true;
      console.error(`executor worker ${slot.index} has been in host code for 10 s; waiting for it before stopping it`);
    }
    // A timed wait: it also lets the event loop run, so that the worker's 'exit' is seen.
    const w = Atomics.waitAsync(ctrl, GATE, GATE_CLOSING, 20);
    if (w.async) await w.value;
  }
}

/** Terminates a slot's worker, never while it is in host code (see GATE in protocol.ts). */
export async function terminateSlot(slot: Slot): Promise<void> {
  // A job that finished meanwhile changes nothing here: the slot is being replaced or closed.
  await closeGate(slot, true);
  await slot.worker.terminate();
}
