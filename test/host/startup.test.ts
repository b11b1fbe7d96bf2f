import { existsSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { KV_LIMITS } from '../../kvs/index.ts';
import { startHost } from '../../host/index.ts';
import { resolveOptions } from '../../host/options.ts';
import { SelfAddress } from '../../host/self-address.ts';

const required = { dataDir: '/tmp/cb-options', kvsUrl: 'http://127.0.0.1:1', clusterSecret: Buffer.alloc(32, 7) };

describe('host options: one place for the defaults', () => {
  it('fills in the defaults HostOptions documents', () => {
    const o = resolveOptions(required);
    expect(o).toMatchObject({
      ...required,
      kvsSeeds: [],
      subscriptionTtlMs: 30_000,
      flushDelayMs: 2,
      flushMaxDelayMs: 20,
      port: 7070,
      listen: '127.0.0.1',
      workers: Math.max(2, availableParallelism()),
      maxWorkers: Math.max(2, 4 * availableParallelism()),
      scaleUpWaitMs: 20,
      idleTimeoutMs: 30_000,
      fsync: 'batch',
      guestMemoryMiB: 256,
      workerMemoryMiB: 512,
      maxModuleBytes: 8 * 1024 * 1024,
      maxBodyBytes: 64 * 1024 * 1024,
      defaultTimeoutMs: 10_000,
      maxTimeoutMs: 300_000,
      explore: 0.1,
      maxUtilization: 0.7,
      publishIntervalMs: 500,
      cacheMiB: 1024,
      cacheKeys: 500_000,
      valueMemoMiB: 32,
      futureRereadMs: 2000,
      insecure: false,
    });
    expect(o.onGuestLog).toBeTypeOf('function');
  });

  it('keeps what is given, zeros included, and sizes a worker after its guests', () => {
    const onGuestLog = (): void => undefined;
    const o = resolveOptions({ ...required, port: 0, explore: 0, flushDelayMs: 0, workers: 1, guestMemoryMiB: 64, onGuestLog });
    expect(o).toMatchObject({ port: 0, explore: 0, flushDelayMs: 0, workers: 1, guestMemoryMiB: 64, workerMemoryMiB: 64 + 256 });
    expect(o.onGuestLog).toBe(onGuestLog);
    expect(resolveOptions({ ...required, guestMemoryMiB: 64, workerMemoryMiB: 100 }).workerMemoryMiB).toBe(100);
  });

  it('takes the group-commit cap as given, and refuses one that is not a timer\'s delay', () => {
    expect(resolveOptions({ ...required, flushMaxDelayMs: 60_000 }).flushMaxDelayMs).toBe(60_000);
    expect(() => resolveOptions({ ...required, flushMaxDelayMs: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
    expect(() => resolveOptions({ ...required, flushMaxDelayMs: 2 ** 31 })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });

  it('takes a value memo from 0 (off) up to a worker\'s budget, and refuses one outside it', () => {
    expect(resolveOptions({ ...required, valueMemoMiB: 0 }).valueMemoMiB).toBe(0);
    expect(resolveOptions({ ...required, workerMemoryMiB: 100, valueMemoMiB: 100 }).valueMemoMiB).toBe(100);
    expect(() => resolveOptions({ ...required, workerMemoryMiB: 100, valueMemoMiB: 101 })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
    expect(() => resolveOptions({ ...required, valueMemoMiB: -1 })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });

  it('grows the pool to at least workers, and refuses a maxWorkers below workers', () => {
    expect(resolveOptions({ ...required, workers: 64 })).toMatchObject({ workers: 64, maxWorkers: 64 });
    expect(resolveOptions({ ...required, workers: 2, maxWorkers: 2 })).toMatchObject({ workers: 2, maxWorkers: 2 });
    expect(() => resolveOptions({ ...required, workers: 4, maxWorkers: 3 })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
    expect(() => resolveOptions({ ...required, workers: 0 })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });

  it('refuses a module limit above what the KV tier stores, before anything is opened', async () => {
    expect(resolveOptions({ ...required, maxModuleBytes: KV_LIMITS.maxRegisterBytes }).maxModuleBytes).toBe(KV_LIMITS.maxRegisterBytes);
    expect(() => resolveOptions({ ...required, maxModuleBytes: KV_LIMITS.maxRegisterBytes + 1 })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
    const dataDir = join(tmpdir(), `cb-options-${process.pid}-${Date.now()}`);
    await expect(startHost({ ...required, dataDir, maxModuleBytes: KV_LIMITS.maxRegisterBytes + 1 })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('host options: authentication', () => {
  it('a host refuses to start with neither a cluster secret nor insecure: true, or with a short secret, before anything is opened', async () => {
    const { clusterSecret: _, ...noSecret } = required;
    expect(() => resolveOptions(noSecret)).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', message: expect.stringContaining('cluster secret') }));
    expect(() => resolveOptions({ ...noSecret, clusterSecret: Buffer.alloc(31) })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', message: expect.stringContaining('at least 32') }));
    expect(resolveOptions({ ...noSecret, insecure: true }).insecure).toBe(true);
    const dataDir = join(tmpdir(), `cb-options-auth-${process.pid}-${Date.now()}`);
    await expect(startHost({ ...noSecret, dataDir })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    expect(existsSync(dataDir)).toBe(false);
  });
});

describe('SelfAddress: the host\'s URL exists once it listens', () => {
  it('throws when read before the host listens, and when set twice', () => {
    const self = new SelfAddress('a1b2c3d4');
    expect(() => self.url()).toThrow(/before it listens/);
    self.listening('http://127.0.0.1:7070');
    // Parts hold the function, not the object.
    const { url } = self;
    expect(url()).toBe('http://127.0.0.1:7070');
    expect(() => self.listening('http://127.0.0.1:7071')).toThrow(/listens twice/);
    expect(url()).toBe('http://127.0.0.1:7070');
  });
});
