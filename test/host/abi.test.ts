import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_NAMESPACE, IMPORT_NAMESPACE, MEMORY_IMPORT, START_FUNCTIONS } from '../../guest/abi.ts';
import { hostImports } from '../../host/executor/imports.ts';
import { allowedImports } from '../../host/index.ts';
import { HOST_IMPORTS } from '../../host/module-abi.ts';
import { counter } from '../../kvs/index.ts';
import { guestBytes, startPlatform, type Platform } from '../helpers/platform.ts';

describe('abi: imports', () => {
  it('a guest using every SDK function imports exactly what the host provides, in both directions', () => {
    const module = new WebAssembly.Module(new Uint8Array(guestBytes('kitchen')));
    const imported = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`).sort();
    const provided = [...allowedImports()].flatMap(([ns, names]) => [...names].map((n) => `${ns}.${n}`)).sort();
    expect(imported).toEqual(provided);
  });

  it('the import object provides exactly the functions of guest/abi.ts, each taking its parameters', () => {
    const imports = hostImports(new WebAssembly.Memory({ initial: 1 }), () => {
      throw new Error('no state here');
    }, () => false) as Record<string, Record<string, unknown>>;
    const table = [...HOST_IMPORTS].flatMap(([ns, fns]) => [...fns.keys()].map((n) => `${ns}.${n}`));
    expect([...allowedImports()].flatMap(([ns, names]) => [...names].map((n) => `${ns}.${n}`)).sort())
      .toEqual([...table, `${ENV_NAMESPACE}.${MEMORY_IMPORT}`].sort());
    for (const [ns, fns] of HOST_IMPORTS) {
      for (const [name, sig] of fns) expect((imports[ns]![name] as (...a: unknown[]) => unknown).length, `${ns}.${name}`).toBe(sig.params.length);
    }
  });

  it('while an instance starts, every state and messaging import throws GUEST_TRAP before touching state', () => {
    const imports = hostImports(new WebAssembly.Memory({ initial: 1 }), () => {
      throw new Error('state touched');
    }, () => true) as Record<string, Record<string, (...a: unknown[]) => unknown>>;
    const allowed = new Set(START_FUNCTIONS);
    for (const [name, sig] of HOST_IMPORTS.get(IMPORT_NAMESPACE)!) {
      if (allowed.has(name)) continue;
      const args = sig.params.map((t) => (t === 'i64' ? 1n : 1));
      expect(() => imports[IMPORT_NAMESPACE]![name]!(...args), name).toThrow(
        expect.objectContaining({ code: 'GUEST_TRAP', message: expect.stringContaining(`${IMPORT_NAMESPACE}.${name} was called by the module's start function`) }),
      );
    }
    expect(typeof imports[IMPORT_NAMESPACE]!.now!()).toBe('number');
  });
});

describe('abi: lifting arguments and lowering results', () => {
  let p: Platform;
  const logs: string[] = [];

  beforeAll(async () => {
    p = await startPlatform({ onGuestLog: (fn, level, message) => logs.push(`${fn}:${level}:${message}`) });
    await p.deploy('kitchen');
  });
  afterAll(() => p.stop());

  const call = (fn: string, ...args: unknown[]) => p.call(`kitchen.${fn}`, args);

  it('scalars round-trip at the edges of their ranges', async () => {
    expect(await call('echoI8', -128)).toBe(-128);
    expect(await call('echoU8', 255)).toBe(255);
    expect(await call('echoI16', -32768)).toBe(-32768);
    expect(await call('echoU16', 65535)).toBe(65535);
    expect(await call('addI32', 2147483647, -1)).toBe(2147483646);
    expect(await call('echoU32', 4294967295)).toBe(4294967295);
    expect(await call('echoI64', '-9223372036854775808')).toBe('-9223372036854775808');
    expect(await call('echoU64', '18446744073709551615')).toBe('18446744073709551615');
    expect(await call('echoUsize', 123)).toBe(123);
    expect(await call('echoF32', 1.5)).toBe(1.5);
    expect(await call('echoF64', Math.PI)).toBe(Math.PI);
    expect(await call('echoF64', 'NaN')).toBe('NaN');
    expect(await call('echoF64', '-Infinity')).toBe('-Infinity');
    expect(await call('notBool', true)).toBe(false);
    expect(await call('noop')).toBe(null);
  });

  it('out-of-range scalars are refused before reaching the guest', async () => {
    await expect(call('echoU8', 256)).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    await expect(call('echoI8', -129)).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    await expect(call('echoU64', -1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    await expect(call('notBool', 1)).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
  });

  it('strings: unicode, empty and long strings', async () => {
    for (const s of ['', 'hello', 'żółw 🐢 中文', 'x'.repeat(100_000)]) expect(await call('echoString', s)).toBe(s);
    expect(await call('stringLength', '🐢')).toBe(2);
    expect(await call('concat', 'a', 'b')).toBe('ab');
  });

  it('typed arrays: every kind, inline and as base64 bytes', async () => {
    expect(await call('echoBytes', [0, 1, 255])).toEqual([0, 1, 255]);
    expect(await call('echoBytes', { base64: Buffer.from('hi').toString('base64') })).toEqual([104, 105]);
    expect(await call('echoInt8Array', [-128, 127])).toEqual([-128, 127]);
    expect(await call('echoUint8ClampedArray', [0, 255])).toEqual([0, 255]);
    expect(await call('echoInt16Array', [-32768, 7])).toEqual([-32768, 7]);
    expect(await call('echoUint16Array', [65535])).toEqual([65535]);
    expect(await call('echoUint32Array', [4294967295, 0])).toEqual([4294967295, 0]);
    expect(await call('echoInt64Array', ['-9223372036854775808', 5])).toEqual(['-9223372036854775808', 5]);
    expect(await call('echoUint64Array', ['18446744073709551615'])).toEqual(['18446744073709551615']);
    expect(await call('echoFloat32Array', [0.5, -2])).toEqual([0.5, -2]);
    expect(await call('sumInt32', [1, 2, 3, -10])).toBe(-4);
    expect(await call('scaleF64', [1, 2, 3], 2)).toEqual([2, 4, 6]);
    expect(await call('echoBytes', [])).toEqual([]);
  });

  it('exports with unsupported types are not registered', async () => {
    const { functions } = await p.client.json<{ functions: { name: string }[] }>('GET', '/v1/functions');
    const names = functions.map((f) => f.name);
    expect(names).toContain('kitchen.echoString');
    for (const skipped of ['kitchen.maybeLength', 'kitchen.firstOf', 'kitchen.KITCHEN_VERSION', 'kitchen.__new']) expect(names).not.toContain(skipped);
  });

  it('state: every SDK operation through the host imports', async () => {
    expect(await call('putGet', 's1', 'value')).toBe('value');
    expect(await call('getOr', 's1', 'none')).toBe('value');
    expect(await call('getOr', 'never-written', 'none')).toBe('none');
    expect(await call('putGetBytes', 'b1', [1, 2, 3])).toEqual([1, 2, 3]);
    expect(await call('getLength', 'b1')).toBe(3);
    expect(await call('putDurableLength', 'd1', [9, 9])).toBe(2);
    expect(p.kv.store.get('default/k/d1')).toMatchObject({ type: 'lww' });
    expect(await call('delThenAbsent', 'b1')).toBe(true);
    expect(await call('getLength', 'b1')).toBe(-1);
    expect(await call('counterAdd', 'c1', 5)).toBe(5);
    expect(await call('counterAdd', 'c1', -2)).toBe(3);
    expect(await call('counterGet', 'c1')).toBe(3);
    expect(await call('setAddMembers', 'set1', 'b')).toBe(1);
    expect(await call('setAddMembers', 'set1', 'a')).toBe(2);
    expect(await call('setAddMembers', 'set1', 'a')).toBe(2);
    expect(await call('setHasString', 'set1', 'a')).toBe(true);
    expect(await call('setHas', 'set1', [0x7a])).toBe(false);
    expect(await call('setJoined', 'set1')).toBe('a,b');
    expect(await call('maxPut', 'm1', 5)).toBe(5);
    expect(await call('maxPut', 'm1', 3)).toBe(5);
    expect(await call('maxGet', 'm1')).toBe(5);
    expect(await call('maxGet', 'no-max')).toBe('-9223372036854775808');
  });

  it('state: using a key as the wrong lattice type fails the call and writes nothing', async () => {
    await call('counterAdd', 'typed', 1);
    await expect(call('putGet', 'typed', 'text')).rejects.toMatchObject({ code: 'KV_TYPE_MISMATCH' });
    expect(await call('counterGet', 'typed')).toBe(1);
  });

  it('state: a blind put that conflicts with the tier\'s type is refused at flush, and the cache drops it', async () => {
    await p.kv.store.merge('default/k/conflict', counter.add(undefined, 'elsewhere', 4n));
    await call('putOnly', 'conflict', 'text');
    await expect.poll(async () => (await p.client.json<{ type: string }>('GET', '/v1/kv/conflict')).type).toBe('counter');
    const metrics = (await p.client.request('GET', '/metrics')).body.toString();
    expect(metrics).toMatch(/cloudburst_outbox_rejected_total 1/);
  });

  it('services: logs reach the host, time and randomness come from it', async () => {
    await call('logAll', 'hi');
    expect(logs).toEqual(expect.arrayContaining(['kitchen.logAll:0:hi', 'kitchen.logAll:1:hi', 'kitchen.logAll:2:hi', 'kitchen.logAll:3:hi']));
    // The host's wall clock, read during the call: between the test's readings before and after.
    const before = Date.now();
    const now = (await call('nowMs')) as number;
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
    const r = (await call('random')) as number;
    expect(r).toBeGreaterThanOrEqual(0);
    expect(r).toBeLessThan(1);
    await call('traceTwo', 'pair', 1, 2);
    expect(logs.some((l) => l.includes('trace: pair 1, 2'))).toBe(true);
  });
});
