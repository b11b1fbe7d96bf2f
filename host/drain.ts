import type { Running } from './host.ts';

/** What `drainHost` works on: the running host's parts, and its stop for the rest. */
export interface Draining extends Running {
  /** The directory's beat: peers read this host's record within it. */
  publishIntervalMs: number;
  /** How long nothing must be in flight before idle keep-alive connections close (as `close()`). */
  idleGraceMs: number;
  /** `stop` of host.ts, given the HTTP side's drain already under way. */
  stop(o: { drained: Promise<void> }): Promise<void>;
}

/**
 * After the deadline, how long requests still in flight that are not calls in the pool (a
 * call forwarded to a peer, a KV write) get before their connections are cut.
 */
const OVERDUE_GRACE_MS = 2000;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));

/** `work`'s outcome, or false once `ms` passed (the timer does not outlive the race: it would keep the process up). */
async function within(work: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, ms))))]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * `Host.drain()` (host/README.md, "Readiness and draining"): what a host does on SIGTERM.
 *
 * 1. `/readyz` answers 503 SHUTTING_DOWN (a load balancer or Kubernetes stops sending work),
 *    long-polls of futures end (503 SHUTTING_DOWN: ask another host), log streams end, and the host publishes
 *    its directory record as stopped, then waits two publish periods: every peer has read it
 *    by then and places no more work here. Meanwhile it serves as usual, new connections too.
 * 2. The HTTP side drains as in `close()` (common/server-drain.ts: the listener closes,
 *    answers carry `Connection: close`, requests on open connections are answered, idle
 *    connections close after a grace), and the host waits for its calls, asynchronous calls
 *    and DAG steps (the executor pool's jobs) to finish.
 * 3. At `timeoutMs` from the start, the jobs still running are cut: the pool stops their
 *    workers through the gate (never inside a commit), and each is answered 503
 *    SHUTTING_DOWN (an asynchronous call's future records it). Other requests still in flight
 *    get `OVERDUE_GRACE_MS` more, then their connections are cut.
 * 4. The rest stops as in `close()`, the outbox flushed to the tier last.
 */
export async function drainHost(p: Draining, timeoutMs: number): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  const left = (): number => Math.max(0, deadline - performance.now());
  p.readiness.drain();
  p.futures.stopWaiting();
  p.followers.endAll();
  await within(p.directory.close().then(() => true), left());
  await sleep(Math.min(2 * p.publishIntervalMs, left()));

  const drained = p.drain.close({ idleGraceMs: p.idleGraceMs, maxWaitMs: left() + OVERDUE_GRACE_MS });
  const finished = (async (): Promise<boolean> => {
    await drained;
    // Work that is not an HTTP request: asynchronous calls, DAG steps triggered earlier.
    for (;;) {
      const s = p.pool.stats();
      if (s.busy === 0 && s.queued === 0) return true;
      await sleep(25);
      if (left() === 0) return false;
    }
  })();
  const inTime = await within(finished, left());
  if (!inTime) {
    const s = p.pool.stats();
    console.error(`host ${p.id}: the drain timeout (${timeoutMs} ms) passed with ${s.busy} calls running and ${s.queued} waiting: they are cut (503 SHUTTING_DOWN)`);
    await p.pool.close();
  }
  await p.stop({ drained });
}
