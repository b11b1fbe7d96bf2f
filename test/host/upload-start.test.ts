import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutorPool } from '../../host/executor/pool.ts';
import type { ModuleSpec } from '../../host/executor/protocol.ts';
import { readModuleTypes } from '../../host/index.ts';
import { guestBytes, startPlatform, type Platform } from '../helpers/platform.ts';
import { memoryMinimum } from '../helpers/wasm-rewrite.ts';

// A module's start function (AssemblyScript's top-level code) runs inside
// `new WebAssembly.Instance`: at upload (the trial instantiation) and whenever a worker
// creates an instance for a call. It may use the clock and the log, never state or messaging.

describe('upload: a start function may not use state', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform();
  });
  afterAll(() => p.stop());

  const upload = (name: string, guest: string) => p.client.json('PUT', `/v1/modules/${name}`, guestBytes(guest), true);
  /** Neither in the host's cache nor in the KV tier (`fresh` reads the tier). */
  const absent = async (key: string) => {
    await expect(p.client.json('GET', `/v1/kv/${key}`)).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
    await expect(p.client.json('GET', `/v1/kv/${key}?fresh=1`)).rejects.toMatchObject({ code: 'KEY_NOT_FOUND' });
  };
  const notRegistered = async (name: string) => {
    await expect(p.client.json('GET', `/v1/modules/${name}`)).rejects.toMatchObject({ code: 'UNKNOWN_MODULE' });
    await expect(p.call(`${name}.answer`, [])).rejects.toMatchObject({ code: 'UNKNOWN_FUNCTION' });
  };

  it('putDurable then a trap at top level: 400 INVALID_WASM naming the import, and the key was never written', async () => {
    const err = await upload('sdurable', 'start-put-durable').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_WASM' });
    expect((err as Error).message).toContain('cloudburst.put_durable');
    expect((err as Error).message).toContain('only available inside exported functions');
    await absent('start-durable');
    await notRegistered('sdurable');
  });

  it('put and counter.add at top level, without a trap: refused too, and nothing remains', async () => {
    const err = await upload('sput', 'start-put').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'INVALID_WASM' });
    expect((err as Error).message).toContain('cloudburst.put ');
    await absent('start-put');
    await absent('start-counter');
    await notRegistered('sput');
    // The workers go on serving: a later upload and call work.
    await p.deploy('math');
    expect(await p.call('math.square', [7])).toBe(49);
  });

  it('now and log at top level are allowed', async () => {
    const before = Date.now();
    await upload('sclock', 'start-clock');
    const created = await p.call('sclock.created', []);
    expect(created).toBeGreaterThanOrEqual(before - 1);
  });
});

describe('executor: a worker creating an instance for a call runs its start function without state', () => {
  let dir: string;
  let pool: ExecutorPool;
  const spec = (name: string): ModuleSpec => {
    const bytes = new Uint8Array(guestBytes(name));
    const module = new WebAssembly.Module(bytes);
    return { id: `default/${name}`, module, types: readModuleTypes(module), memoryInitialPages: memoryMinimum(bytes), memoryMaxPages: 256 };
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-start-'));
    pool = new ExecutorPool({ size: 1, cachePath: dir, writerPrefix: 'h-test', bridge: async () => undefined });
  });
  afterAll(async () => {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('the call fails with GUEST_TRAP naming the import, and commits nothing of the start function', async () => {
    const failed = await pool.run({ kind: 'call', tenant: 'default', module: spec('start-put'), exportName: 'answer', args: [], callId: 'test.0.1' }, 10_000);
    expect(failed).toMatchObject({ ok: false, code: 'GUEST_TRAP' });
    expect(failed.ok ? '' : failed.message).toContain('cloudburst.put ');
    // Had the start function written into the call's overlay, the failed call would not
    // commit it; so check with a call that succeeds, in a module whose start function is fine.
    const kitchen = spec('kitchen');
    const read = await pool.run({ kind: 'call', tenant: 'default', module: kitchen, exportName: 'getOr', args: [{ kind: 'value', value: 'start-put' }, { kind: 'value', value: '<absent>' }], callId: 'test.0.2' }, 10_000);
    expect(read).toMatchObject({ ok: true, result: '<absent>' });
    const total = await pool.run({ kind: 'call', tenant: 'default', module: { id: 'default/kitchen' }, exportName: 'counterGet', args: [{ kind: 'value', value: 'start-counter' }], callId: 'test.0.3' }, 10_000);
    expect(total).toMatchObject({ ok: true, result: 0 });
  });
});
