// A worker's warm instances and what it holds because of them (host/executor/warm-instances.ts),
// over a hand-made module whose start function calls a host import. The worker replaced for
// memory is tested end to end in memory.test.ts.
import { describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import type { ModuleSpec } from '../../host/executor/protocol.ts';
import { WarmInstances } from '../../host/executor/warm-instances.ts';

/** `(module (import "env" "memory" (memory 1)) (import "env" "f" (func)) (start 0))` */
const START_CALLS_F = new WebAssembly.Module(new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  0x01, 0x04, 0x01, 0x60, 0x00, 0x00,
  0x02, 0x17, 0x02,
  0x03, 0x65, 0x6e, 0x76, 0x06, 0x6d, 0x65, 0x6d, 0x6f, 0x72, 0x79, 0x02, 0x00, 0x01,
  0x03, 0x65, 0x6e, 0x76, 0x01, 0x66, 0x00, 0x00,
  0x08, 0x01, 0x00,
]));
const MIB16_PAGES = 256;

function spec(id: string, initial = 1, max = 1024): ModuleSpec {
  return { id, module: START_CALLS_F, types: { exports: [], classIds: {} }, memoryInitialPages: initial, memoryMaxPages: max };
}

/**
 * Instances whose start function runs `start` (given whether `starting()` said so), through a
 * counted `outside`; with `heap`, the thread's heap is what it holds.
 */
function warm(start: (starting: boolean) => void = () => undefined, memoryBudget = Number.MAX_SAFE_INTEGER, heap?: { total_heap_size: number; external_memory: number }, collectGarbage?: () => void) {
  const counts = { imports: 0, outside: 0 };
  const instances = new WarmInstances({
    memoryBudget,
    ...(heap === undefined ? {} : { heapStatistics: () => ({ ...heap }) }),
    collectGarbage,
    imports: (memory, starting) => {
      counts.imports++;
      return { env: { memory, f: () => start(starting()) } };
    },
    outside: (f) => {
      counts.outside++;
      return f();
    },
  });
  return { instances, counts };
}

describe('a worker\'s warm instances', () => {
  it('a module is instantiated once, its start function run as guest code with state off limits, then kept warm', () => {
    const seen: boolean[] = [];
    const { instances, counts } = warm((s) => seen.push(s));
    const first = instances.instantiate(spec('a'));
    expect(seen).toEqual([true]);
    expect(counts).toEqual({ imports: 1, outside: 1 });
    expect(instances.instantiate(spec('a'))).toBe(first);
    expect(instances.get('a')).toBe(first);
    expect(counts.imports).toBe(1);
    expect(instances.instanceBytes()).toBe(65536);
  });

  it('a module is sent once, then named by its hash; a hash never sent is an internal error', () => {
    const { instances } = warm();
    const s = spec('b');
    expect(instances.specOf(s)).toBe(s);
    expect(instances.specOf({ id: 'b' })).toBe(s);
    expect(() => instances.specOf({ id: 'never' })).toThrow(CloudburstError);
  });

  it('an instance whose memory grew past a quarter of its limit and 16 MiB is dropped after its call, and the worker asks to be replaced', () => {
    const { instances } = warm();
    const small = instances.instantiate(spec('small', 1, 4 * MIB16_PAGES));
    small.guest.memory.grow(MIB16_PAGES - 2); // under 16 MiB: kept
    instances.keepWarm('small');
    expect(instances.get('small')).toBe(small);
    expect(instances.shouldRetire(true, false)).toBe(false);

    const big = instances.instantiate(spec('big', 1, 4 * MIB16_PAGES));
    big.guest.memory.grow(MIB16_PAGES + 8);
    instances.keepWarm('big');
    expect(instances.get('big')).toBeUndefined();
    expect(instances.shouldRetire(false, false)).toBe(true);
    expect(instances.instantiate(spec('big', 1, 4 * MIB16_PAGES))).not.toBe(big);
  });

  it('a start function that fails leaves nothing warm, and its memory counts as discarded', () => {
    const { instances } = warm(() => {
      throw new Error('start failed');
    });
    expect(() => instances.instantiate(spec('bad', MIB16_PAGES))).toThrow('start failed');
    expect(instances.get('bad')).toBeUndefined();
    expect(instances.shouldRetire(false, false)).toBe(true);
  });

  it('the heap is checked against the budget after a failed or growing job, else every 64 jobs', () => {
    const { instances } = warm(undefined, 0);
    expect(instances.shouldRetire(true, false)).toBe(true);
    expect(instances.shouldRetire(false, true)).toBe(true);
    const quiet = Array.from({ length: 64 }, () => instances.shouldRetire(false, false));
    expect(quiet.slice(0, 63)).toEqual(Array.from({ length: 63 }, () => false));
    expect(quiet[63]).toBe(true);
  });

  it('a failed call that left heap and external memory more than 16 MiB over their start collects the garbage, and asks for a new worker only if still over', () => {
    const MiB = 1024 * 1024;
    const heap = { total_heap_size: 20 * MiB, external_memory: 20 * MiB };
    let collected = 0;
    let freedByCollection = 0;
    const collectGarbage = (): void => {
      collected++;
      heap.total_heap_size -= freedByCollection;
    };
    const { instances } = warm(undefined, 1024 * MiB, heap, collectGarbage);
    // A busy worker's heap (some 10 MiB over): nothing to do.
    heap.total_heap_size = 30 * MiB;
    expect(instances.shouldRetire(true, false)).toBe(false);
    expect(collected).toBe(0);
    // External memory counts too.
    heap.external_memory = 37 * MiB;
    freedByCollection = 0;
    expect(instances.shouldRetire(true, false)).toBe(true);
    expect(collected).toBe(1);
    heap.external_memory = 20 * MiB;
    // Garbage the collection gives back: kept.
    heap.total_heap_size = 50 * MiB;
    freedByCollection = 25 * MiB;
    expect(instances.shouldRetire(true, false)).toBe(false);
    expect(collected).toBe(2);
    // What 100,001 writes left behind, measured: 47.5 MiB over, 27 MiB still over after the collection.
    heap.total_heap_size = 67.5 * MiB;
    freedByCollection = 20.5 * MiB;
    expect(instances.shouldRetire(true, false)).toBe(true);
    expect(instances.collections).toBe(3);
    // A call that succeeded leaves it to the budget.
    heap.total_heap_size = 67.5 * MiB;
    expect(instances.shouldRetire(false, true)).toBe(false);
    expect(collected).toBe(3);
  });
});
