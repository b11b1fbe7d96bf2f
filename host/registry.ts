import { createHash } from 'node:crypto';
import { CloudburstError } from '../common/index.ts';
import { gset, lww, type Hlc, type Lattice } from '../kvs/index.ts';
import type { ExecutorPool } from './executor/pool.ts';
import type { ModuleSpec } from './executor/protocol.ts';
import { SPACES, checkModuleName, storageKey } from './keys.ts';
import { checkExports, checkImports, memoryImport, type MemoryImport } from './module-abi.ts';
import type { ExportSignature } from '../guest/types-section.ts';
import { readModuleTypes, type ModuleTypes } from './module-types.ts';
import type { ReadThroughCache } from './cache/read-through.ts';
import { moduleSourceMap } from './module-source-map.ts';
import type { SourceMapIndex } from './source-map.ts';
import { readWasm } from './wasm-binary.ts';

export interface RegistryLimits {
  /** Largest module accepted, in bytes. */
  maxModuleBytes: number;
  /** The maximum every guest's memory gets, in 64 KiB pages. */
  memoryMaxPages: number;
  /** Deadline of the trial instantiation at upload (runs the module's start function). */
  instantiateTimeoutMs: number;
}

/** What the registry stores per module (JSON, in an LWW register in the KV tier). */
export interface ModuleRecord {
  name: string;
  sha256: string;
  size: number;
  deployedAt: string;
  memoryInitialPages: number;
  types: ModuleTypes;
}

export interface FunctionInfo {
  name: string;
  module: string;
  export: string;
  params: ExportSignature['params'];
  result: ExportSignature['result'];
}

/** The module a deploy replaced (the deploy's answer, `replaced`): its bytes' hash, when it was deployed, its functions. */
export interface ReplacedModule {
  sha256: string;
  deployedAt: string;
  functions: FunctionInfo[];
}

export interface ResolvedFunction {
  info: FunctionInfo;
  signature: ExportSignature;
  spec: ModuleSpec;
}

interface Loaded {
  record: ModuleRecord;
  spec: ModuleSpec;
}

/** A module compiled on this host, with what the upload checks read from its binary. */
interface Compiled {
  module: WebAssembly.Module;
  memory: MemoryImport;
  types: ModuleTypes;
  sourceMap: SourceMapIndex | undefined;
}

/** The set of a tenant's module names. */
const modulesSet = (tenant: string): string => storageKey(tenant, SPACES.system, 'modules');

export function functionInfo(record: ModuleRecord, sig: ExportSignature): FunctionInfo {
  return { name: `${record.name}.${sig.name}`, module: record.name, export: sig.name, params: sig.params, result: sig.result };
}

/**
 * The module registry: validates uploads, stores them in the KV tier (bytes content-addressed
 * by sha256, a record per module name, and the set of module names), and keeps each
 * module compiled once in memory. Any host can load any module from the tier.
 *
 * Everything is per tenant: records, bytes and the list live under the tenant's prefix, and
 * the in-memory caches are keyed by tenant too, so that the same name (or the same bytes) in
 * two tenants is two modules, with their own instances in the workers (`ModuleSpec.id`).
 */
export class Registry {
  readonly #readThrough: ReadThroughCache;
  readonly #hlc: Hlc;
  readonly #pool: ExecutorPool;
  readonly #limits: RegistryLimits;
  /** Compiled (and checked) modules by `{tenant}/{sha256}`: once per host and tenant. */
  readonly #compiled = new Map<string, Compiled>();
  /** Loaded modules by `{tenant}/{name}`. */
  readonly #loaded = new Map<string, Loaded>();

  constructor(readThrough: ReadThroughCache, hlc: Hlc, pool: ExecutorPool, limits: RegistryLimits) {
    this.#readThrough = readThrough;
    this.#hlc = hlc;
    this.#pool = pool;
    this.#limits = limits;
  }

  get limits(): RegistryLimits {
    return this.#limits;
  }

  /**
   * Validates a module and registers every typed export as `{name}.{export}`. Re-uploading a
   * name replaces the module, and the answer says what it replaced (`replaced`). Nothing is stored unless every check passed, including a trial
   * instantiation in a worker (which runs the module's start function under a deadline,
   * without access to state: see hostImports), and `admit` (the deployer's quotas), which sees
   * the module once its own checks passed and refuses it by throwing.
   */
  async deploy(
    tenant: string, name: string, bytes: Uint8Array, admit?: (m: { name: string; size: number; memoryInitialPages: number }) => Promise<void>,
  ): Promise<{ record: ModuleRecord; functions: FunctionInfo[]; replaced?: ReplacedModule }> {
    checkModuleName(name);
    if (bytes.byteLength > this.#limits.maxModuleBytes) {
      throw new CloudburstError('BODY_TOO_LARGE', `a module may be at most ${this.#limits.maxModuleBytes} bytes`);
    }
    const source = bytes as Uint8Array<ArrayBuffer>;
    if (bytes.byteLength === 0 || !WebAssembly.validate(source)) {
      throw new CloudburstError('INVALID_WASM', 'the body is not a valid WebAssembly module (is it truncated?)');
    }
    const module = await WebAssembly.compile(source);
    const { memory, types, sourceMap } = this.#check(bytes, module);
    await admit?.({ name, size: bytes.byteLength, memoryInitialPages: memory.initialPages });
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    const compiled: Compiled = { module, memory, types, sourceMap };
    const spec = this.#spec(tenant, sha256, compiled);
    const trial = await this.#pool.run({ kind: 'load', tenant, module: spec }, this.#limits.instantiateTimeoutMs);
    if (!trial.ok) {
      throw new CloudburstError('INVALID_WASM', `the module failed to start: ${trial.code}: ${trial.message}`, { cause: trial.code });
    }

    // What this upload replaces, for the deployer to see (read before the write, like a user would).
    const previous = await this.#record(tenant, name);
    const record: ModuleRecord = {
      name, sha256, size: bytes.byteLength, deployedAt: new Date().toISOString(), memoryInitialPages: memory.initialPages, types,
    };
    const writes = new Map<string, Lattice>([
      [storageKey(tenant, SPACES.wasm, sha256), lww.write(bytes, this.#hlc.now())],
      [storageKey(tenant, SPACES.module, name), lww.write(Buffer.from(JSON.stringify(record)), this.#hlc.now())],
      [modulesSet(tenant), gset.add(undefined, Buffer.from(name))],
    ]);
    await this.#readThrough.writeDurable(writes);
    this.#compiled.set(spec.id, compiled);
    this.#loaded.set(`${tenant}/${name}`, { record, spec });
    const functions = types.exports.map((sig) => functionInfo(record, sig));
    if (!previous) return { record, functions };
    const replaced: ReplacedModule = {
      sha256: previous.sha256, deployedAt: previous.deployedAt, functions: previous.types.exports.map((sig) => functionInfo(previous, sig)),
    };
    return { record, functions, replaced };
  }

  /**
   * Everything the host relies on when it links and calls the module, checked against its
   * binary: imports (names, kinds and signatures), the memory, the types section, and the
   * signatures of the typed and runtime exports; and its source map, when it has one.
   */
  #check(bytes: Uint8Array, module: WebAssembly.Module): Omit<Compiled, 'module'> {
    const shape = readWasm(bytes);
    checkImports(shape);
    const memory = memoryImport(shape);
    if (memory.initialPages > this.#limits.memoryMaxPages) {
      throw new CloudburstError('MEMORY_LIMIT', `the module needs ${memory.initialPages} pages of memory; the limit is ${this.#limits.memoryMaxPages}`);
    }
    if (memory.maximumPages !== undefined && memory.maximumPages < memory.initialPages) {
      throw new CloudburstError('MEMORY_LIMIT', 'the module declares a memory maximum below its minimum');
    }
    const types = readModuleTypes(module);
    checkExports(shape, types);
    return { memory, types, sourceMap: moduleSourceMap(module, shape) };
  }

  /** What a worker needs to instantiate a module: its memory within the module's and the host's limits. */
  #spec(tenant: string, sha: string, { module, memory, types, sourceMap }: Compiled): ModuleSpec {
    return {
      id: `${tenant}/${sha}`, module, types,
      memoryInitialPages: memory.initialPages,
      memoryMaxPages: Math.min(this.#limits.memoryMaxPages, memory.maximumPages ?? Number.MAX_SAFE_INTEGER),
      ...(sourceMap ? { sourceMap } : {}),
    };
  }

  /** Deletes a module: its record becomes a tombstone; its functions stop resolving. */
  async remove(tenant: string, name: string): Promise<void> {
    checkModuleName(name);
    const current = await this.#record(tenant, name);
    if (!current) throw new CloudburstError('UNKNOWN_MODULE', `no module named ${JSON.stringify(name)}`);
    await this.#readThrough.writeDurable(new Map([[storageKey(tenant, SPACES.module, name), lww.tombstone(this.#hlc.now())]]));
    this.#loaded.delete(`${tenant}/${name}`);
  }

  async #record(tenant: string, name: string): Promise<ModuleRecord | undefined> {
    const v = await this.#readThrough.read(storageKey(tenant, SPACES.module, name));
    if (v === undefined || v.type !== 'lww' || v.tombstone) return undefined;
    return JSON.parse(Buffer.from(v.value).toString('utf8')) as ModuleRecord;
  }

  async #load(tenant: string, name: string): Promise<Loaded | undefined> {
    const hit = this.#loaded.get(`${tenant}/${name}`);
    if (hit) return hit;
    const record = await this.#record(tenant, name);
    if (!record) return undefined;
    const id = `${tenant}/${record.sha256}`;
    let compiled = this.#compiled.get(id);
    if (!compiled) {
      const wasm = await this.#readThrough.read(storageKey(tenant, SPACES.wasm, record.sha256));
      if (wasm === undefined || wasm.type !== 'lww' || wasm.tombstone) {
        throw new CloudburstError('INTERNAL', `the bytes of module ${name} (${record.sha256}) are missing from the KV tier`);
      }
      const module = await WebAssembly.compile(wasm.value as Uint8Array<ArrayBuffer>);
      // The upload's checks again, by this host's rules: a module stored by an older host that
      // would be refused today is refused here too, rather than fail its calls in the worker.
      try {
        compiled = { module, ...this.#check(wasm.value, module) };
      } catch (err) {
        if (!(err instanceof CloudburstError)) throw err;
        throw new CloudburstError(err.code, `module ${name} was accepted by an older host and no longer passes the upload checks (upload it again): ${err.message}`);
      }
      this.#compiled.set(id, compiled);
    }
    const loaded: Loaded = { record, spec: this.#spec(tenant, record.sha256, compiled) };
    this.#loaded.set(`${tenant}/${name}`, loaded);
    return loaded;
  }

  async module(tenant: string, name: string): Promise<ModuleRecord> {
    checkModuleName(name);
    const loaded = await this.#load(tenant, name);
    if (!loaded) throw new CloudburstError('UNKNOWN_MODULE', `no module named ${JSON.stringify(name)}`);
    return loaded.record;
  }

  /** Resolves `module.export` of `tenant` to what a call needs. */
  async resolve(tenant: string, fn: string): Promise<ResolvedFunction> {
    const dot = fn.lastIndexOf('.');
    const moduleName = dot > 0 ? fn.slice(0, dot) : '';
    const exportName = fn.slice(dot + 1);
    const loaded = dot > 0 && /^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/.test(moduleName) ? await this.#load(tenant, moduleName) : undefined;
    const signature = loaded?.record.types.exports.find((e) => e.name === exportName);
    if (!loaded || !signature) throw new CloudburstError('UNKNOWN_FUNCTION', `no function named ${JSON.stringify(fn)}`);
    return { info: functionInfo(loaded.record, signature), signature, spec: loaded.spec };
  }

  async list(tenant: string): Promise<ModuleRecord[]> {
    const set = modulesSet(tenant);
    const names = await this.#readThrough.read(set, { fresh: true }).catch(() => this.#readThrough.cache.get(set));
    if (names === undefined || names.type !== 'set') return [];
    const out: ModuleRecord[] = [];
    for (const m of names.members) {
      const record = await this.#record(tenant, Buffer.from(m).toString('utf8'));
      if (record) out.push(record);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }
}
