import { SESSION_HEADER, clientSession, encodeSession } from '../consistency/client-session.ts';
import { CloudburstError } from '../../kvs/index.ts';
import { HOST_HEADER } from '../cluster/forward.ts';
import { readJson, sendJson } from '../http.ts';
import type { Router } from '../router.ts';
import type { Dags } from './dags.ts';
import { SNAPSHOT_PATH } from '../consistency/snapshots.ts';
import { DAG_PATHS, parseDone, parseSchedule, parseTrigger } from './protocol.ts';

export interface DagRouteOptions {
  maxBodyBytes: number;
  /** A call is arriving: wake a worker while its body is read. */
  prewake: () => void;
}

/** The DAG routes, public and cluster-internal. Every route and status code is in host/README.md. */
export function dagRoutes(router: Router, dags: Dags, o: DagRouteOptions): void {
  router.on('PUT', '/v1/dags/:name', async ({ req, res, params }) => {
    const body = await readJson(req, o.maxBodyBytes);
    sendJson(res, 200, await dags.register(params.name!, body));
  });

  router.on('GET', '/v1/dags', async ({ res }) => {
    sendJson(res, 200, { dags: await dags.list() });
  });

  router.on('GET', '/v1/dags/:name', async ({ res, params }) => {
    sendJson(res, 200, await dags.show(params.name!));
  });

  router.on('DELETE', '/v1/dags/:name', async ({ res, params }) => {
    await dags.remove(params.name!);
    sendJson(res, 200, { deleted: params.name });
  });

  router.on('POST', '/v1/dags/:name/call', async ({ req, res, params, query }) => {
    const reading = readJson(req, o.maxBodyBytes);
    o.prewake();
    const body = await reading;
    const asked = (body ?? {}) as { async?: unknown; session?: unknown };
    if (typeof body === 'object' && body !== null && asked.async !== undefined && typeof asked.async !== 'boolean') {
      throw new CloudburstError('INVALID_REQUEST', '"async" must be true or false');
    }
    const client = clientSession(req.headers[SESSION_HEADER], typeof body === 'object' && body !== null ? asked.session : undefined);
    const prepared = await dags.prepare(params.name!, body, { history: query.get('history') === '1', ...(client ? { client } : {}) });
    if (asked.async === true) {
      const id = await dags.start(prepared);
      sendJson(res, 202, { future: id }, { location: `/v1/futures/${id}` });
      return;
    }
    const started = performance.now();
    const { client: after, ...out } = await dags.call(prepared);
    sendJson(res, 200, out, {
      [HOST_HEADER]: out.hosts[prepared.topo.sink]!,
      'x-cloudburst-duration-us': String(Math.round((performance.now() - started) * 1000)),
      ...(after ? { [SESSION_HEADER]: encodeSession(after) } : {}),
    });
  });

  // Cluster-internal: hosts send each other schedules, triggers and reports. Each is
  // acknowledged (204) before it is acted on, so that a sender never waits for a step to run.
  router.on('POST', DAG_PATHS.schedule, async ({ req, res }) => {
    const reading = readJson(req, o.maxBodyBytes);
    o.prewake();
    const msg = parseSchedule(await reading);
    res.writeHead(204).end();
    dags.schedule(msg);
  });

  router.on('POST', DAG_PATHS.trigger, async ({ req, res }) => {
    const reading = readJson(req, o.maxBodyBytes);
    o.prewake();
    const msg = parseTrigger(await reading);
    res.writeHead(204).end();
    dags.trigger(msg);
  });

  router.on('POST', DAG_PATHS.done, async ({ req, res }) => {
    const msg = parseDone(await readJson(req, o.maxBodyBytes));
    res.writeHead(204).end();
    dags.done(msg);
  });

  router.on('GET', `${DAG_PATHS.request}/:rid`, ({ res, params }) => {
    sendJson(res, 200, { steps: dags.status(params.rid!) ?? {} });
  });

  router.on('DELETE', `${DAG_PATHS.request}/:rid`, ({ res, params }) => {
    dags.cancel(params.rid!);
    res.writeHead(204).end();
  });

  // rr: a peer fetches the exact version a request read first here (JSON, value in base64).
  router.on('POST', SNAPSHOT_PATH, async ({ req, res }) => {
    sendJson(res, 200, dags.serveSnapshot(await readJson(req, 1024 * 1024)));
  });

  // rr with parallel branches: a step's host proposes the version it read first (to the coordinator).
  router.on('POST', DAG_PATHS.pin, async ({ req, res }) => {
    sendJson(res, 200, dags.servePin(await readJson(req, 64 * 1024)));
  });

  router.on('GET', '/v1/internal/dag/snapshots', ({ res }) => {
    sendJson(res, 200, dags.snapshotStats());
  });

  router.on('POST', DAG_PATHS.warm, async ({ req, res }) => {
    const body = (await readJson(req, 1024 * 1024)) as { functions?: unknown } | undefined;
    sendJson(res, 200, { warmed: await dags.warmLocal(body?.functions) });
  });
}
