// Small results of every bench suite, in the shape each suite writes to .bench/SUITE-TIME.json
// (the fields its code sets, values from runs on this machine, rounded and cut down), for the
// chart and report tests (bench-plots.unit.test.ts, bench-report.unit.test.ts).
import type { Summary } from '../../tools/bench/stats.ts';

const s = (p50: number, p99: number, n = 500): Summary => ({ n, p50, p90: (p50 + p99) / 2, p99, mean: (p50 * 3 + p99) / 4 });
const head = { date: '2026-12-04T15:14:59.241Z', node: 'v20.20.2' };

export const HOST = {
  ...head,
  firstCall: { math: { deployMs: 116.25, firstCallMs: 22.36, wasmBytes: 4230 }, counter: { deployMs: 20.4, firstCallMs: 9.52, wasmBytes: 8150 } },
  sequential: { floor: s(155.4, 2450.4), square: s(555.9, 5181.1), ratioP50: 3.58, insecure: s(668.9, 4411.5), authRatioP50: 0.83 },
  throughput: { concurrency: 8, floorRps: 19869, squareRps: 3831, ratio: 0.193 },
  cpuPerRequest: { concurrency: 8, floorUs: 31, squareUs: 97, ratio: 3.1, rounds: { floor: [30, 31, 33], square: [95, 97, 99] } },
  tail: { concurrency: 32, floorP99Us: 4300, squareP99Us: 9100, ratio: 2.1, rounds: { floor: [4300], square: [9100] } },
  asyncCall: s(2600.3, 13576.7, 200),
  counterIncr: s(1180.5, 5996),
  inGuest: { getSameKeyUs: 1.12, getDistinctUs: 15.6, putUs: 17.65, getRuns: [1.12], distinctRuns: [15.6], putRuns: [17.65] },
};

const kvFig = (put: [number, number], get: [number, number], putRps: number) => ({ put: s(...put), get: s(...get), putRps });
export const KVS = {
  ...head,
  redis: kvFig([62, 240], [58, 200], 52000),
  httpFloor: kvFig([160, 900], [150, 850], 15000),
  oneNodeFsyncbatch: kvFig([900, 4000], [310, 1500], 4100),
  oneNodeFsyncoff: kvFig([420, 2100], [300, 1400], 5200),
  threeNodesW1: kvFig([700, 3500], [450, 2500], 3000),
  threeNodesW2: kvFig([1100, 5000], [460, 2600], 2400),
  convergenceMs: 180,
  stalenessUs: s(800, 3000, 50),
  relayedStalenessUs: s(1500, 6000, 50),
  failure: { rpsPerHalfSecond: [2400, 2500, 2300, 2450, 0, 600, 1900, 2000, 2100, 2050, 2000, 2100], errors: 3 },
};

export const LOCALITY = {
  ...head,
  sizes: {
    '80 KB': { hot: s(900, 2500, 20), cold: s(1900, 4000, 20), redis: s(1300, 3000, 20), coldOverHotP50: 2.1, redisOverHotP50: 1.4 },
    '8 MB': { hot: s(9000, 15000, 6), cold: s(60000, 90000, 6), redis: s(45000, 70000, 6), coldOverHotP50: 6.7, redisOverHotP50: 5 },
  },
};

export const DAG = {
  ...head,
  oneHost: { square: s(682.7, 4477.3), dag: s(1147.7, 6594.1), unfused: s(1524.5, 6547.4), nodeAtoB: s(1148.1, 6650.9), floor: s(484.3, 4356.4), ratioP50: 1.68, ratioP99: 1.47, unfusedRatioP50: 2.23 },
  throughput: { concurrency: 8, dag: 2970.7, unfused: 1827.3, ab: 5854.7, square: 4434.7, workerdAtoB: 4696, dagToNodeAtoB: 0.507, dagToUnfused: 1.626 },
  twoHosts: { oneHost: s(1135, 5633.2), acrossHosts: s(3529.5, 10859.9), square: s(777, 4720), roundTrip: s(678.6, 3898), goalUs: 2134.1, toGoal: 1.654, ratioP50: 3.11, ratioP99: 1.93 },
};

export const GOSSIP = {
  ...head,
  functions: 10, hosts: 3, gossip: s(48.2, 95.1, 20), gather: s(61.5, 120.3, 20), gossipWorstRelativeError: 0.0021, ratioP50: 0.78,
  messages: ['cloudburst_messages_sent_total 1200'],
};

const mode = (p50: number, p99: number, cpu: number, http: number) => ({
  perStep: s(p50, p99, 100), ratioP50: 1, ratioP99: 1,
  byLength: { chain2: s(p50 * 2, p99 * 2, 25), chain3: s(p50 * 3, p99 * 3, 25), chain4: s(p50 * 4, p99 * 4, 25), chain5: s(p50 * 5, p99 * 5, 25) },
  errors: {}, firstErrors: [], reruns: 0, requestsPerSecond: 300, cpuMsPerRequest: cpu, hostHttpRequestsPerRequest: http,
});
const meta = (keys: number, p50: number, p99: number) => ({ keys, metaBytes: { ...s(p50, p99, keys), max: p99 + 10 }, versions: { p50: 1, max: 2, withSiblings: 1 }, causalKeys: 0, vcEntries: { p50: 0, max: 0 }, deps: { p50: 0, max: 0 } });
export const CONSISTENCY = {
  ...head,
  setup: { keys: 10000, hosts: 3, clients: 8, requestsPerMode: 100, roundSize: 50, historyRequestsPerMode: 100, zipf: 1, chainLengths: [2, 3, 4, 5] },
  refusedModes: {},
  latency: { lww: mode(1800, 9000, 9.5, 6.1), rr: mode(2000, 9800, 10.2, 6.3), causal: mode(2600, 12000, 12.8, 7.9) },
  cutWork: { held: 3, fetches: 40, causalRequests: 100 },
  anomalies: {
    lww: { requests: 100, rrViolating: 7, causalViolating: 2, causalViolatingAllModes: 3, errors: {}, firstErrors: [] },
    rr: { requests: 100, rrViolating: 0, causalViolating: 1, causalViolatingAllModes: 2, errors: {}, firstErrors: [] },
    causal: { requests: 100, rrViolating: 0, causalViolating: 0, causalViolatingAllModes: 0, errors: {}, firstErrors: [] },
  },
  metadata: { 'last lww': meta(120, 24, 24), 'last causal': meta(90, 180, 420), 'preloaded only': meta(2000, 24, 24) },
};

export const MEMORY = {
  ...head,
  rounds: 1,
  runs: [
    { settings: '(defaults)', startMiB: 86, afterRoundMiB: [160], idleMiB: 90, workersRetired: 2, outcomes: ['GUEST_OUT_OF_MEMORY', 'ok', 'ok', 'ok', 'ok'] },
    { settings: '--worker-memory-mib 256', startMiB: 84, afterRoundMiB: [150], idleMiB: 88, workersRetired: 3, outcomes: ['GUEST_OUT_OF_MEMORY', 'ok', 'ok', 'ok', 'ok'] },
  ],
};

const tenantMode = (alone: [number, number], flooded: [number, number], floodPerSecond: number) => ({
  alone: s(...alone, 200), flooded: s(...flooded, 200), p50Ratio: flooded[0] / alone[0], p99Ratio: flooded[1] / alone[1], floodCalls: 4000, floodPerSecond,
});
export const TENANTS = {
  ...head,
  floodConnections: 64, floodCallMs: 5,
  share: tenantMode([600, 2500], [900, 4200], 380),
  fair: tenantMode([610, 2400], [1500, 7000], 395),
  fifo: tenantMode([590, 2600], [160000, 210000], 400),
};

/** An autoscale run: 1 client for 2 s, 32 for 4 s, 1 for 2 s, in 0.5 s windows. */
function autoscaleRun(scaled: boolean) {
  const windows = Array.from({ length: 16 }, (_, i) => {
    const t = i / 2;
    const clients = t >= 2 && t < 6 ? 32 : 1;
    const workers = scaled ? (t < 2.5 ? 1 : t < 7 ? 4 + (t >= 4 ? 4 : 0) : 4) : 1;
    const hosts = scaled && t >= 4 && t < 7 ? 2 : 1;
    const throughput = clients === 1 ? 160 : Math.min(workers * 150, 1300);
    return { t, clients, throughput, p50: clients === 1 ? 5.6 : 1000 / throughput * clients / 2, p99: clients === 1 ? 9 : 2000 / throughput * clients, failed: 0, workers, hosts };
  });
  windows[4]!.p50 = Number.NaN;
  return {
    windows, requests: 9000,
    failed: { total: scaled ? 1 : 0, beforeStep: 0, scaleOut: scaled ? 1 : 0, scaleIn: 0, codes: scaled ? { HOST_DRAINING: 1 } : {} },
    firstWorkerAddedS: scaled ? 0.5 : null, firstHostReadyS: scaled ? 2 : null,
    plateau: { firstPerSecond: scaled ? 600 : 150, lastPerSecond: scaled ? 1200 : 150, ratio: scaled ? 2 : 1 },
    most: { workers: scaled ? 8 : 1, hosts: scaled ? 2 : 1 }, atEnd: { workers: scaled ? 4 : 1, hosts: 1 },
    decisions: scaled ? [{ t: 3.2, action: 'out', reason: 'mean utilization 0.95 over 0.7 for 1 s' }, { t: 4, action: 'added', host: 'http://127.0.0.1:7071', reason: 'ready' }] : [],
    loadAverage: { start: 2.1, end: 4.5 },
    samples: [],
  };
}
export const AUTOSCALE = {
  ...head,
  waitMs: 5, windowMs: 500, steps: [{ clients: 1, ms: 2000 }, { clients: 32, ms: 4000 }, { clients: 1, ms: 2000 }],
  fixed: autoscaleRun(false), autoscale: autoscaleRun(true), gainOverFixed: 8,
};

export const HOTPATH = {
  ...head,
  quick: true,
  rows: [
    { figure: 'counter.incr seq p50 vs node:http+Redis GET+SET', unit: 'us', ours: 1596.8, baseline: 350, goal: { op: '<=', ratio: 1 }, ratio: 4.56, verdict: 'NOT met' },
    { figure: 'math.square throughput@8 vs floor', unit: 'req/s', ours: 3600, baseline: 5400, goal: { op: '>=', ratio: 0.6 }, ratio: 0.67, verdict: 'met' },
    { figure: 'counter.incr CPU/req vs node:http+Redis GET+SET', unit: 'us', ours: 1306.7, baseline: 160, ratio: 8.17, verdict: 'ref' },
    { figure: 'counter.incr ack -> readable at KV tier, 1 conn p50', unit: 'us', ours: 7920.9, baseline: null, absolute: true, ratio: null, verdict: 'ref' },
    { figure: 'in-guest put 1 KiB, amortized', unit: 'us', ours: 17.6, baseline: 5, goal: { op: '<', ratio: 1 }, absolute: true, ratio: 3.52, verdict: 'NOT met' },
  ],
  oneHost: { seq: { floor: s(235, 3413), square: s(470, 4840), redisIncr: s(350, 5024), incr: s(1597, 9039) } },
};

/** `npm run bench -- dev --quick` (3 saves), as dev-loop.ts saves it. */
const DEV = {
  ...head, saves: 3, goalRestMs: 1000,
  saveToCallable: { n: 3, p50: 555, p90: 1031, p99: 1031, mean: 708.7 },
  asc: { n: 3, p50: 490, p90: 934, p99: 934, mean: 635 },
  rest: { n: 3, p50: 65, p90: 97, p99: 97, mean: 73.7 },
  goalMet: true,
};

/** Every suite's fixture, by the suite's name (bench/main.ts's SUITES). */
export const RESULTS: Record<string, Record<string, unknown>> = {
  host: HOST, kvs: KVS, locality: LOCALITY, dag: DAG, gossip: GOSSIP, consistency: CONSISTENCY, memory: MEMORY, tenants: TENANTS, autoscale: AUTOSCALE, hotpath: HOTPATH, dev: DEV,
};
