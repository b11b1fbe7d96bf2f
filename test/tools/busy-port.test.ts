// `cloudburst up` on a port another process holds: exit 1, and the message names the flag of
// the port at fault (the host's --port, or the embedded KV node's --kvs-port).
import { createServer, type Server } from 'node:net';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, runCli, tempDir } from '../helpers/platform.ts';

describe('cli: up on a busy port', () => {
  let dir: string;
  let busy: Server;
  let busyPort: number;
  beforeAll(async () => {
    dir = await tempDir('cb-busy-');
    busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    busyPort = (busy.address() as { port: number }).port;
  });
  afterAll(async () => {
    await new Promise((resolve) => busy.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ['--kvs-port', (free: number) => ['--port', String(free), '--kvs-port', String(busyPort)]],
    ['--port', (free: number) => ['--port', String(busyPort), '--kvs-port', String(free)]],
  ])('names %s', async (flag, args) => {
    const r = await runCli(['up', '--data', join(dir, flag), '--no-examples', ...args(await freePort())]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain(`EADDRINUSE`);
    expect(r.stderr).toContain(`another process uses this port; pick another with ${flag}\n`);
  });
});
