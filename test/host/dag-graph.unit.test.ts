import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import { parseDag } from '../../host/dag/graph.ts';

/**
 * A random single-sink DAG over n functions: every function but the last feeds a later one
 * (so all reach the sink `f{n-1}`), plus extra forward edges; edges in a random order.
 */
const dagArb = fc.integer({ min: 1, max: 12 }).chain((n) => fc.record({
  n: fc.constant(n),
  parents: fc.tuple(...Array.from({ length: Math.max(0, n - 1) }, (_, i) => fc.integer({ min: i + 1, max: n - 1 }))),
  // Forward pairs a < b, built rather than filtered (a filter with no solution never ends).
  extra: n < 2 ? fc.constant([] as [number, number][]) : fc.array(
    fc.tuple(fc.integer({ min: 0, max: n - 2 }), fc.nat()).map(([a, k]): [number, number] => [a, a + 1 + (k % (n - 1 - a))]),
    { maxLength: 15 },
  ),
  seed: fc.integer(),
}));

function build({ parents, extra, seed }: { parents: number[]; extra: [number, number][]; seed: number }): [string, string][] {
  const keys = new Set<string>();
  const edges: [number, number][] = [];
  for (const e of [...parents.map((p, i): [number, number] => [i, p]), ...extra]) {
    if (!keys.has(`${e[0]}-${e[1]}`)) {
      keys.add(`${e[0]}-${e[1]}`);
      edges.push(e);
    }
  }
  // A deterministic shuffle: declared order must not follow the topological order.
  let s = seed;
  for (let i = edges.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    const j = s % (i + 1);
    [edges[i], edges[j]] = [edges[j]!, edges[i]!];
  }
  return edges.map(([a, b]) => [`m.f${a}`, `m.f${b}`]);
}

describe('dag graph: checks and topology', () => {
  it('every single-sink DAG is accepted; order respects edges; inputs follow declared-edge order', () => {
    fc.assert(fc.property(dagArb, (g) => {
      const functions = Array.from({ length: g.n }, (_, i) => `m.f${i}`);
      const edges = build(g);
      const topo = parseDag('d', { functions, edges }, 'now');
      expect(topo.sink).toBe(`m.f${g.n - 1}`);
      const at = new Map(topo.order.map((f, i) => [f, i]));
      for (const [a, b] of edges) expect(at.get(a)!).toBeLessThan(at.get(b)!);
      for (const f of functions) {
        expect(topo.preds.get(f)).toEqual(edges.filter(([, b]) => b === f).map(([a]) => a));
        for (const s of topo.succs.get(f)!) expect(topo.preds.get(s.fn)![s.slot]).toBe(f);
      }
      expect(topo.sources).toEqual(topo.order.filter((f) => topo.preds.get(f)!.length === 0));
    }), { numRuns: 300 });
  });

  it('an edge back to an ancestor is DAG_CYCLE, and the cycle named is a real one', () => {
    fc.assert(fc.property(dagArb.filter((g) => g.n >= 2), (g) => {
      const functions = Array.from({ length: g.n }, (_, i) => `m.f${i}`);
      const edges = build(g);
      // f0 reaches the sink, so sink -> f0 closes a cycle.
      edges.push([`m.f${g.n - 1}`, 'm.f0']);
      try {
        parseDag('d', { functions, edges }, 'now');
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(CloudburstError);
        const e = err as CloudburstError;
        expect(e.code).toBe('DAG_CYCLE');
        const cycle = e.details!.cycle as string[];
        expect(cycle[0]).toBe(cycle.at(-1));
        const set = new Set(edges.map(([a, b]) => `${a}>${b}`));
        for (let i = 1; i < cycle.length; i++) expect(set.has(`${cycle[i - 1]}>${cycle[i]}`)).toBe(true);
      }
    }), { numRuns: 200 });
  });

  it('hostile bodies are refused with a CloudburstError, never another exception', () => {
    fc.assert(fc.property(fc.anything(), fc.array(fc.anything(), { maxLength: 5 }), (functions, edges) => {
      for (const body of [functions, { functions, edges }, { functions: ['a.b', 'c.d'], edges }]) {
        try {
          parseDag('d', body, 'now');
        } catch (err) {
          expect(err).toBeInstanceOf(CloudburstError);
        }
      }
    }), { numRuns: 500 });
  });
});
