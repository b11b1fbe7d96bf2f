import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type Platform } from '../helpers/platform.ts';

/**
 * Local chains of DAG steps run in one worker job (host/dag/chain.ts). Every behaviour is
 * checked against a host that runs each step as its own call (`dagFusion: false`), in the same
 * test: the results, the errors and which step they name, and what each step left written.
 */
describe('DAG chains in one worker job', () => {
  let fused: Platform;
  let unfused: Platform;
  const logs: string[] = [];
  let run = 0;

  const CHAINS: Record<string, { functions: string[]; edges: string[][] }> = {
    pipeline: { functions: ['math.increment', 'math.square'], edges: [['math.increment', 'math.square']] },
    abc: { functions: ['fused.stepA', 'fused.stepB', 'fused.stepC'], edges: [['fused.stepA', 'fused.stepB'], ['fused.stepB', 'fused.stepC']] },
    trap: { functions: ['fused.stepA', 'fused.trapB', 'fused.stepC'], edges: [['fused.stepA', 'fused.trapB'], ['fused.trapB', 'fused.stepC']] },
    spin: { functions: ['fused.stepA', 'fused.spinB', 'fused.stepC'], edges: [['fused.stepA', 'fused.spinB'], ['fused.spinB', 'fused.stepC']] },
    // Three modules: the worker gets the other modules' specs with the job, cold or warm.
    mixed: { functions: ['math.increment', 'fused.stepB', 'kitchen.echoI64'], edges: [['math.increment', 'fused.stepB'], ['fused.stepB', 'kitchen.echoI64']] },
    strings: { functions: ['kitchen.echoString', 'kitchen.slowPrefix', 'kitchen.slowSuffix'], edges: [['kitchen.echoString', 'kitchen.slowPrefix'], ['kitchen.slowPrefix', 'kitchen.slowSuffix']] },
    // Registered while flip is math (i64 -> i64), run after flip was redeployed from retyped
    // (string -> string): the run-time check of each result (registration refuses it otherwise).
    mismatch: { functions: ['flip.increment', 'math.square'], edges: [['flip.increment', 'math.square']] },
  };

  beforeAll(async () => {
    [fused, unfused] = await Promise.all([
      startPlatform({ workers: 2, dagFusion: true, onGuestLog: (fn, _level, message) => logs.push(`${fn}: ${message}`) }),
      startPlatform({ workers: 2, dagFusion: false, onGuestLog: () => undefined }),
    ]);
    for (const p of [fused, unfused]) {
      for (const m of ['math', 'kitchen', 'fused']) await p.deploy(m);
      await p.deploy('flip', 'math');
      for (const [name, spec] of Object.entries(CHAINS)) await p.client.json('PUT', `/v1/dags/${name}`, spec);
      await p.deploy('flip', 'retyped');
    }
  }, 120_000);
  afterAll(async () => {
    await Promise.all([fused?.stop(), unfused?.stop()]);
  });

  /** The outcome of a DAG call, comparable across the two hosts (host ids left out). */
  const outcome = async (p: Platform, name: string, body: unknown): Promise<unknown> => {
    try {
      const out = await p.client.json<{ result: unknown; runs: number }>('POST', `/v1/dags/${name}/call`, body);
      return { result: out.result, runs: out.runs };
    } catch (err) {
      const e = err as { code?: string; message?: string };
      return { code: e.code, message: e.message?.replaceAll(p.host.id, '<host>') };
    }
  };
  const read = (p: Platform, key: string): Promise<unknown> => p.call('fused.read', [key]);
  const both = (f: (p: Platform) => Promise<unknown>): Promise<unknown[]> => Promise.all([f(fused), f(unfused)]);

  it('results and errors equal those of one call per step', async () => {
    const cases: [string, unknown][] = [
      ...[0, 1, 7, -3, 46340].map((x): [string, unknown] => ['pipeline', { args: { 'math.increment': [x] } }]),
      ['abc', { args: { 'fused.stepA': ['eq-a', 3], 'fused.stepB': ['eq-b'], 'fused.stepC': ['eq-c'] } }],
      ['mixed', { args: { 'math.increment': [20], 'fused.stepB': ['eq-m'] } }],
      ['strings', { args: { 'kitchen.echoString': ['mid'], 'kitchen.slowPrefix': [0, '<'], 'kitchen.slowSuffix': [0, '>'] } }],
      ['mismatch', { args: { 'flip.increment': ['seven'] } }],
    ];
    for (const [name, body] of cases) {
      const [a, b] = await both((p) => outcome(p, name, body));
      expect(a, `${name} ${JSON.stringify(body)}`).toEqual(b);
    }
    expect(await outcome(fused, 'abc', cases[5]![1])).toEqual({ result: 18, runs: 1 });
    expect(await outcome(fused, 'strings', cases[7]![1])).toEqual({ result: '<mid>', runs: 1 });
    expect(await outcome(fused, 'mismatch', cases[8]![1])).toMatchObject({ code: 'INVALID_ARGUMENTS', message: expect.stringMatching(/step math\.square.*the result of flip\.increment/) });
    // Every step committed its write, in order, on both hosts.
    expect(await both(async (p) => [await read(p, 'eq-a'), await read(p, 'eq-b'), await read(p, 'eq-c')])).toEqual([['3', '4', '8'], ['3', '4', '8']]);
  });

  it('a step failing midway: the steps before it stay written, it and those after it wrote nothing', async () => {
    const k = `trap${++run}`;
    const [a, b] = await both((p) => outcome(p, 'trap', { args: { 'fused.stepA': [`${k}-a`, 5], 'fused.trapB': [`${k}-b`], 'fused.stepC': [`${k}-c`] } }));
    expect(a).toMatchObject({ code: 'GUEST_TRAP', message: expect.stringContaining('step fused.trapB') });
    expect(a).toEqual(b);
    expect(await both(async (p) => [await read(p, `${k}-a`), await read(p, `${k}-b`), await read(p, `${k}-c`)])).toEqual([['5', '-', '-'], ['5', '-', '-']]);
    // The worker that trapped serves the next chain as before.
    expect(await outcome(fused, 'abc', { args: { 'fused.stepA': [`${k}-x`, 1], 'fused.stepB': [`${k}-y`], 'fused.stepC': [`${k}-z`] } })).toEqual({ result: 14, runs: 1 });
  });

  it('a step running past the deadline: CALL_TIMEOUT naming it; the steps before it stay written, it and those after it wrote nothing', async () => {
    const k = `spin${++run}`;
    const body = { args: { 'fused.stepA': [`${k}-a`, 9], 'fused.spinB': [`${k}-b`], 'fused.stepC': [`${k}-c`] }, timeoutMs: 400 };
    const [a, b] = await both((p) => outcome(p, 'spin', body));
    expect(a).toMatchObject({ code: 'CALL_TIMEOUT', message: expect.stringContaining('step fused.spinB') });
    expect((a as { message: string }).message).not.toMatch(/ran \d+ times/);
    expect((a as { code: string }).code).toBe((b as { code: string }).code);
    expect(await both(async (p) => [await read(p, `${k}-a`), await read(p, `${k}-b`), await read(p, `${k}-c`)])).toEqual([['9', '-', '-'], ['9', '-', '-']]);
    // The stopped worker is replaced: chains run again.
    expect(await outcome(fused, 'pipeline', { args: { 'math.increment': [2] } })).toEqual({ result: 9, runs: 1 });
  });

  it('each fused step counts as its own call: metrics and logs under its function', async () => {
    const fusedSteps = async (p: Platform): Promise<number> => Number(/^cloudburst_dag_fused_steps_total (\S+)$/m.exec((await p.client.request('GET', '/metrics')).body.toString())?.[1]);
    const fusedBefore = await fusedSteps(fused);
    const calls = async (fn: string): Promise<number> => {
      const text = (await fused.client.request('GET', '/metrics')).body.toString();
      const m = new RegExp(`^cloudburst_calls_total\\{function="${fn.replace('.', '\\.')}",outcome="ok"\\} (\\S+)$`, 'm').exec(text);
      return m ? Number(m[1]) : 0;
    };
    const fns = ['fused.stepA', 'fused.stepB', 'fused.stepC'];
    const before = await Promise.all(fns.map(calls));
    const n = 5;
    for (let i = 0; i < n; i++) {
      expect(await outcome(fused, 'abc', { args: { 'fused.stepA': [`m${i}-a`, 100 + i], 'fused.stepB': [`m${i}-b`], 'fused.stepC': [`m${i}-c`] } })).toEqual({ result: (101 + i) * 2 + 10, runs: 1 });
    }
    expect((await Promise.all(fns.map(calls))).map((v, i) => v - before[i]!)).toEqual([n, n, n]);
    // They did run in chain jobs (three steps each), and the other host never fuses.
    expect(await fusedSteps(fused) - fusedBefore).toBe(3 * n);
    expect(await fusedSteps(unfused)).toBe(0);
    expect(logs).toContain('fused.stepA: stepA 104');
    expect(logs).toContain('fused.stepB: stepB 105');
  });
});
