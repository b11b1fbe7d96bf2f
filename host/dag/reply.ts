import { CloudburstError } from '../../common/index.ts';
import { DAG_LIMITS } from './graph.ts';
import { parseDone, parseTrigger, triggerToWire, type DoneMsg, type TriggerMsg } from './protocol.ts';

/**
 * Messages for the coordinator carried back on the schedule's response.
 *
 * A host's share of a run whose steps wait for nothing from other hosts (every predecessor of
 * each of its steps runs there too: a source and the chain after it) gets a schedule with
 * `reply: true`. Its host keeps that request open and answers it with the first messages its
 * steps have for the coordinator's host (the triggers of steps placed there, or the report of
 * the sink or of a failure), instead of sending each as a request of its own. That saves, per
 * DAG across two hosts, one internal HTTP request: its signing and write on the sender, and the
 * router, the authentication, the body read and the acknowledgement on the coordinator
 * (measured: about a floor round trip of latency per message). Later messages, and messages
 * for other hosts, go as requests, as before.
 *
 * Why only such shares: a held schedule holds one of the coordinator's connections to that
 * host until the share's steps ran. A share that waits for a trigger from elsewhere could wait
 * for one queued behind held connections; one that waits for nothing only for its own runs.
 *
 * What a failure does: the coordinator's request fails when the host dies or is cut off before
 * it answered, and the run ends at once as HOST_UNAVAILABLE (then re-run), where it used to
 * wait for the directory to see the host leave (up to its staleness limit).
 *
 * The answer is `200 {"messages": [{"kind": "trigger", ...TriggerMsg} | {"kind": "done", ...DoneMsg}]}`,
 * or `204` when the share ended with nothing for the coordinator (it was cancelled, or its results
 * went to other hosts).
 */

/** The most messages one reply may carry: each edge's trigger and each step's report, at most. */
export const MAX_REPLY_MESSAGES = DAG_LIMITS.maxEdges + DAG_LIMITS.maxFunctions;

type WireMessage = ({ kind: 'trigger' } & ReturnType<typeof triggerToWire>) | ({ kind: 'done' } & DoneMsg);

/**
 * The step host's side: an open schedule request to answer. Messages given to it in one turn
 * (a step's result to several successors, its report) go in one answer, sent once that turn's
 * promise jobs have run; after that it takes no more (`take` is false) and they go as requests.
 */
export class HeldReply {
  readonly #answer: (body: { messages: WireMessage[] } | undefined) => void;
  #messages: WireMessage[] | undefined = [];

  constructor(answer: (body: { messages: WireMessage[] } | undefined) => void) {
    this.#answer = answer;
  }

  /** Whether the reply is still open. */
  get open(): boolean {
    return this.#messages !== undefined;
  }

  trigger(msg: TriggerMsg): boolean {
    return this.#take({ kind: 'trigger', ...triggerToWire(msg) });
  }

  done(msg: DoneMsg): boolean {
    return this.#take({ kind: 'done', ...msg });
  }

  /** Answers now, with what it holds (nothing: 204); idempotent. */
  close(): void {
    const messages = this.#messages;
    if (messages === undefined) return;
    this.#messages = undefined;
    this.#answer(messages.length > 0 ? { messages } : undefined);
  }

  #take(m: WireMessage): boolean {
    const messages = this.#messages;
    if (messages === undefined || messages.length >= MAX_REPLY_MESSAGES) return false;
    if (messages.length === 0) queueMicrotask(() => this.close());
    messages.push(m);
    return true;
  }
}

/**
 * The coordinator's side: checks a reply (it comes from the network: bounded, each message
 * parsed as its route would, and of the run's tenant).
 *
 * @throws CloudburstError `INTERNAL` for a malformed reply or one of another tenant: a peer's
 *   fault, not the caller's (the run fails as that host's, and is re-run)
 */
export function parseReply(body: unknown, tenant: string): { triggers: TriggerMsg[]; dones: DoneMsg[] } {
  try {
    return checkReply(body, tenant);
  } catch (err) {
    throw new CloudburstError('INTERNAL', `a schedule's reply was refused: ${(err as Error).message}`);
  }
}

function checkReply(body: unknown, tenant: string): { triggers: TriggerMsg[]; dones: DoneMsg[] } {
  const out = { triggers: [] as TriggerMsg[], dones: [] as DoneMsg[] };
  if (body === undefined) return out;
  const messages = (body as { messages?: unknown } | null)?.messages;
  if (!Array.isArray(messages) || messages.length > MAX_REPLY_MESSAGES) {
    throw new CloudburstError('INVALID_REQUEST', `malformed internal DAG message: a schedule's reply is {"messages": [...]} with at most ${MAX_REPLY_MESSAGES}`);
  }
  for (const m of messages as unknown[]) {
    const kind = (m as { kind?: unknown } | null)?.kind;
    if (kind === 'trigger') out.triggers.push(parseTrigger(m));
    else if (kind === 'done') out.dones.push(parseDone(m));
    else throw new CloudburstError('INVALID_REQUEST', 'malformed internal DAG message: a reply\'s message is a "trigger" or a "done"');
  }
  // A host acts for the run's tenant only (as the routes check against the signed tenant).
  if ([...out.triggers, ...out.dones].some((m) => m.tenant !== tenant)) {
    throw new CloudburstError('FORBIDDEN', `a DAG reply carries a message of another tenant than ${tenant}`);
  }
  return out;
}
