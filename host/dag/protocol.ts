// The wire format between hosts for DAG requests, in one place: the messages of the DAG routes
// (their paths and limits are HOST_PATHS.dag* and HOST_LIMITS in host/protocol.ts). These routes
// are cluster-internal (hosts call them on each other, like /v1/internal/kv/push); bodies are JSON.
// A request runs in its caller's tenant: schedules, triggers, reports and warm-ups carry it
// (`tenant`, checked here), and the sender also acts for it (PeerLink's `tenant`).
import { CloudburstError, isErrorCode, type ErrorCode } from '../../common/index.ts';
import type { ReadVersion } from '../consistency/call-session.ts';
import { readVersionFromWire } from '../consistency/step-session.ts';
import { decodeSession, type ClientSession } from '../consistency/client-session.ts';
import type { HistoryEvent } from '../consistency/history.ts';
import { parseStepSession, stepSessionToWire, type StepSession, type StepSessionWire } from '../consistency/step-session.ts';
import { checkKeyName } from '../keys.ts';
import { checkTenantName } from '../auth/principal.ts';
import { DAG_LIMITS } from './graph.ts';

export interface HostRef {
  id: string;
  url: string;
}

/** One step as the host that runs it sees it. */
export interface StepSchedule {
  fn: string;
  /** The call's fixed arguments for this function, as JSON (references are resolved where the step runs). */
  args: unknown[];
  /** How many predecessor results the step waits for. */
  inputs: number;
  /** Where the result goes: each successor's host, and the slot (declared-edge order) it fills there. */
  succs: { fn: string; slot: number; host: HostRef }[];
}

export interface ScheduleMsg {
  /** One id per run of a request (a re-run has a new one): all per-request state is keyed by it. */
  rid: string;
  /** The tenant the request runs in: its steps resolve functions and read keys there. */
  tenant: string;
  dag: string;
  coordinator: HostRef;
  /** Time left of the run, in ms; each host turns it into its own deadline (no clock sync needed). */
  remainingMs: number;
  steps: StepSchedule[];
  /** Repeatable read (absent: lww). */
  rr?: boolean;
  /** Causal (absent: lww). */
  causal?: boolean;
  /** rr with parallel branches: first reads are agreed with the coordinator (`HOST_PATHS.dagPin`). */
  shared?: boolean;
  /** Record every read and write (`?history=1`). */
  history?: boolean;
  /** The client's session (a token): each step's host brings its cache up to it first. */
  client?: string;
  /** Answer with the first messages for the coordinator's host instead of sending them (reply.ts). */
  reply?: boolean;
}

export interface TriggerMsg {
  rid: string;
  /** The request's tenant: a trigger for a request of another tenant is dropped. */
  tenant: string;
  from: string;
  to: string;
  slot: number;
  value: unknown;
  remainingMs: number;
  /** rr, causal or recorded requests only: the request's read set, causal needs and history so far. */
  session?: StepSession;
  /** The client's session after the sending step (a token). */
  client?: string;
}

export type DoneMsg =
  | { rid: string; tenant: string; ok: true; step: string; host: string; result: unknown; history?: HistoryEvent[]; client?: string }
  | { rid: string; tenant: string; ok: false; step: string; host: string; error: { code: ErrorCode; message: string } };

export type StepState = 'waiting' | 'running' | 'done' | 'failed';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const bad = (what: string): CloudburstError => new CloudburstError('INVALID_REQUEST', `malformed internal DAG message: ${what}`);

function hostRef(v: unknown): HostRef {
  if (!isObject(v) || typeof v.id !== 'string' || typeof v.url !== 'string') throw bad('host');
  return { id: v.id, url: v.url };
}

/** A client session token in a message: checked here, at the boundary. */
function clientToken(v: unknown): { client?: string } {
  if (v === undefined) return {};
  decodeSession(v, checkKeyName);
  return { client: v as string };
}

/** The client session a message carries (already checked by the parse functions below). */
export function clientOf(token: string | undefined): ClientSession | undefined {
  return token === undefined ? undefined : decodeSession(token, checkKeyName);
}

function tenantOf(v: unknown): string {
  try {
    return checkTenantName(v);
  } catch {
    throw bad('tenant');
  }
}

function remaining(v: unknown): number {
  if (typeof v !== 'number' || !Number.isFinite(v)) throw bad('remainingMs');
  return v;
}

/** Checks a schedule from another host once, at the boundary (a peer's bug must not crash this host). */
export function parseSchedule(v: unknown): ScheduleMsg {
  if (!isObject(v) || typeof v.rid !== 'string' || typeof v.dag !== 'string' || !Array.isArray(v.steps)) throw bad('schedule');
  const steps = v.steps.map((s): StepSchedule => {
    if (!isObject(s) || typeof s.fn !== 'string' || !Array.isArray(s.args) || typeof s.inputs !== 'number' || !Array.isArray(s.succs)) throw bad('step');
    return {
      fn: s.fn, args: s.args, inputs: s.inputs,
      succs: s.succs.map((x) => {
        if (!isObject(x) || typeof x.fn !== 'string' || typeof x.slot !== 'number') throw bad('successor');
        return { fn: x.fn, slot: x.slot, host: hostRef(x.host) };
      }),
    };
  });
  return {
    rid: v.rid, tenant: tenantOf(v.tenant), dag: v.dag, coordinator: hostRef(v.coordinator), remainingMs: remaining(v.remainingMs), steps,
    ...(v.rr === true ? { rr: true } : {}), ...(v.causal === true ? { causal: true } : {}), ...(v.shared === true ? { shared: true } : {}), ...(v.history === true ? { history: true } : {}),
    ...(v.reply === true ? { reply: true } : {}), ...clientToken(v.client),
  };
}

/** A trigger as it goes to another host: its session in wire form (`parseTrigger` reads it back). */
export function triggerToWire(msg: TriggerMsg): Omit<TriggerMsg, 'session'> & { session?: StepSessionWire } {
  const { session, ...rest } = msg;
  return session === undefined ? rest : { ...rest, session: stepSessionToWire(session) };
}

export function parseTrigger(v: unknown): TriggerMsg {
  if (!isObject(v) || typeof v.rid !== 'string' || typeof v.from !== 'string' || typeof v.to !== 'string' || typeof v.slot !== 'number') throw bad('trigger');
  const session = parseStepSession(v.session);
  return { rid: v.rid, tenant: tenantOf(v.tenant), from: v.from, to: v.to, slot: v.slot, value: v.value, remainingMs: remaining(v.remainingMs), ...(session ? { session } : {}), ...clientToken(v.client) };
}

export function parseDone(v: unknown): DoneMsg {
  if (!isObject(v) || typeof v.rid !== 'string' || typeof v.step !== 'string' || typeof v.host !== 'string') throw bad('done');
  const tenant = tenantOf(v.tenant);
  if (v.ok === true) {
    return { rid: v.rid, tenant, ok: true, step: v.step, host: v.host, result: v.result, ...(Array.isArray(v.history) ? { history: v.history as HistoryEvent[] } : {}), ...clientToken(v.client) };
  }
  const e = v.error;
  if (!isObject(e) || typeof e.message !== 'string') throw bad('error');
  return { rid: v.rid, tenant, ok: false, step: v.step, host: v.host, error: { code: isErrorCode(e.code) ? e.code : 'INTERNAL', message: e.message } };
}

/** A pin: a step's host proposes to the coordinator the version of `key` it read first for request `rid`. */
export interface PinRequest extends ReadVersion {
  rid: string;
  key: string;
}

/**
 * A version as a pin proposes it and as the coordinator answers it (`what` names which, in the error).
 *
 * @throws CloudburstError `INVALID_REQUEST`
 */
export function parseReadVersion(v: unknown, what: string): ReadVersion {
  const at = readVersionFromWire(v);
  if (!at) throw bad(`${what} needs "v", "host" and "url"`);
  return at;
}

export function parsePin(v: unknown): PinRequest {
  if (!isObject(v) || typeof v.rid !== 'string' || typeof v.key !== 'string') throw new CloudburstError('INVALID_REQUEST', 'a pin is {"rid", "key", "v", "host", "url"}');
  return { rid: v.rid, key: v.key, ...parseReadVersion(v, 'a pin') };
}

/** rr: a peer asks for version `v` of `key` that request `rid` read first here. */
export function parseSnapshotRequest(v: unknown): { rid: string; key: string; v: string } {
  if (!isObject(v) || typeof v.rid !== 'string' || typeof v.key !== 'string' || typeof v.v !== 'string') {
    throw new CloudburstError('INVALID_REQUEST', 'a snapshot request is {"rid", "key", "v"}');
  }
  return { rid: v.rid, key: v.key, v: v.v };
}

/** The functions of `tenant` a host is asked to load ahead of their first call: `{tenant, functions}`. */
export function parseWarm(v: unknown): { tenant: string; functions: string[] } {
  const functions = isObject(v) ? v.functions : undefined;
  if (!Array.isArray(functions) || functions.length > DAG_LIMITS.maxFunctions || !functions.every((f) => typeof f === 'string')) {
    throw new CloudburstError('INVALID_REQUEST', `"functions" is an array of at most ${DAG_LIMITS.maxFunctions} function names`);
  }
  return { tenant: tenantOf((v as Record<string, unknown>).tenant), functions: functions as string[] };
}
