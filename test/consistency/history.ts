// The history checker: every read and write of a request, with its version, as the hosts
// record them (`?history=1` on a call or a DAG call; see host/README.md, "Consistency").

/** One recorded operation (host/consistency/session.ts, HistoryEvent). */
export interface HistoryEvent {
  rid: string;
  step: string;
  host: string;
  i: number;
  op: 'r' | 'w';
  key: string;
  v: string;
}

export interface RrViolation {
  rid: string;
  key: string;
  /** The read that fixed the request's version of the key, and the later read that saw another. */
  first: HistoryEvent;
  later: HistoryEvent;
}

/**
 * Repeatable read: within one request, no two reads of a key see different versions unless
 * the request wrote the key in between. Events are taken in the order given per request
 * (a DAG's history comes in step order along its edges).
 */
export function checkRepeatableRead(events: readonly HistoryEvent[]): RrViolation[] {
  const out: RrViolation[] = [];
  const seen = new Map<string, HistoryEvent | undefined>();
  for (const e of events) {
    const id = `${e.rid}\0${e.key}`;
    if (e.op === 'w') {
      seen.set(id, undefined); // the request wrote it: the next read may see another version
      continue;
    }
    const first = seen.get(id);
    if (first === undefined) seen.set(id, e);
    else if (first.v !== e.v) out.push({ rid: e.rid, key: e.key, first, later: e });
  }
  return out;
}

/** Requests with at least one violation, out of those in the history. */
export function violatingRequests(events: readonly HistoryEvent[]): { requests: number; violating: number } {
  const rids = new Set(events.map((e) => e.rid));
  return { requests: rids.size, violating: new Set(checkRepeatableRead(events).map((v) => v.rid)).size };
}
