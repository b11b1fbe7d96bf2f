// A minimal reading of the guest ABI (guest/README.md), used to test the SDK and the types
// section from the guest's side: host imports over an in-memory map of lattice values, and
// argument lowering / result lifting driven by the "cloudburst.types" section, as asc's own
// glue does it. It is not the host (no LMDB, no workers, no limits); the host has its own
// tests against the same fixtures.

import { ENV_NAMESPACE, IMPORT_NAMESPACE, LOG_DEBUG, LOG_ERROR, MEMORY_IMPORT } from '../../guest/abi.ts';
import { readTypesSection, type GuestTypes, type ParamType, type ResultType } from '../../tools/build/index.ts';
import { readImports } from './wasm-imports.ts';

const STRING_ID = 2;
const ARRAY_BUFFER_ID = 1;
const I64_MIN = -(2n ** 63n);

type Value =
  | { type: 'lww'; bytes: Uint8Array | null }
  | { type: 'counter'; total: bigint }
  | { type: 'set'; members: Map<string, Uint8Array> }
  | { type: 'max'; value: bigint };

const CONSTRUCTORS: Partial<Record<ResultType, new (buffer: ArrayBuffer) => ArrayBufferView>> = {
  Uint8Array, Int8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array,
  Int64Array: BigInt64Array, Uint64Array: BigUint64Array, Float32Array, Float64Array,
};

interface Runtime {
  __new(size: number, id: number): number;
  __pin(ptr: number): number;
  __unpin(ptr: number): void;
  __collect(): void;
}

export class ReferenceGuest {
  readonly state = new Map<string, Value>();
  readonly logs: { level: number; message: string }[] = [];
  readonly traces: { message: string; values: number[] }[] = [];
  readonly types: GuestTypes;
  #memory: WebAssembly.Memory;
  #exports: WebAssembly.Exports & Runtime;
  #staged: Uint8Array | undefined;
  #clock: () => number;

  private constructor(wasm: Uint8Array<ArrayBuffer>, clock: () => number) {
    this.#clock = clock;
    const module = new WebAssembly.Module(wasm);
    const types = readTypesSection(module);
    if (!types) throw new Error('module has no types section');
    this.types = types;
    const memoryImport = readImports(wasm).find(i => i.kind === 'memory');
    this.#memory = new WebAssembly.Memory({ initial: memoryImport?.kind === 'memory' ? memoryImport.minimum : 1 });
    const instance = new WebAssembly.Instance(module, {
      [IMPORT_NAMESPACE]: this.#hostFunctions(),
      [ENV_NAMESPACE]: {
        [MEMORY_IMPORT]: this.#memory,
        abort: (msg: number, file: number, line: number, column: number) => {
          throw new Error(`abort: ${this.#liftString(msg)} at ${this.#liftString(file)}:${line}:${column}`);
        },
        seed: () => 42,
        trace: (msg: number, n: number, ...values: number[]) => {
          this.traces.push({ message: this.#liftString(msg), values: values.slice(0, n) });
        },
      },
    });
    this.#exports = instance.exports as WebAssembly.Exports & Runtime;
  }

  static load(wasm: Uint8Array<ArrayBuffer>, clock: () => number = Date.now): ReferenceGuest {
    return new ReferenceGuest(wasm, clock);
  }

  /** Calls an export with JS values: numbers, bigints, booleans, strings, typed arrays. */
  call(name: string, ...args: unknown[]): unknown {
    const signature = this.types.exports.find(e => e.name === name);
    if (!signature) throw new Error(`${name} is not a typed export`);
    if (args.length !== signature.params.length) throw new Error(`${name} takes ${signature.params.length} arguments`);
    const pinned: number[] = [];
    try {
      const lowered = signature.params.map(({ type }, i) => this.#lower(type, args[i], pinned));
      const fn = this.#exports[name] as (...a: unknown[]) => unknown;
      return this.#lift(signature.result, fn(...lowered));
    } finally {
      for (const ptr of pinned) this.#exports.__unpin(ptr);
    }
  }

  #view(): DataView {
    return new DataView(this.#memory.buffer); // re-derived: memory may have grown
  }

  #bytes(ptr: number, length: number): Uint8Array {
    return new Uint8Array(this.#memory.buffer, ptr, length).slice();
  }

  #utf8(ptr: number, length: number): string {
    return new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array(this.#memory.buffer, ptr, length));
  }

  #lower(type: ParamType, value: unknown, pinned: number[]): number | bigint {
    switch (type) {
      case 'i64': case 'u64': return BigInt(value as bigint);
      case 'bool': return value ? 1 : 0;
      case 'string': {
        const s = String(value);
        const ptr = this.#exports.__pin(this.#exports.__new(s.length * 2, STRING_ID));
        pinned.push(ptr);
        const view = this.#view();
        for (let i = 0; i < s.length; i++) view.setUint16(ptr + 2 * i, s.charCodeAt(i), true);
        return ptr;
      }
      default: {
        const ctor = CONSTRUCTORS[type];
        if (!ctor) return Number(value);
        const id = this.types.classIds[type as keyof GuestTypes['classIds']];
        if (id === undefined) throw new Error(`no class id for ${type}`);
        const source = value as ArrayBufferView;
        const buffer = this.#exports.__pin(this.#exports.__new(source.byteLength, ARRAY_BUFFER_ID));
        pinned.push(buffer);
        const header = this.#exports.__pin(this.#exports.__new(12, id));
        pinned.push(header);
        const view = this.#view();
        view.setUint32(header, buffer, true); // buffer
        view.setUint32(header + 4, buffer, true); // dataStart
        view.setUint32(header + 8, source.byteLength, true); // byteLength
        new Uint8Array(this.#memory.buffer, buffer, source.byteLength).set(new Uint8Array(source.buffer, source.byteOffset, source.byteLength));
        return header;
      }
    }
  }

  #lift(type: ResultType, raw: unknown): unknown {
    switch (type) {
      case 'void': return undefined;
      case 'bool': return raw !== 0;
      case 'u32': return (raw as number) >>> 0;
      case 'u64': return BigInt.asUintN(64, raw as bigint);
      case 'string': return this.#liftString(raw as number);
      default: {
        const ctor = CONSTRUCTORS[type];
        if (!ctor) return raw;
        const view = this.#view();
        const ptr = raw as number;
        const dataStart = view.getUint32(ptr + 4, true);
        const byteLength = view.getUint32(ptr + 8, true);
        return new ctor(this.#memory.buffer.slice(dataStart, dataStart + byteLength));
      }
    }
  }

  #liftString(ptr: number): string {
    if (ptr === 0) return '<null>';
    const view = this.#view();
    const length = view.getUint32(ptr - 4, true) >>> 1; // rtSize, in bytes
    let s = '';
    for (let i = 0; i < length; i++) s += String.fromCharCode(view.getUint16(ptr + 2 * i, true));
    return s;
  }

  #entry<T extends Value['type']>(key: string, type: T, empty: () => Extract<Value, { type: T }>): Extract<Value, { type: T }> {
    let entry = this.state.get(key);
    if (entry === undefined) this.state.set(key, (entry = empty()));
    if (entry.type !== type) throw new Error(`key ${key} holds a ${entry.type}, not a ${type}`);
    return entry as Extract<Value, { type: T }>;
  }

  #stage(bytes: Uint8Array | undefined): number {
    this.#staged = bytes;
    return bytes === undefined ? -1 : bytes.length;
  }

  #hostFunctions(): Record<string, (...args: never[]) => unknown> {
    const key = (ptr: number, length: number): string => this.#utf8(ptr, length);
    const lww = (k: string, bytes: Uint8Array | null): void => {
      this.#entry(k, 'lww', () => ({ type: 'lww', bytes: null })).bytes = bytes;
    };
    return {
      get: (kp: number, kl: number) => {
        const entry = this.state.get(key(kp, kl));
        if (entry !== undefined && entry.type !== 'lww') throw new Error(`get on a ${entry.type}`);
        return this.#stage(entry?.bytes ?? undefined);
      },
      take: (dst: number) => {
        if (this.#staged === undefined) throw new Error('take without staged data');
        new Uint8Array(this.#memory.buffer).set(this.#staged, dst);
        this.#staged = undefined;
      },
      put: (kp: number, kl: number, vp: number, vl: number) => lww(key(kp, kl), this.#bytes(vp, vl)),
      put_durable: (kp: number, kl: number, vp: number, vl: number) => lww(key(kp, kl), this.#bytes(vp, vl)),
      del: (kp: number, kl: number) => lww(key(kp, kl), null),
      counter_add: (kp: number, kl: number, by: bigint) => {
        const entry = this.#entry(key(kp, kl), 'counter', () => ({ type: 'counter', total: 0n }));
        entry.total = BigInt.asIntN(64, entry.total + by);
        return entry.total;
      },
      counter_get: (kp: number, kl: number) => {
        const entry = this.state.get(key(kp, kl));
        return entry?.type === 'counter' ? entry.total : 0n;
      },
      set_add: (kp: number, kl: number, mp: number, ml: number) => {
        const { members } = this.#entry(key(kp, kl), 'set', () => ({ type: 'set', members: new Map() }));
        const member = this.#bytes(mp, ml);
        const id = Buffer.from(member).toString('hex');
        if (members.has(id)) return 0;
        members.set(id, member);
        return 1;
      },
      set_has: (kp: number, kl: number, mp: number, ml: number) => {
        const entry = this.state.get(key(kp, kl));
        return entry?.type === 'set' && entry.members.has(Buffer.from(this.#bytes(mp, ml)).toString('hex')) ? 1 : 0;
      },
      set_members: (kp: number, kl: number) => {
        const entry = this.state.get(key(kp, kl));
        if (entry === undefined) return this.#stage(undefined);
        if (entry.type !== 'set') throw new Error(`set_members on a ${entry.type}`);
        const members = [...entry.members.values()];
        const out = new Uint8Array(4 + members.reduce((n, m) => n + 4 + m.length, 0));
        const view = new DataView(out.buffer);
        view.setUint32(0, members.length, true);
        let offset = 4;
        for (const m of members) {
          view.setUint32(offset, m.length, true);
          out.set(m, offset + 4);
          offset += 4 + m.length;
        }
        return this.#stage(out);
      },
      max_put: (kp: number, kl: number, v: bigint) => {
        const entry = this.#entry(key(kp, kl), 'max', () => ({ type: 'max', value: I64_MIN }));
        if (v > entry.value) entry.value = v;
        return entry.value;
      },
      max_get: (kp: number, kl: number) => {
        const entry = this.state.get(key(kp, kl));
        return entry?.type === 'max' ? entry.value : I64_MIN;
      },
      log: (level: number, p: number, l: number) => {
        if (level < LOG_DEBUG || level > LOG_ERROR) throw new Error(`bad log level ${level}`);
        this.logs.push({ level, message: this.#utf8(p, l) });
      },
      now: () => this.#clock(),
    };
  }
}
