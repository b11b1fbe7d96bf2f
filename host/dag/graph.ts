import { CloudburstError } from '../../common/index.ts';

/** A registered DAG, as stored in the KV tier (JSON in an LWW register) and shown by the API. */
export interface DagSpec {
  name: string;
  /** Function names (`module.export`), each at most once. */
  functions: string[];
  /** `[from, to]`: the result of `from` is an argument of `to`. Declared order matters (see Topology.preds). */
  edges: [string, string][];
  createdAt: string;
}

/** The shape a call path needs, derived once per definition. */
export interface Topology {
  spec: DagSpec;
  /** Every function, predecessors before successors (sources first, the sink last). */
  order: string[];
  /**
   * Predecessors of each function in the order their edges were DECLARED: a step receives its
   * fixed arguments, then its predecessors' results in this order, whatever order they arrive in.
   */
  preds: Map<string, string[]>;
  /** Successors of each function, with the slot (index in the successor's `preds`) the result fills. */
  succs: Map<string, { fn: string; slot: number }[]>;
  sources: string[];
  sink: string;
}

export const DAG_LIMITS = { maxFunctions: 64, maxEdges: 1024, maxFunctionName: 200 } as const;

const list = (names: Iterable<string>): string => [...names].join(', ');

/**
 * Checks the shape of a registration body (`{"functions": [...], "edges": [[from, to], ...]}`)
 * and the graph it describes: acyclic, connected, exactly one sink. Whether the functions exist
 * is the caller's check (it needs the registry). Every error names the culprits.
 *
 * @example
 * const topo = parseDag('pipeline', { functions: ['math.increment', 'math.square'], edges: [['math.increment', 'math.square']] }, now);
 * topo.sink; // 'math.square'
 */
export function parseDag(name: string, body: unknown, createdAt: string): Topology {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new CloudburstError('INVALID_REQUEST', 'a DAG is {"functions": ["module.fn", ...], "edges": [["from", "to"], ...]}');
  }
  const { functions, edges = [] } = body as { functions?: unknown; edges?: unknown };
  if (!Array.isArray(functions) || functions.length === 0 || functions.length > DAG_LIMITS.maxFunctions) {
    throw new CloudburstError('INVALID_REQUEST', `"functions" must be an array of 1 to ${DAG_LIMITS.maxFunctions} function names`);
  }
  const seen = new Set<string>();
  for (const f of functions) {
    if (typeof f !== 'string' || f.length === 0 || f.length > DAG_LIMITS.maxFunctionName) {
      throw new CloudburstError('INVALID_REQUEST', `every function is a name like "module.fn"; got ${JSON.stringify(f)}`);
    }
    if (seen.has(f)) throw new CloudburstError('INVALID_REQUEST', `${f} is listed twice in "functions"; a DAG uses each function once`);
    seen.add(f);
  }
  if (!Array.isArray(edges) || edges.length > DAG_LIMITS.maxEdges) {
    throw new CloudburstError('INVALID_REQUEST', `"edges" must be an array of at most ${DAG_LIMITS.maxEdges} [from, to] pairs`);
  }
  const pairs: [string, string][] = [];
  const edgeKeys = new Set<string>();
  for (const e of edges) {
    if (!Array.isArray(e) || e.length !== 2 || typeof e[0] !== 'string' || typeof e[1] !== 'string') {
      throw new CloudburstError('INVALID_REQUEST', `every edge is a pair ["from", "to"]; got ${JSON.stringify(e)}`);
    }
    const [from, to] = e as [string, string];
    const missing = [from, to].filter((f) => !seen.has(f));
    if (missing.length > 0) {
      throw new CloudburstError('INVALID_REQUEST', `edge ${JSON.stringify(e)} names ${list(missing)}, not in "functions"`, { functions: missing });
    }
    if (from === to) throw new CloudburstError('DAG_CYCLE', `edge ${JSON.stringify(e)} is a self edge: a function cannot feed itself`, { cycle: [from, to] });
    const key = JSON.stringify(e);
    if (edgeKeys.has(key)) throw new CloudburstError('INVALID_REQUEST', `edge ${key} is declared twice`);
    edgeKeys.add(key);
    pairs.push([from, to]);
  }
  return topology({ name, functions: functions as string[], edges: pairs, createdAt });
}

/** Derives the topology of a definition, checking that it is acyclic, connected and has one sink. */
export function topology(spec: DagSpec): Topology {
  const preds = new Map<string, string[]>(spec.functions.map((f) => [f, []]));
  const succs = new Map<string, { fn: string; slot: number }[]>(spec.functions.map((f) => [f, []]));
  for (const [from, to] of spec.edges) {
    const p = preds.get(to)!;
    succs.get(from)!.push({ fn: to, slot: p.length });
    p.push(from);
  }
  // Kahn's algorithm: what cannot be ordered lies on or behind a cycle.
  const indegree = new Map(spec.functions.map((f) => [f, preds.get(f)!.length]));
  const order = spec.functions.filter((f) => indegree.get(f) === 0);
  for (let i = 0; i < order.length; i++) {
    for (const s of succs.get(order[i]!)!) {
      const d = indegree.get(s.fn)! - 1;
      indegree.set(s.fn, d);
      if (d === 0) order.push(s.fn);
    }
  }
  if (order.length < spec.functions.length) {
    const cycle = findCycle(spec.functions.filter((f) => indegree.get(f)! > 0), succs);
    throw new CloudburstError('DAG_CYCLE', `the graph has a cycle: ${cycle.join(' -> ')}`, { cycle });
  }
  const groups = components(spec.functions, preds, succs);
  if (groups.length > 1) {
    throw new CloudburstError('DAG_DISCONNECTED', `the graph falls into ${groups.length} unconnected groups: ${groups.map((g) => `[${list(g)}]`).join(' and ')}; connect them with edges or register separate DAGs`, { groups });
  }
  const sinks = spec.functions.filter((f) => succs.get(f)!.length === 0);
  if (sinks.length !== 1) {
    throw new CloudburstError('DAG_SINKS', `a DAG has exactly one sink (the function whose result is the answer); this one has ${sinks.length}: ${list(sinks)}`, { sinks });
  }
  return { spec, order, preds, succs, sources: order.filter((f) => preds.get(f)!.length === 0), sink: sinks[0]! };
}

/** A cycle among `candidates` (Kahn's leftovers: each has a predecessor among them), by depth-first search. */
function findCycle(candidates: string[], succs: Map<string, { fn: string }[]>): string[] {
  const inSet = new Set(candidates);
  const state = new Map<string, 'open' | 'closed'>();
  const path: string[] = [];
  const visit = (f: string): string[] | undefined => {
    state.set(f, 'open');
    path.push(f);
    for (const { fn } of succs.get(f)!) {
      if (!inSet.has(fn)) continue;
      if (state.get(fn) === 'open') return [...path.slice(path.indexOf(fn)), fn];
      if (state.get(fn) === undefined) {
        const found = visit(fn);
        if (found) return found;
      }
    }
    path.pop();
    state.set(f, 'closed');
    return undefined;
  };
  for (const f of candidates) {
    if (state.get(f) !== undefined) continue;
    const found = visit(f);
    if (found) return found;
  }
  return candidates; // unreachable: Kahn's leftovers always contain a cycle
}

function components(functions: string[], preds: Map<string, string[]>, succs: Map<string, { fn: string }[]>): string[][] {
  const seen = new Set<string>();
  const groups: string[][] = [];
  for (const start of functions) {
    if (seen.has(start)) continue;
    const group: string[] = [];
    const stack = [start];
    seen.add(start);
    while (stack.length > 0) {
      const f = stack.pop()!;
      group.push(f);
      for (const n of [...preds.get(f)!, ...succs.get(f)!.map((s) => s.fn)]) {
        if (!seen.has(n)) {
          seen.add(n);
          stack.push(n);
        }
      }
    }
    groups.push(functions.filter((f) => group.includes(f)));
  }
  return groups;
}
