// Entry point of an executor worker thread (bundled to dist/worker.js).
//
// The thread parks in Atomics.wait until the main thread posts a job, runs it synchronously,
// posts the result and parks again; now and then it gives its event loop a turn. See protocol.ts.
import { receiveMessageOnPort, workerData } from 'node:worker_threads';
import { CloudburstError } from '../../common/index.ts';
import { Hlc, lwwValueView } from '../../kvs/index.ts';
import { HostCache } from '../cache/cache.ts';
import { SESSION_MAX_KEYS } from '../consistency/client-session.ts';
import { isArrayType, type ArrayType, type ExportSignature, type ValueType } from '../../guest/types-section.ts';
import { ELEMENT_BYTES } from '../module-types.ts';
import { displayKey } from '../keys.ts';

/** Type tag of an LWW register in the lattice codec (byte 1 of an encoding). */
const LWW_TAG = 1;
import { lowerValue, liftResult } from './abi.ts';
import { refArgument } from './args.ts';
import { GuestState } from './guest-state.ts';
import { ValueMemo } from './value-memo.ts';
import { GuestAbort, hostImports, LMDB_FREE_IMPORTS } from './imports.ts';
import {
  BRIDGE, DONE, IDLE, JOB, PARKED, READY, REPLY, STATE, WAKE, wakeMain,
  type BridgeReply, type BridgeRequest, type CallJob, type Job, type JobResult, type ModuleRef, type ModuleSpec, type PreparedArg, type WorkerInit,
} from './protocol.ts';
import { WarmInstances, type Instance } from './warm-instances.ts';
import { quotaExceeded } from '../quotas/quota-error.ts';
import { StateLedger } from '../quotas/state-ledger.ts';
import { workerGate } from './worker-gate.ts';
import { runChain } from './chain-worker.ts';
import { GUEST_STACK_FRAMES, guestWhere } from './guest-stack.ts';
import type { SourceMapIndex } from '../source-map.ts';

// A trap deep in the standard library must still show the user's frames below it.
Error.stackTraceLimit = GUEST_STACK_FRAMES;

const init = workerData as WorkerInit;
const ctrl = new Int32Array(init.ctrl);
const port = init.port;
// With a memo, the cache bumps the main thread's version table, which the memo checks (value-memo.ts).
const cache = HostCache.open({ path: init.cachePath, ...(init.valueMemo ? { versions: init.valueMemo.versions } : {}) });

const { enter, leave, outside, gated } = workerGate(ctrl);

function bridge(req: DistributiveOmit<BridgeRequest, 'kind'>): Uint8Array | null | undefined {
  return bridgeReply(req).data;
}

function bridgeReply(req: DistributiveOmit<BridgeRequest, 'kind'>): Extract<BridgeReply, { ok: true }> {
  port.postMessage({ kind: 'bridge', ...req });
  Atomics.store(ctrl, REPLY, 0);
  Atomics.store(ctrl, STATE, BRIDGE);
  wakeMain(ctrl);
  outside(() => {
    while (Atomics.load(ctrl, REPLY) === 0) Atomics.wait(ctrl, REPLY, 0);
  });
  const reply = receiveMessageOnPort(port)?.message as BridgeReply | undefined;
  if (reply === undefined) throw new CloudburstError('INTERNAL', 'bridge reply missing');
  if (!reply.ok) throw new CloudburstError(reply.code, reply.message);
  return reply;
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

const state = new GuestState(
  cache,
  {
    fetch: (keys) => void bridge({ op: 'fetch', keys }),
    flush: (keys) => void bridge({ op: 'flush', keys }),
    send: (from, to, data) => void bridge({ op: 'send', from, to, data }),
    recv: (id, timeoutMs) => bridge({ op: 'recv', id, timeoutMs }) ?? null,
    snapshot: (rid, key, at) => bridge({ op: 'snapshot', rid, key, at }) ?? null,
    ensure: (key, need) => void bridge({ op: 'ensure', key, need }),
    pin: (rid, key, version, bytes) => {
      const at = bridgeReply({ op: 'pin', rid, key, version, bytes }).at;
      if (at === undefined) throw new CloudburstError('INTERNAL', `no version of ${displayKey(key)} agreed for request ${rid}`);
      return at;
    },
  },
  new Hlc(init.writer),
  init.writer,
  init.valueMemo && init.valueMemo.maxBytes > 0 ? new ValueMemo(cache.versions, init.valueMemo.maxBytes) : undefined,
);
// The cache is open: from here on the thread may be stopped whenever it is outside host code.
leave();
// ...and it may be given jobs (the pool waits for this before it does).
Atomics.store(ctrl, READY, 1);
Atomics.notify(ctrl, READY);

const instances = new WarmInstances({
  memoryBudget: init.memoryBudget,
  imports: (memory, starting) => gated(hostImports(memory, () => state, starting), LMDB_FREE_IMPORTS),
  outside,
});

/** Reads a `{"ref": key}` argument from the cache, as the parameter's type wants it. */
function readRef(key: string, type: ValueType, session: boolean): unknown {
  const display = displayKey(key);
  // A session's reads go through its versions (state.read), never the raw fast path.
  if (!session && (type === 'string' || isArrayType(type))) {
    // Fast path for LWW bytes: a view of the value inside LMDB, copied once, into the guest.
    const raw = state.readRaw(key);
    if (raw !== undefined && raw[1] === LWW_TAG) {
      const view = lwwValueView(raw);
      if (view === null) throw new CloudburstError('REF_NOT_FOUND', `no value under key ${JSON.stringify(display)}`, { key: display });
      if (type === 'string') return new TextDecoder().decode(view);
      if (view.byteLength % ELEMENT_BYTES[type as ArrayType] !== 0) {
        throw new CloudburstError('INVALID_ARGUMENTS', `key ${JSON.stringify(display)} holds ${view.byteLength} bytes, not a whole number of ${type} elements`);
      }
      return view;
    }
  }
  return refArgument(key, state.read(key), type);
}

/**
 * What an out-of-memory answer says about the limit and the way past it: the limit in MiB and
 * where it comes from (the host's `--guest-memory-mib`, a tenant's `guestMemoryMiB` quota).
 */
function memoryLimitHint(maxPages: number): string {
  return `a call's memory is limited to ${(maxPages * 65536) / (1024 * 1024)} MiB (the host's --guest-memory-mib, or the tenant's guestMemoryMiB quota: cloudburst tenant create NAME --quotas '{"guestMemoryMiB": N}')`;
}

type Failure = { code: CloudburstError['code']; message: string; details?: Record<string, unknown> };

function classify(err: unknown, inst: Instance | undefined, sourceMap?: SourceMapIndex): Failure {
  // A quota's refusal says which quota, and its limit (host/quotas/quota-error.ts).
  if (err instanceof CloudburstError) return { code: err.code, message: err.message, ...(err.code === 'QUOTA_EXCEEDED' && err.details ? { details: err.details } : {}) };
  if (err instanceof GuestAbort) {
    const oom = /allocation too large|out of memory/i.test(err.message);
    // asc's own position (often ~lib/...) gives way to the user's line when the map has it.
    const { where, stack } = guestWhere(err.stack, sourceMap);
    const message = where ? `${err.text} ${where}` : err.message;
    return { code: oom ? 'GUEST_OUT_OF_MEMORY' : 'GUEST_ABORT', message: oom && inst ? `${message}: ${memoryLimitHint(inst.maxPages)}` : message, details: { stack } };
  }
  if (err instanceof WebAssembly.RuntimeError || err instanceof RangeError) {
    const pages = inst ? inst.guest.memory.buffer.byteLength / 65536 : 0;
    const { where, stack } = guestWhere(err.stack, sourceMap);
    const at = where ? ` ${where}` : '';
    // The AssemblyScript runtime hits `unreachable` when memory.grow fails; the host cannot
    // see the failed grow itself. An `unreachable` trap with over half the maximum in use is
    // taken for an out-of-memory (the allocator doubles memory, so a grow that no longer fits
    // is refused once half is in use).
    if (inst && /unreachable/.test(err.message) && pages >= inst.maxPages / 2) {
      return { code: 'GUEST_OUT_OF_MEMORY', message: `out of memory: ${pages} of ${inst.maxPages} pages (64 KiB) in use${at}; ${memoryLimitHint(inst.maxPages)}`, details: { stack } };
    }
    return { code: 'GUEST_TRAP', message: inst ? `${err.message}${at} (memory: ${pages} of ${inst.maxPages} pages)` : `${err.message}${at}`, details: { stack } };
  }
  if (err instanceof WebAssembly.LinkError || err instanceof WebAssembly.CompileError) return { code: 'INVALID_WASM', message: err.message };
  return { code: 'INTERNAL', message: err instanceof Error ? err.message : String(err) };
}

function runCall(job: CallJob): JobResult {
  let inst: Instance | undefined;
  let specSeen: ModuleSpec | undefined;
  const pins: number[] = [];
  // The runtime's __unpin: guest code, with the gate open.
  const unpin = (): void => {
    while (pins.length > 0) inst!.guest.runtime.__unpin(pins.pop()!);
  };
  const quota = job.quota;
  state.begin(job.callId, job.tenant, job.session, quota && new StateLedger(quota.tenant, init.writer, quota.stateBytes));
  try {
    const spec = instances.specOf(job.module);
    specSeen = spec;
    if (quota && spec.memoryInitialPages > quota.memoryMaxPages) {
      throw quotaExceeded('guestMemoryMiB', (quota.memoryMaxPages * 65536) / (1024 * 1024), `the module needs ${spec.memoryInitialPages} pages (64 KiB) of memory at start; tenant ${quota.tenant}'s functions may have at most ${quota.memoryMaxPages}`);
    }
    inst = instances.instantiate(spec, quota?.memoryMaxPages);
    const sig = spec.types.exports.find((e) => e.name === job.exportName) as ExportSignature | undefined;
    const fn = inst.exports[job.exportName];
    if (!sig || typeof fn !== 'function') throw new CloudburstError('UNKNOWN_FUNCTION', `no export ${job.exportName}`);
    const wasmArgs = job.args.map((arg: PreparedArg, i) => {
      const { name, type } = sig.params[i]!;
      const value = arg.kind === 'ref' ? readRef(arg.key, type, job.session !== undefined) : arg.value;
      return guestFault(`${sig.name}, argument ${i} (${name}: ${type})`, () => lowerValue(inst!.guest, spec.types, type, value, pins));
    });
    const raw = outside(() => (fn as (...a: unknown[]) => unknown)(...wasmArgs));
    const result = guestFault(sig.name, () => liftResult(inst!.guest.memory, sig.result, raw));
    // The last guest code of the call runs before its commit: from the commit until the result
    // is posted (DONE) the gate stays closed, so a deadline that comes meanwhile finds the call
    // done, never a call that wrote and answers CALL_TIMEOUT.
    guestFault(`${sig.name}, releasing its arguments`, unpin);
    const wrote = state.commit();
    const versions = state.sessionVersions(SESSION_MAX_KEYS);
    const done: Extract<JobResult, { ok: true }> = { kind: 'done', ok: true, result, wrote, touched: [...state.touched], logs: state.logs, versions };
    const session = job.session ? state.finishSession() : undefined;
    if (session) done.session = session;
    return done;
  } catch (err) {
    state.discard();
    const failure = classify(err, inst, specSeen?.sourceMap);
    // A guest that trapped may have left its heap inconsistent: start it afresh next time.
    if (failure.code.startsWith('GUEST_')) instances.discard(job.module.id);
    return { kind: 'done', ok: false, ...failure, logs: state.logs };
  } finally {
    if (pins.length > 0 && inst && instances.get(job.module.id) === inst) {
      try {
        unpin();
      } catch {
        // The guest's own __unpin failed: the call's outcome stands, the instance does not.
        instances.discard(job.module.id);
      }
    }
  }
}

/**
 * Runs a step that moves a value through the guest's memory (its pointers, its allocator).
 * What fails there is the guest's doing, whatever the JS error: `GUEST_TRAP`, its message
 * prefixed with `what` (the export, and the argument). Traps, aborts and other
 * CloudburstErrors keep their own classification.
 */
function guestFault<T>(what: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof CloudburstError && err.code === 'GUEST_TRAP') throw new CloudburstError('GUEST_TRAP', `${what}: ${err.message}`);
    if (err instanceof CloudburstError || err instanceof GuestAbort || err instanceof WebAssembly.RuntimeError) throw err;
    throw new CloudburstError('GUEST_TRAP', `${what}: ${err instanceof Error ? err.message : String(err)}`);
  }
}

function runLoad(job: Extract<Job, { kind: 'load' }>): JobResult {
  try {
    instances.instantiate(instances.specOf(job.module));
    return { kind: 'done', ok: true, result: null, wrote: 0, touched: [], logs: [], versions: [] };
  } catch (err) {
    instances.delete(job.module.id);
    return { kind: 'done', ok: false, ...classify(err, undefined, 'sourceMap' in job.module ? job.module.sourceMap : undefined), logs: [] };
  }
}

const chainDeps = { runCall, specOf: (ref: ModuleRef) => instances.specOf(ref), keepWarm: (id: string) => instances.keepWarm(id) };

/**
 * Lets the event loop run: lmdb-js queues microtasks after commits, and timers need turns.
 * The loop may run lmdb-js callbacks, so the thread holds the gate meanwhile.
 */
async function yieldToLoop(): Promise<void> {
  enter();
  try {
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    leave();
  }
}

/** Park this long after a job before giving the event loop a turn (lmdb-js resets its read transaction there). */
const IDLE_PARK_MS = 20;
/**
 * The longest park of a worker that ran no job since its loop's last turn: nothing of ours is
 * waiting in that loop, and each turn of an idle worker costs CPU (a timed futex wake-up and a
 * loop iteration, ~0.2 ms on a 2-vCPU VM: 50 turns a second per idle worker before). The park
 * doubles from IDLE_PARK_MS up to this; a job wakes the worker at once whatever its park.
 */
const IDLE_PARK_MAX_MS = 1000;
/** How long a woken worker spins for the announced job before parking again. */
const WAKE_SPIN_MS = 0.3;
/** Give the event loop a turn at least every this many jobs, even when busy. */
const JOBS_PER_YIELD = 256;

async function serve(): Promise<never> {
  let sinceYield = 0;
  let parkMs = IDLE_PARK_MS;
  let ranSinceTurn = false;
  for (;;) {
    let current = Atomics.load(ctrl, STATE);
    if (current === WAKE) {
      // A job is on its way: spin for it rather than fall asleep again.
      const until = performance.now() + WAKE_SPIN_MS;
      while ((current = Atomics.load(ctrl, STATE)) === WAKE && performance.now() < until);
      if (current === WAKE) Atomics.compareExchange(ctrl, STATE, WAKE, IDLE);
      continue;
    }
    if (current !== JOB) {
      // Parking synchronously keeps the wake-up at a few microseconds; an idle worker still
      // returns to the event loop every IDLE_PARK_MS.
      Atomics.store(ctrl, PARKED, 1);
      const woke = Atomics.wait(ctrl, STATE, current, parkMs);
      Atomics.store(ctrl, PARKED, 0);
      if (woke === 'timed-out') {
        await yieldToLoop();
        sinceYield = 0;
        parkMs = ranSinceTurn ? IDLE_PARK_MS : Math.min(IDLE_PARK_MAX_MS, parkMs * 2);
        ranSinceTurn = false;
      }
      continue;
    }
    const job = receiveMessageOnPort(port)?.message as Job | undefined;
    if (job === undefined) {
      await yieldToLoop();
      continue;
    }
    enter();
    ranSinceTurn = true;
    parkMs = IDLE_PARK_MS;
    const before = instances.instanceBytes();
    const result = job.kind === 'call' ? runCall(job) : job.kind === 'chain' ? runChain(job, chainDeps) : runLoad(job);
    instances.keepWarm(job.module.id);
    if (instances.shouldRetire(!result.ok, instances.instanceBytes() > before)) result.retire = true;
    port.postMessage(result);
    // DONE before letting go of the gate: a main thread that closes the gate after this sees
    // that the job (its commit included) finished.
    Atomics.store(ctrl, STATE, DONE);
    leave();
    wakeMain(ctrl);
    if (++sinceYield >= JOBS_PER_YIELD) {
      await yieldToLoop();
      sinceYield = 0;
    }
  }
}

void serve();
