// A worker's guest instances, kept warm per module (and tenant) between calls, and the memory the worker
// holds because of them: when an instance is dropped, and when the worker asks to be replaced.
// See host/README.md, "Memory".
import { getHeapStatistics, type HeapInfo } from 'node:v8';
import { CloudburstError, fullCollection } from '../../common/index.ts';
import type { Guest, GuestExports } from './abi.ts';
import type { WorkerGate } from './worker-gate.ts';
import type { ModuleRef, ModuleSpec } from './protocol.ts';

export interface Instance {
  guest: Guest;
  exports: Record<string, unknown>;
  maxPages: number;
}

export interface WarmInstancesOptions {
  /** Bytes of heap and external memory past which the worker asks to be replaced. */
  memoryBudget: number;
  /** The import object of a new instance; `starting()` is true while its start function runs. */
  imports: (memory: WebAssembly.Memory, starting: () => boolean) => WebAssembly.Imports;
  /** Runs guest code with the gate open. */
  outside: WorkerGate['outside'];
  /** The thread's heap as V8 reports it (tests give their own). */
  heapStatistics?: () => Pick<HeapInfo, 'total_heap_size' | 'external_memory'>;
  /** V8's full collection in this thread, if it gives one (tests give their own). */
  collectGarbage?: (() => void) | undefined;
}

export class WarmInstances {
  readonly #specs = new Map<string, ModuleSpec>();
  readonly #instances = new Map<string, Instance>();
  readonly #memoryBudget: number;
  readonly #imports: WarmInstancesOptions['imports'];
  readonly #outside: WorkerGate['outside'];
  readonly #heap: NonNullable<WarmInstancesOptions['heapStatistics']>;
  /**
   * Memory this thread holds and cannot give back by itself: V8 frees a discarded instance's
   * linear memory (up to the guest limit) only when it collects its isolate's garbage, which an
   * idle worker may not do for hours; lmdb-js keeps its read buffer at twice the largest value
   * read; the heap of a call that wrote 100,000 keys stays grown (an idle thread collects no
   * garbage). After a failed call that left the heap grown, the worker collects its garbage
   * at once. A worker that holds more than its budget after a job, that discarded an instance
   * with a large memory, or whose heap is still grown after that collection, asks to be
   * replaced: terminating a thread frees all of it.
   */
  readonly #footprint = {
    /** Discarded instances' memories past this are worth a new thread. */
    discardedBytes: 16 * 1024 * 1024,
    /**
     * Heap and external memory this much over their size when the worker started, after a
     * failed call, are worth a full collection, and if still over after it, a new thread: a
     * call that failed over a limit (100,001 writes) leaves its garbage (47-62 MiB, measured;
     * V8 still held 27 MiB of heap over the start after collecting it), which the idle thread
     * would keep; a worker busy with small calls stays some 10 MiB over, and calls that fail
     * otherwise grow it by little.
     */
    failedGrowth: 16 * 1024 * 1024,
    /** Heap and external memory when the worker started. */
    start: 0,
    /** Jobs between checks of the heap when nothing suggested one. */
    checkEvery: 64,
    sinceCheck: 0,
    /** Bytes of linear memory of the instances discarded so far. */
    discarded: 0,
  };
  /** True while `new WebAssembly.Instance` runs a module's start function: state is off limits then. */
  #starting = false;
  readonly #collect: (() => void) | undefined;
  #collections = 0;

  constructor(opts: WarmInstancesOptions) {
    this.#memoryBudget = opts.memoryBudget;
    this.#imports = opts.imports;
    this.#outside = opts.outside;
    this.#heap = opts.heapStatistics ?? getHeapStatistics;
    this.#collect = 'collectGarbage' in opts ? opts.collectGarbage : fullCollection();
    this.#footprint.start = this.#used();
  }

  /** Heap and external memory (ArrayBuffers: lmdb-js's, values over 4 KiB) of this thread. */
  #used(): number {
    const h = this.#heap();
    return h.total_heap_size + h.external_memory;
  }

  /** Full collections run after failed calls (for tests and metrics). */
  get collections(): number {
    return this.#collections;
  }

  /** Whether this worker should be replaced after a job (see `#footprint`). */
  shouldRetire(failed: boolean, grew: boolean): boolean {
    const footprint = this.#footprint;
    if (footprint.discarded >= footprint.discardedBytes) return true;
    if (!failed && !grew && ++footprint.sinceCheck < footprint.checkEvery) return false;
    footprint.sinceCheck = 0;
    let used = this.#used();
    if (failed && used > footprint.start + footprint.failedGrowth && this.#collect !== undefined) {
      this.#collect();
      this.#collections++;
      used = this.#used();
    }
    if (failed && used > footprint.start + footprint.failedGrowth) return true;
    return used > this.#memoryBudget;
  }

  /** Drops an instance (a guest failed): its memory is garbage from now on. */
  discard(id: string): void {
    const inst = this.#instances.get(id);
    if (inst === undefined) return;
    this.#instances.delete(id);
    this.#footprint.discarded += inst.guest.memory.buffer.byteLength;
  }

  /** Forgets an instance without counting its memory (a module that failed to load). */
  delete(id: string): void {
    this.#instances.delete(id);
  }

  /** The warm instance of a module (by `ModuleSpec.id`: per tenant), if any. */
  get(id: string): Instance | undefined {
    return this.#instances.get(id);
  }

  /**
   * An instance stays warm only while its linear memory is small: a memory never shrinks, so a
   * call that once needed a lot (past a quarter of the module's limit, and 16 MiB) would keep it
   * for good. Such an instance is dropped after its call, and its worker replaced.
   */
  keepWarm(id: string): void {
    const inst = this.#instances.get(id);
    if (inst === undefined) return;
    const size = inst.guest.memory.buffer.byteLength;
    if (size > this.#footprint.discardedBytes && size > (inst.maxPages * 65536) / 4) this.discard(id);
  }

  /** Linear memory of the live instances. */
  instanceBytes(): number {
    let n = 0;
    for (const inst of this.#instances.values()) n += inst.guest.memory.buffer.byteLength;
    return n;
  }

  /** The module a job names: sent with the job the first time, remembered since. */
  specOf(ref: ModuleRef): ModuleSpec {
    if ('module' in ref) {
      this.#specs.set(ref.id, ref);
      return ref;
    }
    const spec = this.#specs.get(ref.id);
    if (!spec) throw new CloudburstError('INTERNAL', `module ${ref.id} was never sent to this worker`);
    return spec;
  }

  /**
   * The warm instance of `spec`, instantiated (its start function run) if there is none or if
   * the warm one's memory has another maximum: `maxPages` (a tenant's ceiling, host/quotas/),
   * within the module's own.
   */
  instantiate(spec: ModuleSpec, maxPages = spec.memoryMaxPages): Instance {
    const maximum = Math.min(maxPages, spec.memoryMaxPages);
    const existing = this.#instances.get(spec.id);
    if (existing && existing.maxPages === maximum) return existing;
    if (existing) this.discard(spec.id);
    const outside = this.#outside;
    const memory = new WebAssembly.Memory({ initial: spec.memoryInitialPages, maximum });
    const imports = this.#imports(memory, () => this.#starting);
    let instance: WebAssembly.Instance;
    this.#starting = true;
    try {
      // Instantiating runs the module's start function: guest code.
      instance = outside(() => new WebAssembly.Instance(spec.module, imports));
    } catch (err) {
      this.#footprint.discarded += memory.buffer.byteLength;
      throw err;
    } finally {
      this.#starting = false;
    }
    const exports = instance.exports as Record<string, unknown>;
    const rt = exports as unknown as GuestExports;
    // The runtime's allocator is guest code too (and may be hostile): the gate is open while it runs.
    const runtime: GuestExports = {
      __new: (size, id) => outside(() => rt.__new(size, id)),
      __pin: (ptr) => outside(() => rt.__pin(ptr)),
      __unpin: (ptr) => outside(() => rt.__unpin(ptr)),
    };
    const inst: Instance = { guest: { memory, runtime }, exports, maxPages: maximum };
    this.#instances.set(spec.id, inst);
    return inst;
  }
}
