/**
 * The floor of a KV store spoken to over HTTP: a bare node:http process that answers a GET
 * with 1 KiB and a PUT by echoing its body, driven through an undici Pool as KvClient drives a
 * KV node. What a KV node costs above it is its own; what it costs above Redis but within it
 * is HTTP's (kvs bench).
 */
import type { ChildProcess } from 'node:child_process';
import { Pool } from 'undici';
import { startChild } from './util.ts';

const SERVER = `
const { createServer } = require('node:http');
const value = Buffer.alloc(1024, 7);
const server = createServer({ noDelay: true }, (req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = req.method === 'GET' ? value : Buffer.concat(chunks);
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
    res.end(body);
  });
});
server.listen(0, '127.0.0.1', () => console.log('listening ' + server.address().port));
`;

/** An HTTP floor server's client: `get` and `put` of 1 KiB, each one round trip. */
export interface HttpFloor {
  get(key: string): Promise<void>;
  put(key: string, value: Buffer): Promise<void>;
  close(): Promise<void>;
}

/** Starts the floor's server (added to `children`, killed by the caller) and a Pool of `connections` to it. */
export async function startHttpFloor(children: ChildProcess[], connections: number): Promise<HttpFloor> {
  const { child, match } = await startChild(['-e', SERVER], /listening (\d+)/);
  children.push(child);
  const pool = new Pool(`http://127.0.0.1:${match[1]}`, { connections });
  const call = async (method: 'GET' | 'PUT', key: string, body?: Buffer): Promise<void> => {
    const res = await pool.request({ method, path: `/kv/${encodeURIComponent(key)}`, ...(body ? { body } : {}) });
    await res.body.arrayBuffer();
    if (res.statusCode !== 200) throw new Error(`the HTTP floor answered ${res.statusCode}`);
  };
  return { get: (key) => call('GET', key), put: (key, value) => call('PUT', key, value), close: () => pool.close() };
}
