import { CloudburstError, readJson, sendJson } from '../../common/index.ts';
import type { Principal } from '../auth/principal.ts';
import type { HostHandler } from '../routes.ts';
import { HOST_LIMITS, answerHeaders, hostPath, parseDagCall, type HostRouteName } from '../protocol.ts';
import type { Quotas } from '../quotas/quotas.ts';
import type { DagOutcome } from './coordinator.ts';
import type { DagService } from './service.ts';
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

    // Cluster-internal: hosts send each other schedules, triggers and reports. Each is
    // acknowledged (204) before it is acted on, so that a sender never waits for a step to run.
    dagSchedule: async ({ req, res, principal }) => {
      const reading = readJson(req, o.maxBodyBytes);
      o.prewake();
      const msg = inTenant(principal, parseSchedule(await reading));
      res.writeHead(204).end();
      dags.schedule(msg);
    },

    dagTrigger: async ({ req, res, principal }) => {
      const reading = readJson(req, o.maxBodyBytes);
      o.prewake();
      const msg = inTenant(principal, parseTrigger(await reading));
      res.writeHead(204).end();
      dags.trigger(msg);
    },

    dagDone: async ({ req, res, principal }) => {
      const msg = inTenant(principal, parseDone(await readJson(req, o.maxBodyBytes)));
      res.writeHead(204).end();
      dags.done(msg);
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
