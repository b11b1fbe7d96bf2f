// The worker's side of the gate (host/executor/worker-gate.ts), in one thread: what it leaves in
// the shared control word around host and guest code. That a deadline then terminates a worker
// only outside host code is tested end to end in deadlines.test.ts.
import { describe, expect, it } from 'vitest';
import { CTRL_WORDS, GATE, GATE_CLAIMED, GATE_CLOSING, GATE_FREE, GATE_HOST } from '../../host/executor/protocol.ts';
import { workerGate } from '../../host/executor/worker-gate.ts';
import { LMDB_FREE_IMPORTS } from '../../host/executor/imports.ts';

/** Control words as a worker starts: holding the gate (it opens its cache first). */
function started(): Int32Array {
  const ctrl = new Int32Array(new SharedArrayBuffer(CTRL_WORDS * 4));
  ctrl[GATE] = GATE_HOST;
  return ctrl;
}

describe('the worker\'s side of the gate', () => {
  it('host code holds the gate and guest code runs with it open, also when the guest throws', () => {
    const ctrl = started();
    const gate = workerGate(ctrl);
    gate.leave();
    expect(ctrl[GATE]).toBe(GATE_FREE);
    gate.enter();
    expect(ctrl[GATE]).toBe(GATE_HOST);
    expect(gate.outside(() => ctrl[GATE])).toBe(GATE_FREE);
    expect(ctrl[GATE]).toBe(GATE_HOST);
    expect(() => gate.outside(() => {
      throw new Error('trap');
    })).toThrow('trap');
    expect(ctrl[GATE]).toBe(GATE_HOST);
  });

  it('a main thread closing the gate while the worker is in host code gets it handed over, not opened', () => {
    const ctrl = started();
    const gate = workerGate(ctrl);
    ctrl[GATE] = GATE_CLOSING; // what the main thread's compare-exchange leaves when it finds GATE_HOST
    gate.leave();
    expect(ctrl[GATE]).toBe(GATE_CLAIMED);
  });

  it('a gated import holds the gate while it runs, keeps its arity (up to 4 parameters) and lets go after a throw', () => {
    const ctrl = started();
    const gate = workerGate(ctrl);
    gate.leave();
    const during: number[] = [];
    const seen = (): number => during.push(ctrl[GATE]!);
    const fns: WebAssembly.ModuleImports = {
      f0: () => seen(),
      f1: (a: number) => seen() + a,
      f2: (a: number, b: number) => seen() + a + b,
      f3: (a: number, b: number, c: number) => seen() + a + b + c,
      f4: (a: number, b: number, c: number, d: number) => seen() + a + b + c + d,
      f5: (a: number, b: number, c: number, d: number, e: number) => seen() + a + b + c + d + e,
      fail: () => {
        seen();
        throw new Error('host failure');
      },
      notAFunction: 7,
    };
    const env = gate.gated({ env: fns }).env as Record<string, (...a: number[]) => number>;
    for (let n = 0; n <= 5; n++) {
      const f = env[`f${n}`]!;
      expect(f.length).toBe(n <= 4 ? n : 0);
      expect(f(...Array.from({ length: n }, () => 10))).toBe(during.length + 10 * n);
      expect(ctrl[GATE]).toBe(GATE_FREE);
    }
    expect(() => env.fail!()).toThrow('host failure');
    expect(ctrl[GATE]).toBe(GATE_FREE);
    expect(during).toEqual(Array.from({ length: 7 }, () => GATE_HOST));
    expect(env.notAFunction).toBe(7);
  });

  it('leaves the imports named free (no LMDB in them: take, now) ungated, and gates the others', () => {
    const ctrl = started();
    const gate = workerGate(ctrl);
    gate.leave();
    const seen: Record<string, number> = {};
    const env = gate.gated({ cloudburst: { take: () => void (seen.take = ctrl[GATE]!), get: () => void (seen.get = ctrl[GATE]!) } }, LMDB_FREE_IMPORTS).cloudburst as Record<string, () => void>;
    env.take!();
    env.get!();
    expect(seen).toEqual({ take: GATE_FREE, get: GATE_HOST });
    expect([...LMDB_FREE_IMPORTS].sort()).toEqual(['now', 'take']);
  });
});
