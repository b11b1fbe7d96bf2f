import type { Client, Dispatcher } from 'undici';
import { waitFor } from './platform.ts';

/** What a server answered on a fixed set of keep-alive connections while it stopped. */
export interface LoadTally {
  ok: number;
  shuttingDown: number;
  /** Answers after `mark()` (the signal, or close()). */
  answeredAfterMark: number;
  /** New connections the server did not take once it stopped listening (acceptable: nothing was sent). */
  refused: number;
  /** Requests written on an established connection that got no answer. */
  socketErrors: string[];
  otherAnswers: string[];
}

/**
 * Keeps every client (one connection each, pipelining 1: a request is written only once the
 * previous answer is in) sending `requests` back to back until its connection is gone for good,
 * for the tests of stopping a server under load. Resolves once every connection is answering.
 */
export async function keepAliveLoad(clients: readonly Client[], requests: readonly ((n: number) => Dispatcher.RequestOptions)[]): Promise<{
  tally: LoadTally;
  /** From now on, answers count as `answeredAfterMark`. */
  mark(): void;
  /** Resolves once every connection ended (at most `limitMs`, then the load stops). */
  finished(limitMs: number): Promise<void>;
  /** Stops the load at once. */
  stop(): void;
}> {
  const tally: LoadTally = { ok: 0, shuttingDown: 0, answeredAfterMark: 0, refused: 0, socketErrors: [], otherAnswers: [] };
  const answers = new Array<number>(clients.length).fill(0);
  let marked = false;
  let stopped = false;
  const load = async (client: Client, i: number): Promise<void> => {
    for (let n = i; !stopped; n++) {
      try {
        const res = await client.request(requests[n % requests.length]!(n));
        const text = await res.body.text();
        answers[i]!++;
        if (marked) tally.answeredAfterMark++;
        if (res.statusCode === 200) tally.ok++;
        else if (res.statusCode === 503 && text.includes('"SHUTTING_DOWN"')) tally.shuttingDown++;
        else tally.otherAnswers.push(`${res.statusCode} ${text}`);
      } catch (err) {
        const { code, syscall } = err as { code?: string; syscall?: string };
        // A new connection the server did not take (it stopped listening): nothing was sent.
        if (syscall === 'connect') tally.refused++;
        else tally.socketErrors.push(`${code}: ${(err as Error).message}`);
        return;
      }
    }
  };
  const loads = clients.map(load);
  // The fixed set of connections: every one established, accepted and answering.
  await waitFor(() => Math.min(...answers), (n) => n >= 3, 30_000, 'every connection to be busy');
  return {
    tally,
    mark: () => (marked = true),
    finished: async (limitMs) => {
      const timer = setTimeout(() => (stopped = true), limitMs);
      await Promise.all(loads);
      clearTimeout(timer);
    },
    stop: () => (stopped = true),
  };
}
