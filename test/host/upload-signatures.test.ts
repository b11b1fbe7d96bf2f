import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENV_FUNCTIONS, ENV_NAMESPACE, HOST_FUNCTIONS, IMPORT_NAMESPACE } from '../../guest/abi.ts';
import { ARRAY_TYPES, RESULT_TYPES, VALUE_TYPES } from '../../guest/types-section.ts';
import { guestBytes, startPlatform, type Platform } from '../helpers/platform.ts';
import {
  OP, assemble, functionExports, functionImports, renameExport, renameImport, repointExport, typed, typesJson, withTypes,
} from '../helpers/wasm-rewrite.ts';

// The host's imports are JS functions, which V8 links under any wasm signature; and the types
// section is the module's own word for what its exports take. Upload checks both against the
// binary, so that a call never reaches the host, or the guest, with values of the wrong type.

const kitchen = (): Uint8Array<ArrayBuffer> => new Uint8Array(guestBytes('kitchen'));

interface Fn {
  name: string;
  export: string;
  params: { name: string; type: string }[];
  result: string;
}

describe('upload: import and export signatures', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform({ guestMemoryMiB: 16 });
  });
  afterAll(() => p.stop());

  const upload = (name: string, body: Uint8Array) => p.client.json<{ functions: Fn[] }>('PUT', `/v1/modules/${name}`, body, true);
  const refusal = (name: string, body: Uint8Array) => upload(name, body).then(() => new Error('accepted'), (e: unknown) => e as Error & { code: string });

  it('cloudburst.get imported as (i64) -> i32 is FORBIDDEN_IMPORT, saying what the host provides', async () => {
    // square(x) = get(i64(x)): a module the old host accepted, and whose calls reached `get`
    // with a BigInt for a pointer.
    const wasm = assemble({
      types: [[['i64'], ['i32']], [['i32'], ['i32']]],
      imports: [{ module: IMPORT_NAMESPACE, name: 'get', type: 0 }],
      functions: [{ type: 1, code: [OP.localGet, 0, OP.i64ExtendI32S, OP.call, 0], export: 'square' }],
      typesSection: { version: 1, exports: [typed('square', [['x', 'i32']], 'i32')], classIds: {} },
    });
    expect(WebAssembly.validate(wasm)).toBe(true);
    const err = await refusal('badget', wasm);
    expect(err).toMatchObject({ code: 'FORBIDDEN_IMPORT' });
    expect(err.message).toContain('cloudburst.get (imported as (i64) -> i32; the host provides (i32, i32) -> i32)');
  });

  it('env.seed imported with another signature is FORBIDDEN_IMPORT', async () => {
    // kitchen with its import of cloudburst.id, () -> i32, renamed to env.seed (() -> f64).
    const wasm = renameImport(kitchen(), functionImports(kitchen()).indexOf('cloudburst.id'), { module: ENV_NAMESPACE, name: 'seed' });
    expect(WebAssembly.validate(wasm)).toBe(true);
    const err = await refusal('badseed', wasm);
    expect(err).toMatchObject({ code: 'FORBIDDEN_IMPORT' });
    expect(err.message).toContain('env.seed (imported as () -> i32; the host provides () -> f64)');
  });

  it('a host function imported under the name of another with the same signature is accepted', async () => {
    // put_durable and put have one signature: a different meaning, but no wrong values.
    const wasm = renameImport(kitchen(), functionImports(kitchen()).indexOf('cloudburst.put_durable'), { module: IMPORT_NAMESPACE, name: 'put' });
    await upload('samesig', wasm);
    expect(await p.call('samesig.putDurableLength', ['k-samesig', [1, 2, 3]])).toBe(3);
  });

  it('a types section declaring square(x: i64): i64 over an (i32) -> i32 export is MISSING_TYPES', async () => {
    const wasm = withTypes(renameExport(kitchen(), 'echoU32', 'square'), { version: 1, exports: [typed('square', [['x', 'i64']], 'i64')], classIds: {} });
    const err = await refusal('badsquare', wasm);
    expect(err).toMatchObject({ code: 'MISSING_TYPES' });
    expect(err.message).toContain('square(x: i64): i64 needs the wasm signature (i64) -> i64, but the module exports (i32) -> i32');
  });

  it('a runtime export the host calls, with a wrong signature, is MISSING_TYPES', async () => {
    // __pin pointed at noop: () instead of (i32) -> i32.
    const err = await refusal('badpin', repointExport(kitchen(), '__pin', 'noop'));
    expect(err).toMatchObject({ code: 'MISSING_TYPES' });
    expect(err.message).toContain('the runtime export __pin must be (i32) -> i32, not ()');
  });

  it('refused uploads register nothing', async () => {
    const { functions } = await p.client.json<{ functions: { module: string }[] }>('GET', '/v1/functions');
    expect(new Set(functions.map((f) => f.module))).toEqual(new Set(['samesig']));
  });

  it('a result pointer outside the guest memory is GUEST_TRAP with a clear message', async () => {
    // Declared types that lower to the same wasm types, but lie: echoU32 returns its argument,
    // which the host now takes for a pointer.
    const types = typesJson(kitchen()) as { exports: Fn[]; classIds: Record<string, number> };
    const wasm = withTypes(kitchen(), {
      ...types,
      exports: [typed('echoU32', [['x', 'u32']], 'string'), typed('echoUsize', [['x', 'u32']], 'Float64Array'), typed('addI32', [['a', 'i32'], ['b', 'i32']], 'i32')],
    });
    await upload('liar', wasm);
    const trap = (fn: string, x: number) => p.call(`liar.${fn}`, [x]).then(() => new Error('no error'), (e: unknown) => e as Error);
    for (const [fn, x, text] of [
      ['echoU32', 2, 'the string result: 2 is not a pointer to a string'],
      ['echoU32', 4294967290, "the string result: the length of the string at 4294967290: 4 bytes at address 4294967286 lie outside the guest's memory"],
      ['echoUsize', 4294967200, "the Float64Array result: the header of the array at 4294967200"],
    ] as const) {
      const err = await trap(fn, x);
      expect(err, `${fn}(${x})`).toMatchObject({ code: 'GUEST_TRAP' });
      expect(err.message, `${fn}(${x})`).toContain(text);
    }
    expect(await p.call('liar.addI32', [2, 3])).toBe(5);
  });
});

// --- Mutants of real modules ----------------------------------------------------------------

const BASES = ['kitchen', 'counter', 'math', 'arrays', 'chain'] as const;
const HOST_NAMES = [
  ...HOST_FUNCTIONS.map((s) => ({ module: IMPORT_NAMESPACE, name: s.slice(0, s.indexOf('(')) })),
  ...ENV_FUNCTIONS.map((s) => ({ module: ENV_NAMESPACE, name: s.slice(0, s.indexOf('(')) })),
];
/** The wasm type a declared type travels as (the contract upload checks, restated). */
const lowered = (t: string): string => (t === 'i64' || t === 'u64' ? 'i64' : t === 'f32' || t === 'f64' ? t : t === 'void' ? 'void' : 'i32');

type Mutation =
  | { kind: 'import'; which: number; to: number }
  | { kind: 'param'; fn: number; at: number; type: number }
  | { kind: 'result'; fn: number; type: number }
  | { kind: 'arity'; fn: number; add: boolean; type: number }
  | { kind: 'repoint'; fn: number; target: number }
  | { kind: 'classIds'; id: number }
  /** A declared type replaced by another of the same wasm type (`string` for `Float64Array`, `u8` for `i32`): accepted, but a lie. */
  | { kind: 'relabel'; fn: number; at: number; type: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('import' as const), which: fc.nat(), to: fc.nat() }),
  fc.record({ kind: fc.constant('param' as const), fn: fc.nat(), at: fc.nat(), type: fc.nat() }),
  fc.record({ kind: fc.constant('result' as const), fn: fc.nat(), type: fc.nat() }),
  fc.record({ kind: fc.constant('arity' as const), fn: fc.nat(), add: fc.boolean(), type: fc.nat() }),
  fc.record({ kind: fc.constant('repoint' as const), fn: fc.nat(), target: fc.nat() }),
  fc.record({ kind: fc.constant('classIds' as const), id: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ kind: fc.constant('relabel' as const), fn: fc.nat(), at: fc.nat(), type: fc.nat() }),
);

interface Types {
  version: number;
  exports: Fn[];
  classIds: Record<string, number>;
}

/** Applies a mutation; answers the mutant and the exports it aimed at (to be called first). */
function mutate(wasm: Uint8Array, m: Mutation): { wasm: Uint8Array; aimed: string[] } {
  const types = typesJson(wasm) as Types;
  const pick = <T>(list: readonly T[], i: number): T => list[i % list.length]!;
  const fn = 'fn' in m ? pick(types.exports, m.fn) : undefined;
  const aimed = fn ? [fn.name] : [];
  switch (m.kind) {
    case 'import': {
      const imports = functionImports(wasm);
      return { wasm: imports.length === 0 ? wasm : renameImport(wasm, m.which % imports.length, pick(HOST_NAMES, m.to)), aimed };
    }
    case 'param':
      if (fn!.params.length > 0) pick(fn!.params, m.at).type = pick(VALUE_TYPES, m.type);
      break;
    case 'result':
      fn!.result = pick(RESULT_TYPES, m.type);
      break;
    case 'arity':
      if (m.add) fn!.params.push({ name: 'extra', type: pick(VALUE_TYPES, m.type) });
      else fn!.params.pop();
      break;
    case 'repoint':
      return { wasm: repointExport(wasm, fn!.name, pick(functionExports(wasm), m.target)), aimed };
    case 'relabel': {
      // One of the parameters, or the result.
      const i = m.at % (fn!.params.length + 1);
      const current = i < fn!.params.length ? fn!.params[i]!.type : fn!.result;
      const same = RESULT_TYPES.filter((t) => lowered(t) === lowered(current) && (t !== 'void' || i === fn!.params.length));
      if (i < fn!.params.length) fn!.params[i]!.type = pick(same, m.type);
      else fn!.result = pick(same, m.type);
      break;
    }
    case 'classIds':
      for (const k of Object.keys(types.classIds)) types.classIds[k] = m.id;
      for (const t of ARRAY_TYPES) types.classIds[t] ??= m.id;
      break;
  }
  return { wasm: withTypes(wasm, types), aimed };
}

/** Small arguments of each declared type (small so that kitchen's sleeps and waits stay short). */
function argument(type: string): fc.Arbitrary<unknown> {
  const small = fc.integer({ min: 0, max: 20 });
  switch (type) {
    case 'bool':
      return fc.boolean();
    case 'f32':
    case 'f64':
      return fc.constantFrom(0, 1.5, -2, 1e300, 'NaN');
    case 'i8': case 'i16': case 'i32': case 'i64':
      return fc.integer({ min: -3, max: 20 });
    case 'string':
      return fc.string({ maxLength: 6 });
    default:
      return (ARRAY_TYPES as readonly string[]).includes(type) ? fc.array(small, { maxLength: 4 }) : small;
  }
}

/** 60 mutants take a few seconds; MUTANT_RUNS=2000 searches longer. */
const RUNS = Number(process.env.MUTANT_RUNS ?? 60);

describe('upload: mutants of real modules', () => {
  let p: Platform;
  const bases = new Map<string, Uint8Array>();

  beforeAll(async () => {
    p = await startPlatform({ guestMemoryMiB: 16 });
    for (const b of BASES) bases.set(b, new Uint8Array(guestBytes(b)));
  });
  afterAll(() => p.stop());

  it('every mutant is refused with a 4xx, or none of its calls answers INTERNAL', async () => {
    let accepted = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...BASES), fc.array(mutation, { minLength: 1, maxLength: 2 }), fc.gen(), async (base, mutations, g) => {
        let wasm = bases.get(base)!;
        const aimed: string[] = [];
        for (const m of mutations) {
          const out = mutate(wasm, m);
          wasm = out.wasm;
          aimed.push(...out.aimed);
        }
        const reply = await p.client.request('PUT', '/v1/modules/mutant', wasm);
        const body = JSON.parse(reply.body.toString()) as { functions?: Fn[]; error?: { code: string; message: string } };
        if (reply.status !== 200) {
          refused++;
          expect(reply.status, JSON.stringify(body.error)).toBeGreaterThanOrEqual(400);
          expect(reply.status, JSON.stringify(body.error)).toBeLessThan(500);
          return;
        }
        accepted++;
        // The aimed exports, then a few others (all of a small module).
        const functions = body.functions!;
        const others = functions.filter((f) => !aimed.includes(f.export));
        const chosen = [...functions.filter((f) => aimed.includes(f.export)), ...g(fc.shuffledSubarray, others, { maxLength: Math.min(6, others.length) })];
        for (const f of chosen) {
          const args = f.params.map((q) => g(argument, q.type));
          const call = await p.client.request('POST', `/v1/functions/${f.name}/call`, JSON.stringify({ args, timeoutMs: 2000 }));
          const answer = JSON.parse(call.body.toString()) as { error?: { code: string; message: string } };
          expect(answer.error?.code, `${f.name}(${JSON.stringify(args)}): ${answer.error?.message}`).not.toBe('INTERNAL');
        }
      }),
      { numRuns: RUNS },
    );
    // Both outcomes happened: the property did not pass by refusing (or accepting) everything.
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
  }, 60_000 + RUNS * 500);
});
