import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guestBytes, runCli, startPlatform, type Platform } from '../helpers/platform.ts';

// What a newcomer ran into, through the real CLI and over HTTP: a 64-bit integer beyond 2^53
// typed on the command line, the answer of PUT /v1/kv, a deploy over an existing module, and a
// DAG whose edge cannot carry its predecessor's result.

describe('newcomer fixes', () => {
  let p: Platform;
  const cli = (...args: string[]) => runCli([...args, '--url', p.host.url], { CLOUDBURST_TOKEN: p.token ?? '' });

  beforeAll(async () => {
    p = await startPlatform();
    await p.deploy('math');
    await p.deploy('kitchen');
  });
  afterAll(() => p.stop());

  it('fn call: an i64 beyond 2^53 reaches the guest exactly as typed', async () => {
    const big = 2n ** 53n + 1n; // 9007199254740993: JSON.parse would make it ...992
    const out = await cli('fn', 'call', 'math.increment', String(big));
    expect(out.stderr).toBe('');
    expect(out.stdout.trim()).toBe(String(big + 1n));
    expect((await cli('fn', 'call', 'kitchen.echoU64', String(2n ** 64n - 1n))).stdout.trim()).toBe(String(2n ** 64n - 1n));
    expect((await cli('fn', 'call', 'kitchen.echoI64', String(-(2n ** 63n)))).stdout.trim()).toBe(String(-(2n ** 63n)));
    expect((await cli('fn', 'call', 'math.square', '7')).stdout.trim()).toBe('49');
  });

  it('HTTP: a JSON number beyond 2^53 for an i64 is refused, saying to send a string', async () => {
    const res = await p.client.request('POST', '/v1/functions/math.increment/call', '{"args": [9007199254740993]}', { 'content-type': 'application/json' });
    expect(res.status).toBe(400);
    const body = JSON.parse(res.body.toString()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('INVALID_ARGUMENTS');
    expect(body.error.message).toContain('beyond 2^53');
    expect(body.error.message).toContain('decimal string');
    expect(await p.call('math.increment', ['9007199254740993'])).toBe('9007199254740994');
  });

  it('PUT /v1/kv answers without the value; the CLI says ok', async () => {
    const value = 'x'.repeat(1000);
    const answer = await p.client.json<Record<string, unknown>>('PUT', '/v1/kv/big-text', value, true);
    expect(answer).toEqual({ key: 'big-text', type: 'lww', bytes: 1000, updatedAt: expect.any(String) });
    expect(JSON.stringify(answer)).not.toContain('xxxx');
    expect(await p.client.json('PUT', '/v1/kv/hits?type=counter', '{"add": 3}', true)).toEqual({ key: 'hits', type: 'counter', value: 3 });
    const put = await cli('kv', 'put', 'greeting', 'hello');
    expect(put.code).toBe(0);
    expect(put.stdout.trim()).toBe('ok');
    expect((await cli('kv', 'get', 'greeting')).stdout.trim()).toBe('hello');
  });

  it('deploy over an existing module says what it replaced: over HTTP, and in the CLI', async () => {
    const first = await p.client.json<{ sha256: string; replaced?: unknown }>('PUT', '/v1/modules/shapes', guestBytes('math'), true);
    expect(first.replaced).toBeUndefined();
    const second = await p.client.json<{ sha256: string; replaced?: { sha256: string; deployedAt: string; functions: { name: string }[] } }>('PUT', '/v1/modules/shapes', guestBytes('retyped'), true);
    expect(second.replaced).toEqual({
      sha256: first.sha256, deployedAt: expect.any(String),
      functions: [expect.objectContaining({ name: 'shapes.increment', result: 'i64' }), expect.objectContaining({ name: 'shapes.square' })],
    });
    // The CLI, deploying math again over retyped: what came back, what changed.
    const out = await cli('fn', 'deploy', 'build/guests/math.wasm', '--name', 'shapes');
    expect(out.code).toBe(0);
    expect(out.stdout).toContain('shapes.square(x: i64): i64');
    expect(out.stdout).toMatch(new RegExp(`replaced shapes \\(sha ${second.sha256.slice(0, 12)}, deployed [^)]+\\): added shapes\\.square; changed shapes\\.increment\\(x: i64\\): i64 \\(was \\(x: string\\): string\\)`));
    const again = await cli('fn', 'deploy', 'build/guests/math.wasm', '--name', 'shapes');
    expect(again.stdout).toContain('the same bytes, nothing changed');
  });

  it('dag create: an edge that cannot carry its predecessor\'s result is refused naming the edge; a narrowing one warns', async () => {
    const refused = await cli('dag', 'create', 'bad', '--fn', 'kitchen.echoString', '--fn', 'math.square', '--edge', 'kitchen.echoString:math.square');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('INVALID_REQUEST');
    expect(refused.stderr).toContain('edge kitchen.echoString -> math.square: kitchen.echoString returns string, and argument 0 of math.square (x: i64)');
    expect((await cli('dag', 'list')).stdout).not.toContain('bad');
    const narrow = await cli('dag', 'create', 'narrow', '--fn', 'math.increment', '--fn', 'kitchen.addI32', '--edge', 'math.increment:kitchen.addI32');
    expect(narrow.code).toBe(0);
    expect(narrow.stdout).toMatch(/warning: edge math\.increment -> kitchen\.addI32: math\.increment returns i64/);
  });
});
