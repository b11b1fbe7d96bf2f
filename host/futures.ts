import { randomBytes } from 'node:crypto';
import { CloudburstError, lww, type ErrorCode, type Hlc } from '../kvs/index.ts';
import { SPACES, storageKey } from './keys.ts';
import type { HostState } from './state.ts';

export type FutureStatus = 'pending' | 'done' | 'failed';

/** A future as stored in the KV tier (JSON in an LWW register) and as `GET /v1/futures/{id}` shows it. */
export interface FutureRecord {
  future: string;
  status: FutureStatus;
  function: string;
  createdAt: string;
  finishedAt?: string;
  /** Where the call ran. */
  host?: string;
  result?: unknown;
  error?: { code: ErrorCode; message: string };
}

const ID = /^[0-9a-f]{32}$/;
/** Longest a GET may wait. */
export const MAX_WAIT_MS = 60_000;
const POLL_MS = 25;

export function checkFutureId(id: unknown): string {
  if (typeof id !== 'string' || !ID.test(id)) throw new CloudburstError('FUTURE_NOT_FOUND', `${JSON.stringify(id)} is not a future id`);
  return id;
}

/**
 * Futures: the results of asynchronous calls, stored under a result key in the KV tier so that
 * any host can answer for any future. A waiter on the host that ran the call is woken at
 * once; a waiter elsewhere polls the tier until the result is there or its wait runs out.
 */
export class Futures {
  readonly #state: HostState;
  readonly #hlc: Hlc;
  readonly #local = new Map<string, { waiters: ((r: FutureRecord) => void)[] }>();

  constructor(state: HostState, hlc: Hlc) {
    this.#state = state;
    this.#hlc = hlc;
  }

  #key(id: string): string {
    return storageKey(SPACES.future, id);
  }

  #write(record: FutureRecord): void {
    // Written through the cache and its outbox: durable on this host at once (kill -9), in the
    // tier a few ms later.
    this.#state.write(new Map([[this.#key(record.future), lww.write(Buffer.from(JSON.stringify(record)), this.#hlc.now())]]));
  }

  /** Registers a pending future for a call of `fn`; returns its id. */
  create(fn: string): string {
    const id = randomBytes(16).toString('hex');
    this.#local.set(id, { waiters: [] });
    this.#write({ future: id, status: 'pending', function: fn, createdAt: new Date().toISOString() });
    return id;
  }

  /** Stores the outcome and wakes local waiters. */
  complete(id: string, fn: string, createdAt: string, outcome: { result: unknown; host: string } | { error: CloudburstError }): FutureRecord {
    const record: FutureRecord = {
      future: id, function: fn, createdAt, finishedAt: new Date().toISOString(),
      ...('error' in outcome
        ? { status: 'failed' as const, error: { code: outcome.error.code, message: outcome.error.message } }
        : { status: 'done' as const, result: outcome.result, host: outcome.host }),
    };
    this.#write(record);
    const local = this.#local.get(id);
    this.#local.delete(id);
    for (const w of local?.waiters ?? []) w(record);
    return record;
  }

  async #read(id: string, fresh: boolean): Promise<FutureRecord | undefined> {
    const v = await this.#state.read(this.#key(id), { fresh });
    if (v === undefined || v.type !== 'lww' || v.tombstone) return undefined;
    return JSON.parse(Buffer.from(v.value).toString('utf8')) as FutureRecord;
  }

  /**
   * The future's record once it is finished, or as it is when `waitMs` runs out. A future
   * nobody has heard of after the wait is FUTURE_NOT_FOUND.
   */
  async get(id: string, waitMs: number): Promise<FutureRecord> {
    checkFutureId(id);
    const deadline = Date.now() + Math.min(Math.max(0, waitMs), MAX_WAIT_MS);
    let last = await this.#read(id, false);
    for (;;) {
      if (last && last.status !== 'pending') return last;
      const remaining = deadline - Date.now();
      if (remaining <= 0) break;
      const local = this.#local.get(id);
      if (local) {
        last = await new Promise<FutureRecord | undefined>((resolve) => {
          const timer = setTimeout(() => resolve(last), remaining);
          local.waiters.push((r) => {
            clearTimeout(timer);
            resolve(r);
          });
        });
      } else {
        await new Promise((r) => setTimeout(r, Math.min(POLL_MS, remaining)));
        last = (await this.#read(id, true)) ?? last;
      }
    }
    if (!last) throw new CloudburstError('FUTURE_NOT_FOUND', `no future ${id}`);
    return last;
  }
}
