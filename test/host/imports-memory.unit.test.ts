import { describe, expect, it } from 'vitest';
import { hostImports } from '../../host/executor/imports.ts';
import type { GuestState } from '../../host/executor/guest-state.ts';

/** A call's state that records what the imports hand it (the imports are what is tested). */
function recorder() {
  const puts: [string, string][] = [];
  const state = {
    userPrefix: 'acme/k/',
    staged: undefined as Uint8Array | undefined,
    put(key: string, value: Uint8Array) {
      puts.push([key, Buffer.from(value).toString()]);
    },
  };
  return { puts, state };
}

describe('host imports: keys and take go through one view of the guest memory, renewed when it grows', () => {
  it('a key and a take past the old end of memory, after a grow, read and write the grown memory', () => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 4 });
    const { puts, state } = recorder();
    const env = hostImports(memory, () => state as unknown as GuestState, () => false).cloudburst as Record<string, (...a: number[]) => unknown>;
    const write = (at: number, s: string): void => new Uint8Array(memory.buffer).set(Buffer.from(s), at);
    write(100, 'user:1');
    write(200, 'v1');
    env.put!(100, 6, 200, 2);
    memory.grow(1); // detaches the buffer the imports viewed
    const high = 65536 + 500;
    write(high, 'user:2');
    write(high + 100, 'v2');
    env.put!(high, 6, high + 100, 2);
    expect(puts).toEqual([['acme/k/user:1', 'v1'], ['acme/k/user:2', 'v2']]);
    state.staged = new Uint8Array(Buffer.from('staged'));
    env.take!(high + 1000);
    expect(Buffer.from(new Uint8Array(memory.buffer, high + 1000, 6)).toString()).toBe('staged');
  });

  it('a key or a take outside memory is GUEST_TRAP; a bad key is INVALID_KEY, as before', () => {
    const memory = new WebAssembly.Memory({ initial: 1 });
    const { state } = recorder();
    const env = hostImports(memory, () => state as unknown as GuestState, () => false).cloudburst as Record<string, (...a: number[]) => unknown>;
    expect(() => env.put!(65530, 10, 0, 1)).toThrow(expect.objectContaining({ code: 'GUEST_TRAP' }));
    expect(() => env.put!(0, 0, 0, 1)).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
    new Uint8Array(memory.buffer).set(Buffer.from('..'), 10);
    expect(() => env.put!(10, 2, 0, 1)).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
    state.staged = new Uint8Array(16);
    expect(() => env.take!(65530)).toThrow(expect.objectContaining({ code: 'GUEST_TRAP' }));
  });
});
