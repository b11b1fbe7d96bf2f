import { execFile, execFileSync, fork, spawn, spawnSync } from 'node:child_process';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer } from 'node:net';
import { Worker } from 'node:worker_threads';
import { fetch } from 'undici';
import { describe, expect, it } from 'vitest';
import { UNIT_GUARD_MESSAGE } from './unit-guard.ts';

// This file is in the unit project, so test/setup/unit-guard.ts is one of its setup files.
const refused = expect.objectContaining({ message: expect.stringContaining(UNIT_GUARD_MESSAGE) });

describe('unit guard', () => {
  it('unit guard: listening on a socket throws', () => {
    expect(() => createServer().listen(0)).toThrow(refused);
    expect(() => createHttpServer().listen(0, '127.0.0.1')).toThrow(refused);
  });

  it('unit guard: connecting throws, through node:net and through undici', async () => {
    expect(() => connect(65535, '127.0.0.1')).toThrow(refused);
    // undici reports a failed connect as the `cause` of its TypeError.
    const err = await fetch('http://127.0.0.1:65535/').then(() => undefined, (e: unknown) => e);
    expect(err).toMatchObject({ cause: refused });
  });

  it('unit guard: starting a child process throws, by every function of node:child_process', () => {
    expect(() => spawn(process.execPath, ['-e', ''])).toThrow(refused);
    expect(() => fork('-e')).toThrow(refused);
    expect(() => execFile(process.execPath, ['-e', ''])).toThrow(refused);
    expect(() => spawnSync(process.execPath, ['-e', ''])).toThrow(refused);
    expect(() => execFileSync(process.execPath, ['-e', ''])).toThrow(refused);
  });

  it('unit guard: starting a worker thread throws', () => {
    expect(() => new Worker('', { eval: true })).toThrow(refused);
  });
});
