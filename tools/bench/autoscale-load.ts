// The autoscale bench's load (autoscale.ts): closed-loop clients whose number steps up and down,
// every request kept with its start, end and status, and the run cut into windows afterwards.
import type { Pool } from 'undici';
import { percentile } from './stats.ts';

/** One request: times in ms since the load started; status 0 when no HTTP answer came. */
export interface Request {
  start: number;
  end: number;
  status: number;
  /** The error code of a failed request (the body's `code`, or the network error's). */
  code?: string;
}

/** `clients` closed-loop clients for `ms` milliseconds. */
export interface Step {
  clients: number;
  ms: number;
}

/** One call: POSTs `body` to `path` and answers with the status and the error code, if any. */
async function once(pool: Pool, path: string, body: string, headers: Record<string, string>): Promise<{ status: number; code?: string }> {
  try {
    const res = await pool.request({ method: 'POST', path, body, headers: { 'content-type': 'application/json', ...headers } });
    const text = await res.body.text();
    if (res.statusCode === 200) return { status: 200 };
    let code = `HTTP_${res.statusCode}`;
    try {
      code = (JSON.parse(text) as { error?: { code?: string } }).error?.code ?? code;
    } catch {
      // not JSON: the status says it
    }
    return { status: res.statusCode, code };
  } catch (err) {
    return { status: 0, code: (err as { code?: string }).code ?? String(err) };
  }
}

/**
 * Runs the steps one after the other: client i sends a request, waits for its answer, sends the
 * next, while i < the step's clients. A client beyond the count finishes its request in flight
 * (it is kept) and waits for the next step. `onStep(i, at)` is told when step i starts.
 */
export async function steppedLoad(
  pool: Pool, path: string, body: string, headers: Record<string, string>, steps: readonly Step[], onStep: (i: number, at: number) => void = () => undefined,
): Promise<{ requests: Request[]; stepsAt: number[] }> {
  const t0 = performance.now();
  const now = (): number => performance.now() - t0;
  const requests: Request[] = [];
  const stepsAt: number[] = [];
  let active = 0;
  let over = false;
  // Clients waiting for more clients to be wanted wait on this; a step wakes them all.
  let wake: () => void = () => undefined;
  let stepped = new Promise<void>((r) => (wake = r));
  const client = async (i: number): Promise<void> => {
    while (!over) {
      if (i >= active) {
        await stepped;
        continue;
      }
      const start = now();
      const r = await once(pool, path, body, headers);
      requests.push({ start, end: now(), ...r });
    }
  };
  const most = Math.max(...steps.map((s) => s.clients));
  const clients = Array.from({ length: most }, (_, i) => client(i));
  for (const [i, step] of steps.entries()) {
    stepsAt.push(now());
    onStep(i, stepsAt[i]!);
    active = step.clients;
    const woken = wake;
    stepped = new Promise<void>((r) => (wake = r));
    woken();
    await new Promise((r) => setTimeout(r, step.ms));
  }
  over = true;
  wake();
  await Promise.all(clients);
  return { requests, stepsAt };
}

/** What the load did in one window, by the requests that ended in it. */
export interface LoadWindow {
  /** The window's start, seconds since the load started. */
  t: number;
  /** The clients wanted in the middle of the window. */
  clients: number;
  /** Requests answered 200 per second. */
  throughput: number;
  /** Latency of the requests answered 200, ms. */
  p50: number;
  p99: number;
  failed: number;
}

/**
 * The requests that ended in each `windowMs` window of the steps' planned time (those that
 * ended after it, in flight when the load stopped, are in no window).
 */
export function windows(requests: readonly Request[], steps: readonly Step[], stepsAt: readonly number[], windowMs: number): LoadWindow[] {
  const n = Math.round(steps.reduce((a, s) => a + s.ms, 0) / windowMs);
  const ok: number[][] = Array.from({ length: n }, () => []);
  const failed = new Array<number>(n).fill(0);
  for (const r of requests) {
    const w = Math.floor(r.end / windowMs);
    if (w >= n) continue;
    if (r.status === 200) ok[w]!.push(r.end - r.start);
    else failed[w]!++;
  }
  const clientsAt = (t: number): number => {
    let c = 0;
    for (const [i, at] of stepsAt.entries()) if (at <= t) c = steps[i]!.clients;
    return c;
  };
  return ok.map((lat, w) => ({
    t: (w * windowMs) / 1000,
    clients: clientsAt((w + 0.5) * windowMs),
    throughput: lat.length / (windowMs / 1000),
    p50: lat.length ? percentile(lat, 50) : Number.NaN,
    p99: lat.length ? percentile(lat, 99) : Number.NaN,
    failed: failed[w]!,
  }));
}

/** Requests answered 200 per second among those that ended in `[from, to)` ms. */
export function throughputBetween(requests: readonly Request[], from: number, to: number): number {
  const n = requests.filter((r) => r.status === 200 && r.end >= from && r.end < to).length;
  return (n * 1000) / (to - from);
}
