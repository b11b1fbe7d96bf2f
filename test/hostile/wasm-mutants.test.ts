import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ERROR_CODES, isErrorCode } from '../../common/index.ts';
import { guestBytes, metric, startPlatform, waitFor, type Platform } from '../helpers/platform.ts';
import { functionImports, joinSections, renameImport, splitSections, u32, withMemoryLimits, withTypes, type Section } from '../helpers/wasm-rewrite.ts';
import { FUZZ_RUNS, FUZZ_SEED, deadlineFor, fuzzParams } from './fuzz.ts';

// The hostile-input suite, uploads (test/README.md, "The hostile-input suite"): mutants of
// real built modules, each refused with an upload code or, if accepted, callable with any
// documented answer, and the host unharmed after all of them.

const MUTANTS = Math.max(1, Math.round(FUZZ_RUNS / 10));
const WORKERS = 2;
const UPLOAD_CODES = ['INVALID_WASM', 'FORBIDDEN_IMPORT', 'MISSING_TYPES', 'MEMORY_LIMIT'];
const BASES = ['math', 'counter', 'arrays'] as const;

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'types'; text: string }
  | { kind: 'memory'; min: number; max: number }
  | { kind: 'import'; which: number; module: string; name: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('types' as const), text: fc.oneof(fc.string({ maxLength: 40 }), fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), fc.constantFrom('{"version":1,"exports":[],"classIds":{}}', '{"version":99}', '\u0000', '{"version":1,"exports":[{"name":"square","params":[],"result":"i64"}],"classIds":{}}')) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('memory' as const), min: fc.constantFrom(0, 1, 4096, 65536, 2 ** 31), max: fc.constantFrom(0, 1, 65536, 2 ** 32 - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('import' as const), which: fc.nat(), module: fc.constantFrom('env', 'cloudburst', 'wasi_snapshot_preview1', 'fs', ''), name: fc.constantFrom('fd_write', 'process_exit', 'eval', 'get_host', 'memory', '') }) },
);

function mutate(base: Uint8Array, m: Mutation): Uint8Array {
  switch (m.kind) {
    case 'flip': {
      const out = Uint8Array.from(base);
      const at = 8 + (m.at % (out.length - 8)); // past the header: a flip there is just "not wasm"
      out[at]! ^= 1 << m.bit;
      return out;
    }
    case 'truncate':
      return base.subarray(0, m.at % base.length);
    case 'types':
      return withTypes(base, m.text);
    case 'memory':
      return withMemoryLimits(base, m.min, m.max);
    case 'import': {
      const imports = functionImports(base);
      return imports.length === 0 ? base : renameImport(base, m.which % imports.length, { module: m.module, name: m.name });
    }
  }
}

/** A module whose start function never returns: kitchen's sections with a start section pointing at a new looping function. */
function loopingStart(base: Uint8Array): Uint8Array<ArrayBuffer> {
  const sections = splitSections(base);
  const imported = functionImports(base).length;
  const fnSection = sections.find((s) => s.id === 3)!;
  const codeSection = sections.find((s) => s.id === 10)!;
  const typeSection = sections.find((s) => s.id === 1)!;
  // Append the type () -> () and a function of that type: loop { br 0 }.
  const typeCount = typeSection.payload[0]!; // fewer than 128 types in these modules
  const fnCount = fnSection.payload[0]!;
  const codeCount = codeSection.payload[0]!;
  const withType: Section = { id: 1, payload: Uint8Array.from([...u32(typeCount + 1), ...typeSection.payload.subarray(1), 0x60, 0, 0]) };
  const withFn: Section = { id: 3, payload: Uint8Array.from([...u32(fnCount + 1), ...fnSection.payload.subarray(u32(fnCount).length), ...u32(typeCount)]) };
  const body = [0x00, 0x03, 0x40, 0x0c, 0x00, 0x0b, 0x0b];
  const withCode: Section = { id: 10, payload: Uint8Array.from([...u32(codeCount + 1), ...codeSection.payload.subarray(u32(codeCount).length), ...u32(body.length), ...body]) };
  const start: Section = { id: 8, payload: Uint8Array.from(u32(imported + fnCount)) };
  const out: Section[] = [];
  for (const s of sections) {
    if (s.id === 8) continue;
    if (s.id === 9 || s.id === 10 || s.id === 12 || (s.id === 11 && !out.some((x) => x.id === 8))) {
      if (!out.some((x) => x.id === 8)) out.push(start);
    }
    out.push(s.id === 1 ? withType : s.id === 3 ? withFn : s.id === 10 ? withCode : s);
  }
  return joinSections(out);
}

/** A value of each declared type, the dullest there is. */
function dull(type: string): unknown {
  if (type === 'string') return '';
  if (type === 'bool') return false;
  if (type.endsWith('Array')) return [];
  return 0;
}

describe(`hostile uploads: ${MUTANTS} mutants of built modules (seed ${FUZZ_SEED})`, () => {
  let p: Platform;
  const bases = new Map<string, Uint8Array>();
  const outcomes = new Map<string, number>();

  beforeAll(async () => {
    // Workers the pool adds for the mutants' start functions are stopped after 1 s idle, so "back
    // to its size" is the floor again (host/README, "Executor scaling").
    p = await startPlatform({ workers: WORKERS, idleTimeoutMs: 1000, guestMemoryMiB: 16 });
    await p.deploy('math');
    for (const b of BASES) bases.set(b, new Uint8Array(guestBytes(b)));
  });
  afterAll(() => p?.stop());

  const upload = (name: string, wasm: Uint8Array) => p.client.request('PUT', `/v1/modules/${name}`, wasm, { 'content-type': 'application/octet-stream' });
  const errorCode = (body: Buffer): unknown => (JSON.parse(body.toString()) as { error?: { code?: unknown } }).error?.code;

  it('each mutant is refused with an upload code, or accepted and callable with documented answers', async () => {
    let n = 0;
    await fc.assert(fc.asyncProperty(fc.constantFrom(...BASES), mutation, async (base, m) => {
      const name = `mut-${n++}`;
      const r = await upload(name, mutate(bases.get(base)!, m));
      if (r.status !== 200) {
        const code = errorCode(r.body);
        outcomes.set(String(code), (outcomes.get(String(code)) ?? 0) + 1);
        expect(UPLOAD_CODES, `${base} ${JSON.stringify(m)}: ${r.status} ${r.body.toString().slice(0, 200)}`).toContain(code);
        expect(r.status).toBe(ERROR_CODES[code as keyof typeof ERROR_CODES].status);
        return;
      }
      outcomes.set('accepted', (outcomes.get('accepted') ?? 0) + 1);
      const { functions } = JSON.parse(r.body.toString()) as { functions: { name: string; params: { type: string }[] }[] };
      for (const f of functions.slice(0, 3)) {
        const call = await p.client.request('POST', `/v1/functions/${f.name}/call`, JSON.stringify({ args: f.params.map((x) => dull(x.type)), timeoutMs: 2000 }));
        if (call.status === 200) continue;
        const code = errorCode(call.body);
        expect(isErrorCode(code) && ERROR_CODES[code].status === call.status && code !== 'INTERNAL', `${f.name} of ${base} ${JSON.stringify(m)}: ${call.status} ${call.body.toString().slice(0, 200)}`).toBe(true);
      }
      expect((await p.client.request('DELETE', `/v1/modules/${name}`)).status).toBe(200);
    }), fuzzParams(MUTANTS));
    // The mutants reached past the first check, and some were accepted (data and custom sections).
    if (MUTANTS >= 1000) expect(outcomes.size).toBeGreaterThanOrEqual(4);
  }, deadlineFor(MUTANTS, 100));

  it('start functions that never return: refused with INVALID_WASM at the trial deadline, on every worker at once', async () => {
    const looping = loopingStart(bases.get('math')!);
    expect(WebAssembly.validate(looping)).toBe(true);
    const answers = await Promise.all(Array.from({ length: WORKERS }, (_, i) => upload(`loop-${i}`, looping)));
    for (const a of answers) expect({ status: a.status, code: errorCode(a.body) }).toEqual({ status: 400, code: 'INVALID_WASM' });
  });

  it('the host is unharmed: a control function answers, /healthz answers, the pool is back to its size, only the control module is left', async () => {
    expect(await p.call('math.square', [7])).toBe(49);
    expect((await p.client.request('GET', '/healthz')).status).toBe(200);
    await waitFor(() => metric(p.client, 'cloudburst_workers'), (n) => n === WORKERS, 30_000, 'the pool to be back to its size');
    const { modules } = await p.client.json<{ modules: { name: string }[] }>('GET', '/v1/modules');
    expect(modules.map((m) => m.name)).toEqual(['math']);
  });
});
