import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { TRANSFER_BYTES_PER_MS, Transport } from '../../kvs/transport.ts';

// A deadline covers reaching the node and its first answer; the bytes a request or its answer
// moves add time at TRANSFER_BYTES_PER_MS, so a large value that is moving is not cut off.
describe('Transport: deadlines grow with the bytes moved', () => {
  let server: Server | undefined;
  let transport: Transport | undefined;
  afterEach(async () => {
    await transport?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = transport = undefined;
  });

  async function start(handler: Parameters<typeof createServer>[1]): Promise<string> {
    server = createServer(handler);
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  // 400 ms worth of bytes at the allowance rate, sent in two halves 250 ms apart.
  const size = 400 * TRANSFER_BYTES_PER_MS;

  it('an answer that announces its size gets time for it beyond the base deadline', async () => {
    const url = await start((_req, res) => {
      res.writeHead(200, { 'content-length': size });
      res.write(Buffer.alloc(size / 2, 1));
      setTimeout(() => res.end(Buffer.alloc(size / 2, 2)), 250);
    });
    transport = new Transport({ connections: 1, timeoutMs: 100 });
    const reply = await transport.request(url, { method: 'GET', path: '/big' });
    expect(reply.status).toBe(200);
    expect(reply.body.byteLength).toBe(size);
  });

  it('a request that carries a large body gets time for it before the answer', async () => {
    const url = await start((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.byteLength));
      req.on('end', () => setTimeout(() => res.end(String(n)), 250));
    });
    transport = new Transport({ connections: 1, timeoutMs: 100 });
    const reply = await transport.request(url, { method: 'PUT', path: '/big', body: new Uint8Array(size) });
    expect(reply.body.toString()).toBe(String(size));
  });

  it('an answer that never comes still ends at the base deadline (plus the request body\'s allowance)', async () => {
    const url = await start(() => undefined);
    transport = new Transport({ connections: 1, timeoutMs: 100 });
    await expect(transport.request(url, { method: 'GET', path: '/never' })).rejects.toMatchObject({
      code: 'KV_UNAVAILABLE', message: expect.stringMatching(/did not answer within 100 ms/),
    });
  });
});
