import type { ServerResponse } from 'node:http';
import { CloudburstError, readJson, sendJson } from '../../common/index.ts';
import type { Principal } from '../auth/principal.ts';
import type { HostHandler } from '../routes.ts';
import { HOST_LIMITS, answerHeaders, hostPath, parseDagCall, type HostRouteName } from '../protocol.ts';
import type { Quotas } from '../quotas/quotas.ts';
import type { DagOutcome } from './coordinator.ts';
import type { DagService } from './service.ts';
import { HeldReply } from './reply.ts';
import { parseDone, parsePin, parseSchedule, parseSnapshotRequest, parseTrigger, parseWarm } from './protocol.ts';

export interface DagRouteOptions {
  maxBodyBytes: number;
  /** A call is arriving: wake a worker while its body is read. */
  prewake: () => void;
  /** The tenants' quotas: a DAG call counts as one call of its tenant, here at its coordinator. */
  quotas: Quotas;
}

/**
 * A DAG message names the tenant its request runs in; the host that sent it must act for that
 * tenant (its request's principal, from the signed `x-cloudburst-tenant`), so a host cannot
 * slip a step into another tenant by what it writes in the body.
 *
 * @throws CloudburstError `FORBIDDEN`
 */
function inTenant<T extends { tenant: string }>(principal: Principal, msg: T): T {
  if (msg.tenant !== principal.tenant) {
    throw new CloudburstError('FORBIDDEN', `a DAG message of tenant ${msg.tenant} sent by a request acting for tenant ${principal.tenant}`);
  }
  return msg;
}

/**
 * Acknowledges an internal DAG message (204) once what it started has done its synchronous
 * part and the promise jobs after it: a step whose inputs are all in has its job posted to a
 * worker by then (its function and arguments are prepared without I/O once loaded). Nothing
 * waits for the 204 (senders do not await it on the way to a result), while writing it costs
 * this host a socket write (and the sender a wake-up): before the step's job, both were on the
 * DAG's critical path (~40-60 us per message, measured on the two-host bench).
 * A step that waits on I/O (a module or a reference being fetched) does not delay the 204:
 * `setImmediate` runs in this turn's check phase, whatever is pending.
 */
function acknowledgeAfter(res: ServerResponse): void {
  setImmediate(() => {
    if (!res.headersSent && !res.destroyed) res.writeHead(204).end();
  });
}

/**
 * The handlers of the DAG routes of HOST_ROUTES (protocol.ts), public and cluster-internal.
 * Every route and status code is in host/README.md.
 */
export function dagHandlers(dags: DagService, o: DagRouteOptions): Record<Extract<HostRouteName, `dag${string}`>, HostHandler> {
  return {
    dagPut: async ({ req, res, params, principal }) => {
      const body = await readJson(req, o.maxBodyBytes);
      sendJson(res, 200, await dags.register(principal.tenant, params.name!, body));
    },

    dagList: async ({ res, principal }) => {
      sendJson(res, 200, { dags: await dags.list(principal.tenant) });
    },

    dagGet: async ({ res, params, principal }) => {
      sendJson(res, 200, await dags.show(principal.tenant, params.name!));
    },

    dagDelete: async ({ res, params, principal }) => {
      await dags.remove(principal.tenant, params.name!);
      sendJson(res, 200, { deleted: params.name });
    },

    dagCall: async ({ req, res, params, query, principal }) => {
      const reading = readJson(req, o.maxBodyBytes);
      o.prewake();
      const call = parseDagCall(await reading, req.headers, query, o.quotas.timeouts(principal.tenant));
      const release = o.quotas.admitCall(principal, call.timeoutMs);
      const started = performance.now();
      let outcome: DagOutcome;
      let sink: string;
      try {
        const prepared = await dags.prepare(principal.tenant, params.name!, call);
        if (call.async) {
          const id = await dags.start(prepared, release);
          sendJson(res, 202, { future: id }, { location: hostPath.future(id) });
          return;
        }
        sink = prepared.topo.sink;
        outcome = await dags.call(prepared);
      } catch (err) {
        release();
        throw err;
      }
      release();
      const { client: after, ...out } = outcome;
      sendJson(res, 200, out, answerHeaders(out.hosts[sink]!, Math.round((performance.now() - started) * 1000), after));
    },

    // Cluster-internal: hosts send each other schedules, triggers and reports. Each is acted
    // on first, then acknowledged (204, acknowledgeAfter); a sender never waits for a step to
    // run, except for a schedule that asks for a reply (reply.ts): that one is answered with
    // the first messages its steps have for the coordinator's host.
    dagSchedule: async ({ req, res, principal }) => {
      const msg = inTenant(principal, parseSchedule(await readJson(req, o.maxBodyBytes)));
      if (!msg.reply) {
        dags.schedule(msg);
        acknowledgeAfter(res);
        return;
      }
      dags.schedule(msg, new HeldReply((body) => {
        if (res.headersSent || res.destroyed) return;
        if (body) sendJson(res, 200, body);
        else res.writeHead(204).end();
      }));
    },

    // No prewake for schedules and triggers (unlike a client's call): a woken worker spins
    // for WAKE_SPIN_MS on a core the main thread needs to read, check and post the step; a
    // lone internal message took ~300 us longer with it (tools/bench/msg-probe.ts; host/README "DAGs").
    dagTrigger: async ({ req, res, principal }) => {
      const msg = inTenant(principal, parseTrigger(await readJson(req, o.maxBodyBytes)));
      dags.trigger(msg);
      acknowledgeAfter(res);
    },

    dagDone: async ({ req, res, principal }) => {
      const msg = inTenant(principal, parseDone(await readJson(req, o.maxBodyBytes)));
      dags.done(msg);
      acknowledgeAfter(res);
    },

    dagStatus: ({ res, params }) => {
      sendJson(res, 200, { steps: dags.status(params.rid!) ?? {} });
    },

    dagCancel: ({ res, params }) => {
      dags.cancel(params.rid!);
      res.writeHead(204).end();
    },

    // rr: a peer fetches the exact version a request read first here (JSON, value in base64).
    dagSnapshot: async ({ req, res }) => {
      sendJson(res, 200, dags.serveSnapshot(parseSnapshotRequest(await readJson(req, HOST_LIMITS.snapshotBodyBytes))));
    },

    // rr with parallel branches: a step's host proposes the version it read first (to the coordinator).
    dagPin: async ({ req, res }) => {
      sendJson(res, 200, dags.servePin(parsePin(await readJson(req, HOST_LIMITS.pinBodyBytes))));
    },

    dagSnapshots: ({ res }) => {
      sendJson(res, 200, dags.snapshotStats());
    },

    dagWarm: async ({ req, res, principal }) => {
      const { tenant, functions } = inTenant(principal, parseWarm(await readJson(req, HOST_LIMITS.warmBodyBytes)));
      sendJson(res, 200, { warmed: await dags.warmLocal(tenant, functions) });
    },
  };
}
