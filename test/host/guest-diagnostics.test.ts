import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SOURCE_MAP_SECTION } from '../../guest/abi.ts';
import { appendCustomSection } from '../../tools/build/source-map-section.ts';
import { guestBytes, hostFetch, ROOT, runCli, startPlatform, type Platform } from '../helpers/platform.ts';
import { withoutCustomSection } from '../helpers/wasm-rewrite.ts';

// What a user sees when a function fails in their own code (the module built by the global
// setup from test/fixtures/guests/traps.ts, with the source map `cloudburst build` embeds),
// and what asc's console and Date bindings do in a guest: over HTTP and through the real CLI.

const FIXTURE = join(ROOT, 'test', 'fixtures', 'guests', 'traps.ts');
/** The 1-based line marked `// fails: name` in the fixture, read from the file. */
const lineOf = (name: string): number => readFileSync(FIXTURE, 'utf8').split('\n').findIndex((l) => l.includes(`// fails: ${name}`)) + 1;

interface ErrorBody {
  error: { code: string; message: string; stack?: { file?: string; line?: number; column?: number; function?: string; offset: string }[] };
}

describe('guest diagnostics: source positions of traps and aborts', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform();
    await p.deploy('traps');
    await p.deploy('kitchen');
  });
  afterAll(() => p.stop());

  const callRaw = async (fn: string, args: unknown[]): Promise<{ status: number; body: ErrorBody }> => {
    const res = await hostFetch(`${p.host.url}/v1/functions/${fn}/call`, { method: 'POST', headers: { ...p.headers, 'content-type': 'application/json' }, body: JSON.stringify({ args }) });
    return { status: res.status, body: (await res.json()) as ErrorBody };
  };

  it.each([
    ['outOfBounds', [5], 'GUEST_ABORT', 'outOfBounds', /^Index out of range at traps\.ts:LINE:\d+ \(outOfBounds\)$/],
    ['unreachableAt', [1], 'GUEST_TRAP', 'unreachableAt', /^unreachable at traps\.ts:LINE:\d+ \(unreachableAt\) \(memory: \d+ of \d+ pages\)$/],
    ['divide', [1, 0], 'GUEST_TRAP', 'divide', /^divide by zero at traps\.ts:LINE:\d+ \(divide\) \(memory: \d+ of \d+ pages\)$/],
    ['fail', ['no luck'], 'GUEST_ABORT', 'fail', /^no luck at traps\.ts:LINE:\d+ \(fail\)$/],
    ['asserts', [12], 'GUEST_ABORT', 'asserts', /^n must be under 10 at traps\.ts:LINE:\d+ \((check|asserts)\)$/],
  ])('%s: the error names the fixture\'s line, and details.stack maps every frame', async (fn, args, code, marker, pattern) => {
    const { status, body } = await callRaw(`traps.${fn}`, args);
    expect(status).toBe(500);
    expect(body.error.code).toBe(code);
    expect(body.error.message).toMatch(new RegExp(pattern.source.replace('LINE', String(lineOf(marker)))));
    expect(body.error.message).not.toContain('~lib/');
    const stack = body.error.stack!;
    expect(stack.length).toBeGreaterThan(0);
    for (const frame of stack) expect(frame.offset).toMatch(/^0x[0-9a-f]+$/);
    // Each frame where it maps (an inlined library call maps into ~lib/, which the message skips).
    expect(stack.some((f) => f.file !== undefined && f.line !== undefined && f.function !== undefined)).toBe(true);
  });

  it('the next call of a module that trapped runs (the instance was replaced)', async () => {
    await callRaw('traps.divide', [1, 0]);
    expect(await p.call('traps.divide', [6, 3])).toBe(2);
  });

  it('a module without a source map still works: traps report module offsets only', async () => {
    const bare = withoutCustomSection(new Uint8Array(guestBytes('traps')), SOURCE_MAP_SECTION);
    await p.client.json('PUT', '/v1/modules/bare', bare, true);
    const { body } = await callRaw('bare.divide', [1, 0]);
    expect(body.error).toMatchObject({ code: 'GUEST_TRAP', message: expect.stringMatching(/^divide by zero \(memory: /) });
    expect(body.error.stack![0]).toEqual({ function: 'divide', offset: expect.stringMatching(/^0x[0-9a-f]+$/) });
    expect(await p.call('bare.divide', [6, 3])).toBe(2);
  });

  it('a malformed source map refuses the upload with INVALID_WASM, and the module stays as it was', async () => {
    const bare = withoutCustomSection(new Uint8Array(guestBytes('traps')), SOURCE_MAP_SECTION);
    const bad = appendCustomSection(bare, SOURCE_MAP_SECTION, new TextEncoder().encode('{"version":3,"sources":["x.ts"],"mappings":"AA!A"}'));
    const res = await hostFetch(`${p.host.url}/v1/modules/traps`, { method: 'PUT', headers: p.headers, body: bad });
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error).toMatchObject({ code: 'INVALID_WASM', message: expect.stringContaining('source map is malformed') });
    // traps is still the module deployed before, with its map.
    expect((await callRaw('traps.divide', [1, 0])).body.error.message).toContain(`traps.ts:${lineOf('divide')}:`);
  });

  it('the CLI prints the position in the user\'s file', async () => {
    const out = await runCli(['fn', 'call', 'traps.outOfBounds', '9', '--url', p.host.url], { CLOUDBURST_TOKEN: p.token ?? '' });
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(new RegExp(`GUEST_ABORT.*at traps\\.ts:${lineOf('outOfBounds')}:\\d+ \\(outOfBounds\\)`));
  });
});

/** The `log` import's levels (guest/abi.ts LOG_DEBUG ... LOG_ERROR), by number. */
const LEVELS = ['debug', 'info', 'warn', 'error'];

describe('guest diagnostics: console and Date.now in a guest', () => {
  let p: Platform;
  const logs: { fn: string; level: string; message: string }[] = [];

  beforeAll(async () => {
    p = await startPlatform({ onGuestLog: (fn, level, message) => logs.push({ fn, level: LEVELS[level] ?? String(level), message }) });
    await p.deploy('kitchen');
  });
  afterAll(() => p.stop());

  it('console.* become the call\'s log lines at their levels; console.time measures', async () => {
    await p.call('kitchen.consoleAll', ['hello console']);
    const lines = logs.filter((l) => l.fn === 'kitchen.consoleAll').map((l) => `${l.level}:${l.message}`);
    expect(lines.slice(0, 6)).toEqual([
      'info:hello console', 'debug:hello console', 'info:hello console', 'warn:hello console', 'error:hello console',
      'error:Assertion failed: hello console',
    ]);
    expect(lines[6]).toMatch(/^info:hello console: \d+\.\d{3} ms$/);
    expect(lines[7]).toMatch(/^info:hello console: \d+\.\d{3} ms$/);
    expect(lines).toHaveLength(8);
  });

  it('Date.now() is the host\'s clock, as now() reads it', async () => {
    const before = Date.now();
    const now = Number(await p.call('kitchen.dateNow', []));
    expect(now).toBeGreaterThanOrEqual(before);
    expect(now).toBeLessThanOrEqual(Date.now());
  });
});
