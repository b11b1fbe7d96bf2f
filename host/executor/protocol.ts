import type { MessagePort } from 'node:worker_threads';
import type { ErrorCode } from '../../common/index.ts';
import type { CausalNeed, ReadVersion, SessionResult, SessionSpec } from '../consistency/call-session.ts';
import type { KeyVersion } from '../consistency/client-session.ts';
import type { ModuleTypes } from '../module-types.ts';
import type { SourceMapIndex } from '../source-map.ts';
import type { ChainJob } from './chain-protocol.ts';

/**
 * The channel between the host's main thread and one executor worker.
 *
 * Messages travel over a MessagePort that neither side listens on: both read it with the
 * synchronous `receiveMessageOnPort`, and a shared Int32Array says when there is something
 * to read. That keeps the hot path free of event-loop hops: a warm call costs a few
 * microseconds of dispatch instead of the ~50 us of a postMessage round trip.
 *
 * ctrl[STATE] moves IDLE -> JOB (main posted a job) -> DONE (worker posted the result),
 * or JOB -> BRIDGE (worker posted a request and waits on ctrl[REPLY]) -> JOB (main took it).
 * IDLE -> WAKE says "a job is coming": the worker gets up and spins briefly, so that waking a
 * sleeping thread (tens of microseconds on a VM) overlaps the main thread's request parsing.
 */
export const STATE = 0;
export const REPLY = 1;
/** 1 while the worker sleeps in Atomics.wait on STATE. */
export const PARKED = 2;
/** 1 while the main thread waits (Atomics.waitAsync) on STATE. */
export const WATCHING = 3;
/**
 * Who may run host code on the worker thread: the gate that makes terminating a worker safe.
 *
 * A worker thread may be terminated only while it runs guest code or sleeps, never while it
 * is inside lmdb-js: a thread terminated inside a write transaction leaves LMDB's write lock
 * held by a thread that deadlocks in its own cleanup (lmdb-js `cleanupStrayTxns` locks a
 * mutex its commit already holds), and every later transaction of the process waits forever;
 * one terminated inside a read, or while opening the environment, makes lmdb-js throw into a
 * dying isolate and the process aborts (FATAL ERROR in napi_throw). So the worker holds the
 * gate (GATE_HOST) whenever it runs host code, which is the only code that touches LMDB, and
 * lets go of it (GATE_FREE) only around guest code (the export, the start function, the
 * runtime's `__new`/`__pin`/`__unpin`), bridge waits and parking.
 *
 * The main thread stops a worker by closing the gate: GATE_FREE -> GATE_CLAIMED (a
 * compare-exchange) when the worker is outside host code; GATE_HOST -> GATE_CLOSING when it
 * is inside, and then the worker, on its way out of host code, hands the gate over
 * (GATE_CLOSING -> GATE_CLAIMED, with a notify) instead of opening it. Once the main thread
 * holds the gate, the worker blocks at its next entry into host code, and terminating it is
 * safe. Host work is bounded (a commit by the call's writes, see MAX_CALL_WRITE_BYTES), a guest
 * loop is not: so a deadline waits for the first, never for the second.
 *
 * A worker starts holding the gate (it opens the cache first) and lets go once it is ready.
 * It stores DONE before it lets go after a job: a main thread that got the gate and then sees
 * DONE knows the job finished, commit included, and opens the gate again.
 */
export const GATE = 4;
export const GATE_FREE = 0;
export const GATE_HOST = 1;
export const GATE_CLAIMED = 2;
export const GATE_CLOSING = 3;
/**
 * 0 while the worker starts (loads its code, opens the cache), 1 once it can take jobs: the
 * pool gives a starting worker no job, and learns that a start failed from the thread's exit.
 */
export const READY = 5;
export const CTRL_WORDS = 6;

/*
 * A futex wake is a system call, and an expensive one on a VM: each side wakes the other
 * only when it is really asleep (PARKED, WATCHING). The sleeper sets its flag before it
 * waits, and Atomics.wait checks STATE atomically, so no wake-up is ever lost: either the
 * waker sees the flag, or the sleeper sees the new STATE and does not sleep.
 */
export function wakeWorker(ctrl: Int32Array): void {
  if (Atomics.load(ctrl, PARKED) === 1) Atomics.notify(ctrl, STATE);
}

export function wakeMain(ctrl: Int32Array): void {
  if (Atomics.load(ctrl, WATCHING) === 1) Atomics.notify(ctrl, STATE);
}

export const IDLE = 0;
export const JOB = 1;
export const DONE = 2;
export const BRIDGE = 3;
export const WAKE = 4;

/** What the worker needs to open the cache and stamp its writes. */
export interface WorkerInit {
  cachePath: string;
  /** Stable writer id of this worker slot, e.g. `h-1a2b3c/w0`: counters keep one entry per writer. */
  writer: string;
  ctrl: SharedArrayBuffer;
  port: MessagePort;
  /**
   * The worker's memory budget in bytes (V8 heap and external memory, guests' linear memories
   * included): past it after a job, the worker asks to be replaced (JobResult `retire`).
   */
  memoryBudget: number;
  /** The worker's value memo (value-memo.ts), checked against the host's version table; absent: no memo. */
  valueMemo?: ValueMemoInit;
}

/** What a worker's value memo needs: the main thread's version table (HostCache.versions.buffer) and its bound in bytes. */
export interface ValueMemoInit {
  versions: SharedArrayBuffer;
  maxBytes: number;
}

/** An argument as the main thread prepared it: a plain value, or a key the worker reads from the cache. */
export type PreparedArg =
  | { kind: 'value'; value: number | bigint | boolean | string | ArrayBufferView }
  | { kind: 'ref'; key: string };

export interface ModuleSpec {
  /**
   * Who the module is in a worker, `{tenant}/{sha256}`: its instance (and so the guest's
   * globals, which outlive a call) is per tenant, even when two tenants upload the same bytes.
   */
  id: string;
  module: WebAssembly.Module;
  types: ModuleTypes;
  memoryInitialPages: number;
  memoryMaxPages: number;
  /** The module's source map (SOURCE_MAP_SECTION), decoded: absent when it has none (traps then report offsets only). */
  sourceMap?: SourceMapIndex;
}

/**
 * A module as a job names it: the whole spec the first time a worker sees the module (a
 * compiled module crosses threads by reference to its code), then only its id.
 */
export type ModuleRef = ModuleSpec | { id: string };

export interface CallJob {
  kind: 'call';
  /** The tenant the call runs in: every key the guest names is this tenant's (`{tenant}/k/...`). */
  tenant: string;
  module: ModuleRef;
  exportName: string;
  args: PreparedArg[];
  /** The call's id (`{hostId}.{seq}`), for `id()` and messaging. */
  callId: string;
  /** Present only for rr and causal requests and recorded histories: lww calls without history pay nothing. */
  session?: SessionSpec;
  /** The calling tenant's quotas that the worker enforces (host/quotas/); absent, none. */
  quota?: JobQuota;
}

/** What of a tenant's quotas a call's worker enforces. */
export interface JobQuota {
  tenant: string;
  /** The tenant's `stateBytes`: a commit that would take its state past this is refused (host/quotas/state-ledger.ts). */
  stateBytes: number;
  /** The most pages of linear memory the call's instance gets (the tenant's `guestMemoryMiB`, within the module's own maximum). */
  memoryMaxPages: number;
}

export interface LoadJob {
  kind: 'load';
  tenant: string;
  module: ModuleRef;
}

/** A chain job (several DAG steps in one job) is chain-protocol.ts's. */
export type Job = CallJob | LoadJob | ChainJob;

export interface GuestLog {
  level: number;
  message: string;
  /** When the guest logged it (ms since the epoch, the worker's clock); absent in lines made by the host. */
  time?: number;
}

export type JobResult = (
  | {
    kind: 'done'; ok: true; result: unknown; wrote: number; touched: string[]; logs: GuestLog[]; session?: SessionResult;
    /** What a client session learns from the call: versions of the user keys it wrote and read, most recent first. */
    versions: [string, KeyVersion][];
  }
  | { kind: 'done'; ok: false; code: ErrorCode; message: string; logs: GuestLog[]; details?: Record<string, unknown> }
) & {
  /**
   * The worker holds memory it cannot give back (over its budget, or a discarded instance's
   * large linear memory that only a GC of its isolate would free): replace it after this job.
   */
  retire?: true;
};

export type BridgeRequest =
  /** Read misses: fetch these keys from the KV tier into the cache. */
  | { kind: 'bridge'; op: 'fetch'; keys: string[] }
  /** Durable puts: the keys are committed in the cache; wait until the KV tier acknowledges them. */
  | { kind: 'bridge'; op: 'flush'; keys: string[] }
  /** A message from the running call `from` to the function `to`. */
  | { kind: 'bridge'; op: 'send'; from: string; to: string; data: Uint8Array }
  /** The next message for the running call `id`, waiting up to `timeoutMs` (capped by the call's deadline). */
  | { kind: 'bridge'; op: 'recv'; id: string; timeoutMs: number }
  /** The exact version `at.version` of `key` that request `rid` read first, from the snapshot `at.host` keeps. */
  | { kind: 'bridge'; op: 'snapshot'; rid: string; key: string; at: ReadVersion }
  /** Causal: make this host's cache hold a version of `key` that has every one of `need.deps` in its past. */
  | { kind: 'bridge'; op: 'ensure'; key: string; need: CausalNeed }
  /** rr with parallel branches: propose `version` of `key` as request `rid`'s; the reply's `at` is the request's. */
  | { kind: 'bridge'; op: 'pin'; rid: string; key: string; version: string; bytes: Uint8Array | null };

/** `data` answers a `recv`: the message, or null when none came in time. */
export type BridgeReply = { ok: true; data?: Uint8Array | null; at?: ReadVersion } | { ok: false; code: ErrorCode; message: string };
