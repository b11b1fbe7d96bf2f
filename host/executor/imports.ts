import { randomBytes } from 'node:crypto';
import { ABSENT, IMPORT_NAMESPACE } from '../../guest/abi.ts';
import { CloudburstError } from '../../kvs/index.ts';
import { guestKeyName } from '../keys.ts';
import { liftString } from './abi.ts';
import type { GuestState } from './guest-state.ts';

/** Thrown by `env.abort`: the guest gave up (failed assertion, thrown error). */
export class GuestAbort extends Error {
  override readonly name = 'GuestAbort';
}

const I64_MIN = -(1n << 63n);
const utf8 = new TextDecoder('utf-8');

/**
 * Builds the import object of one guest instance. Every host function is a thin synchronous
 * trampoline `(ptr, len, ...) -> value`: it copies what it needs out of linear memory, asks
 * the call's GuestState, and copies results back through the staged buffer (`take`). Errors
 * are thrown, which unwinds the guest and fails the call with the error's code.
 *
 * The object and its namespaces have null prototypes: a guest can import exactly these
 * names and nothing inherited from Object.prototype.
 */
export function hostImports(memory: WebAssembly.Memory, state: () => GuestState, userPrefix: string): WebAssembly.Imports {
  const bytes = (ptr: number, len: number): Uint8Array => {
    if (len < 0) throw new CloudburstError('INVALID_ARGUMENTS', 'negative length passed to a host function');
    // A copy: the guest may overwrite or grow its memory after the call.
    return new Uint8Array(memory.buffer, ptr >>> 0, len).slice();
  };
  // The key rule of the HTTP API too (keys.ts): what a guest writes, /v1/kv can address.
  const key = (ptr: number, len: number): string => userPrefix + guestKeyName(memory.buffer, ptr, len);
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
    get: (kp: number, kl: number): number => stage(state().getBytes(key(kp, kl))),
    get_all: (kp: number, kl: number): number => stageList(state().getAllBytes(key(kp, kl))),
    take: (dst: number): void => {
      const s = state();
      if (s.staged === undefined) throw new CloudburstError('INVALID_ARGUMENTS', 'take() without a staged value');
      new Uint8Array(memory.buffer, dst >>> 0, s.staged.byteLength).set(s.staged);
      s.staged = undefined;
    },
    put: (kp: number, kl: number, vp: number, vl: number): void => state().put(key(kp, kl), bytes(vp, vl)),
    put_durable: (kp: number, kl: number, vp: number, vl: number): void => state().putDurable(key(kp, kl), bytes(vp, vl)),
    del: (kp: number, kl: number): void => state().del(key(kp, kl)),
    counter_add: (kp: number, kl: number, by: bigint): bigint => BigInt.asIntN(64, state().counterAdd(key(kp, kl), by)),
    counter_get: (kp: number, kl: number): bigint => BigInt.asIntN(64, state().counterGet(key(kp, kl))),
    set_add: (kp: number, kl: number, mp: number, ml: number): number => (state().setAdd(key(kp, kl), bytes(mp, ml)) ? 1 : 0),
    set_has: (kp: number, kl: number, mp: number, ml: number): number => (state().setHas(key(kp, kl), bytes(mp, ml)) ? 1 : 0),
    set_members: (kp: number, kl: number): number => stageList(state().setMembers(key(kp, kl))),
    max_put: (kp: number, kl: number, v: bigint): bigint => state().maxPut(key(kp, kl), v),
    max_get: (kp: number, kl: number): bigint => state().maxGet(key(kp, kl)) ?? I64_MIN,
    log: (level: number, p: number, l: number): void => state().log(level, utf8.decode(bytes(p, l))),
    now: (): number => Date.now(),
    id: (): number => stage(new TextEncoder().encode(state().callId)),
    send: (tp: number, tl: number, mp: number, ml: number): void => {
      if (tl <= 0 || tl > 128) throw new CloudburstError('INVALID_ARGUMENTS', `a function id is 1 to 128 bytes, not ${tl}`);
      state().send(utf8.decode(new Uint8Array(memory.buffer, tp >>> 0, tl)), bytes(mp, ml));
    },
    recv: (timeoutMs: number): number => {
      const msg = state().recv(Math.max(0, timeoutMs | 0));
      return stage(msg ?? undefined);
    },
  });

  const env = Object.assign(Object.create(null) as Record<string, unknown>, {
    memory,
    abort: (msg: number, file: number, line: number, col: number): never => {
      const text = msg === 0 ? 'abort' : liftString(memory, msg >>> 0);
      const where = file === 0 ? '' : ` at ${liftString(memory, file >>> 0)}:${line >>> 0}:${col >>> 0}`;
      throw new GuestAbort(`${text}${where}`);
    },
    // Math.random's seed.
    seed: (): number => randomBytes(4).readUInt32LE(0) * 2 ** 20 + Math.floor(Math.random() * 2 ** 20),
    trace: (msg: number, n: number, ...args: number[]): void => {
      state().log(0, `trace: ${liftString(memory, msg >>> 0)} ${args.slice(0, n).join(', ')}`);
    },
  });

  return Object.assign(Object.create(null) as WebAssembly.Imports, { [IMPORT_NAMESPACE]: cloudburst, env });
}

/** The names a module may import, by namespace (what upload validation allows). */
export function allowedImports(): Map<string, Set<string>> {
  const probe = hostImports(new WebAssembly.Memory({ initial: 0 }), () => {
    throw new Error('probe');
  }, '');
  const out = new Map<string, Set<string>>();
  for (const [ns, fns] of Object.entries(probe)) out.set(ns, new Set(Object.keys(fns as object)));
  return out;
}
