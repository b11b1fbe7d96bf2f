import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { ABSENT, IMPORT_NAMESPACE } from '../../guest/abi.ts';
import { CloudburstError } from '../../common/index.ts';
import { KV_LIMITS } from '../../kvs/index.ts';
import { guestKey } from '../keys.ts';
import { guestView, liftString } from './abi.ts';
import { CopyArena } from './copy-arena.ts';
import { consoleImports } from './env-console.ts';
import { KeyReader } from './key-reader.ts';
import type { GuestState } from './guest-state.ts';

/**
 * Thrown by `env.abort`: the guest gave up (failed assertion, thrown error). Its message is
 * asc's (`Index out of range at ~lib/array.ts:114:42`: the position asc passes is often the
 * standard library's); `text` is the message alone, and its `stack`, taken in the import,
 * holds the guest's wasm frames, which the worker maps to the user's line (guest-stack.ts).
 */
export class GuestAbort extends Error {
  override readonly name = 'GuestAbort';
  readonly text: string;

  constructor(text: string, where: string) {
    super(`${text}${where}`);
    this.text = text;
  }
}

const I64_MIN = -(1n << 63n);

/**
 * Host functions that never touch LMDB, so they need not take the worker's gate (worker-gate.ts):
 * `take` copies staged bytes into the guest, `now` reads the clock. Two gate crossings fewer
 * per `get` (its `take`), a read's hottest path.
 */
export const LMDB_FREE_IMPORTS: ReadonlySet<string> = new Set(['take', 'now']);
const utf8 = new TextDecoder('utf-8');

/**
 * Builds the import object of one guest instance. Every host function is a thin synchronous
 * trampoline `(ptr, len, ...) -> value`: it copies what it needs out of linear memory, asks
 * the call's GuestState, and copies results back through the staged buffer (`take`). Errors
 * are thrown, which unwinds the guest and fails the call with the error's code.
 *
 * While `starting()` (the instance is being created and runs the module's start function,
 * before any call has begun), only `log`, `now` and the `env` helpers work (START_FUNCTIONS
 * in guest/abi.ts); the others throw. Upload's trial instantiation must not change state,
 * and a call's overlay must hold only what the called export wrote.
 *
 * The object and its namespaces have null prototypes: a guest can import exactly these
 * names and nothing inherited from Object.prototype. Their signatures are those of
 * HOST_FUNCTIONS and ENV_FUNCTIONS in guest/abi.ts, which upload enforces
 * (host/module-abi.ts): every argument arrives as the type written here.
 */
export function hostImports(memory: WebAssembly.Memory, state: () => GuestState, starting: () => boolean): WebAssembly.Imports {
  /** The call's state, for an import that may not run in a start function. */
  const live = (name: string): GuestState => {
    if (starting()) {
      throw new CloudburstError('GUEST_TRAP', `${IMPORT_NAMESPACE}.${name} was called by the module's start function (its top-level code): state and messaging are only available inside exported functions`);
    }
    return state();
  };
  const bytes = (ptr: number, len: number): Uint8Array => {
    if (len < 0) throw new CloudburstError('INVALID_ARGUMENTS', 'negative length passed to a host function');
    // A copy: the guest may overwrite or grow its memory after the call.
    return guestView(memory, ptr >>> 0, len, 'a value passed to a host function').slice();
  };
  // A register's value: refused before it is copied when it could never be stored; small
  // ones are copied into shared chunks (copy-arena.ts), as a call's puts pass many.
  const arena = new CopyArena();
  const value = (ptr: number, len: number): Uint8Array => {
    if (len > KV_LIMITS.maxRegisterBytes) {
      throw new CloudburstError('KV_VALUE_TOO_LARGE', `a value of ${len} bytes is over the limit of ${KV_LIMITS.maxRegisterBytes} bytes for one key`);
    }
    if (len < 0) throw new CloudburstError('INVALID_ARGUMENTS', 'negative length passed to a host function');
    return arena.copy(guestView(memory, ptr >>> 0, len, 'a value passed to a host function'));
  };
  // The key rule of the HTTP API too (keys.ts): what a guest writes, /v1/kv can address. The
  // call's tenant prefix goes in front of every key, so whatever bytes the guest passes
  // (`../x`, `other/k/x`) name a key of its own tenant.
  //
  // `mem` is a view of the guest's whole memory, made again only after the memory grew (a
  // grow detaches the old buffer: the view's length drops to 0); a key in range is read
  // through it (key-reader.ts), anything else takes guestKey's path and its errors.
  const keys = new KeyReader();
  let mem = Buffer.from(memory.buffer);
  const whole = (): Buffer => (mem.length !== 0 ? mem : (mem = Buffer.from(memory.buffer)));
  const key = (ptr: number, len: number): string => {
    const at = ptr >>> 0;
    const m = whole();
    if (len > 0 && at + len <= m.length) return keys.read(m, at, len, state().userPrefix);
    return state().userPrefix + guestKey(len, () => guestView(memory, at, len, 'a key passed to a host function'));
  };
  const stage = (data: Uint8Array | undefined): number => {
    state().staged = data;
    return data === undefined ? ABSENT : data.byteLength;
  };
  // A list of byte strings: u32 count, then per item u32 length + bytes (little-endian).
  const stageList = (items: readonly Uint8Array[] | undefined): number => {
    if (items === undefined) return stage(undefined);
    let size = 4;
    for (const m of items) size += 4 + m.byteLength;
    const out = new Uint8Array(size);
    const view = new DataView(out.buffer);
    view.setUint32(0, items.length, true);
    let at = 4;
    for (const m of items) {
      view.setUint32(at, m.byteLength, true);
      out.set(m, at + 4);
      at += 4 + m.byteLength;
    }
    return stage(out);
  };

  const cloudburst = Object.assign(Object.create(null) as Record<string, unknown>, {
    get: (kp: number, kl: number): number => stage(live('get').getStaged(key(kp, kl))),
    get_all: (kp: number, kl: number): number => stageList(live('get_all').getAllBytes(key(kp, kl))),
    take: (dst: number): void => {
      const s = live('take');
      if (s.staged === undefined) throw new CloudburstError('INVALID_ARGUMENTS', 'take() without a staged value');
      const at = dst >>> 0;
      const m = whole();
      // Into the view of the whole memory, no view of its own; out of range is guestView's GUEST_TRAP.
      if (at + s.staged.byteLength <= m.length) m.set(s.staged, at);
      else guestView(memory, at, s.staged.byteLength, 'the destination of take').set(s.staged);
      s.staged = undefined;
    },
    put: (kp: number, kl: number, vp: number, vl: number): void => live('put').put(key(kp, kl), value(vp, vl)),
    put_durable: (kp: number, kl: number, vp: number, vl: number): void => live('put_durable').putDurable(key(kp, kl), value(vp, vl)),
    del: (kp: number, kl: number): void => live('del').del(key(kp, kl)),
    counter_add: (kp: number, kl: number, by: bigint): bigint => BigInt.asIntN(64, live('counter_add').counterAdd(key(kp, kl), by)),
    counter_get: (kp: number, kl: number): bigint => BigInt.asIntN(64, live('counter_get').counterGet(key(kp, kl))),
    set_add: (kp: number, kl: number, mp: number, ml: number): number => (live('set_add').setAdd(key(kp, kl), bytes(mp, ml)) ? 1 : 0),
    set_has: (kp: number, kl: number, mp: number, ml: number): number => (live('set_has').setHas(key(kp, kl), bytes(mp, ml)) ? 1 : 0),
    set_members: (kp: number, kl: number): number => stageList(live('set_members').setMembers(key(kp, kl))),
    max_put: (kp: number, kl: number, v: bigint): bigint => live('max_put').maxPut(key(kp, kl), v),
    max_get: (kp: number, kl: number): bigint => live('max_get').maxGet(key(kp, kl)) ?? I64_MIN,
    log: (level: number, p: number, l: number): void => state().log(level, utf8.decode(bytes(p, l))),
    now: (): number => Date.now(),
    id: (): number => stage(new TextEncoder().encode(live('id').callId)),
    send: (tp: number, tl: number, mp: number, ml: number): void => {
      const s = live('send');
      if (tl <= 0 || tl > 128) throw new CloudburstError('INVALID_ARGUMENTS', `a function id is 1 to 128 bytes, not ${tl}`);
      s.send(utf8.decode(guestView(memory, tp >>> 0, tl, 'a function id passed to send')), bytes(mp, ml));
    },
    recv: (timeoutMs: number): number => {
      const msg = live('recv').recv(Math.max(0, timeoutMs | 0));
      return stage(msg ?? undefined);
    },
  });

  const env = Object.assign(Object.create(null) as Record<string, unknown>, consoleImports(memory, (level, message) => state().log(level, message)), {
    memory,
    abort: (msg: number, file: number, line: number, col: number): never => {
      const text = msg === 0 ? 'abort' : liftString(memory, msg >>> 0, 'the message passed to abort');
      const where = file === 0 ? '' : ` at ${liftString(memory, file >>> 0, 'the file name passed to abort')}:${line >>> 0}:${col >>> 0}`;
      throw new GuestAbort(text, where);
    },
    // Math.random's seed.
    seed: (): number => randomBytes(4).readUInt32LE(0) * 2 ** 20 + Math.floor(Math.random() * 2 ** 20),
    trace: (msg: number, n: number, a0: number, a1: number, a2: number, a3: number, a4: number): void => {
      state().log(0, `trace: ${liftString(memory, msg >>> 0, 'the message passed to trace')} ${[a0, a1, a2, a3, a4].slice(0, Math.max(0, n)).join(', ')}`);
    },
  });

  return Object.assign(Object.create(null) as WebAssembly.Imports, { [IMPORT_NAMESPACE]: cloudburst, env });
}

/** The names a module may import, by namespace (what upload validation allows). */
export function allowedImports(): Map<string, Set<string>> {
  const probe = hostImports(new WebAssembly.Memory({ initial: 0 }), () => {
    throw new Error('probe');
  }, () => false);
  const out = new Map<string, Set<string>>();
  for (const [ns, fns] of Object.entries(probe)) out.set(ns, new Set(Object.keys(fns as object)));
  return out;
}
