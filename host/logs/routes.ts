import { CloudburstError, readJson, sendJson } from '../../common/index.ts';
import { checkModuleName } from '../keys.ts';
import type { HostHandler } from '../routes.ts';
import type { HostRouteName } from '../protocol.ts';
import type { Registry } from '../registry.ts';
import type { ClusterLogs } from './cluster-logs.ts';
import { DEFAULT_LOG_LIMIT, MAX_LOG_LIMIT, decodeCursor, parseLimit } from './cursor.ts';
import type { LogFollowers } from './follow.ts';
import type { LogStore } from './log-store.ts';

export interface LogRouteDeps {
  store: LogStore;
  cluster: ClusterLogs;
  followers: LogFollowers;
  /** The function must exist in the caller's tenant (UNKNOWN_FUNCTION otherwise, as for a call). */
  registry: Registry;
}

/** `GET /v1/errors`: how many failed calls by default, and at most. */
export const DEFAULT_ERRORS_LIMIT = 50;
export const MAX_ERRORS_LIMIT = 200;

/** The body of `POST /v1/internal/logs/forget`. */
const FORGET_BODY_BYTES = 64 * 1024;

/** The longest function name the internal route takes (`module.export`; the registry checks names on the public route). */
const MAX_FN_CHARS = 512;

/** `follow`: `1`/`true` or `0`/`false` (absent: false). */
function parseFollow(text: string | null): boolean {
  if (text === null || text === '0' || text === 'false') return false;
  if (text === '1' || text === 'true') return true;
  throw new CloudburstError('INVALID_REQUEST', `follow must be 1 or 0, not ${JSON.stringify(text)}`);
}

/** The internal route's `after`: absent (the newest lines) or a seq of this host. */
function parseAfter(text: string | null): number | undefined {
  if (text === null) return undefined;
  if (!/^\d{1,15}$/.test(text)) throw new CloudburstError('INVALID_REQUEST', `after must be a whole number, not ${JSON.stringify(text)}`);
  return Number(text);
}

/**
 * The logs routes (host/README.md, "Logs"): a function's log lines over the cluster, read or
 * followed, the tenant's recent failed calls, and the internal routes each host answers for
 * its own part of them.
 */
export function logHandlers(d: LogRouteDeps): Record<Extract<HostRouteName, 'functionLogs' | 'errors' | 'logsRead' | 'errorsRead' | 'logsForget'>, HostHandler> {
  return {
    functionLogs: async ({ req, res, params, query, principal }) => {
      const limit = parseLimit(query.get('limit'), DEFAULT_LOG_LIMIT, MAX_LOG_LIMIT);
      const follow = parseFollow(query.get('follow'));
      // An EventSource that reconnects sends the last id it had: the cursor after its last line.
      const resume = query.get('since') ?? (follow ? req.headers['last-event-id'] : undefined);
      if (Array.isArray(resume)) throw new CloudburstError('INVALID_REQUEST', 'more than one Last-Event-ID header');
      const since = resume === undefined || resume === null ? undefined : decodeCursor(resume);
      const fn = (await d.registry.resolve(principal.tenant, params.fn!)).info.name;
      if (follow) return d.followers.follow(res, principal.tenant, fn, since, limit);
      sendJson(res, 200, await d.cluster.lines(principal.tenant, fn, since, limit));
    },

    errors: async ({ res, query, principal }) => {
      const limit = parseLimit(query.get('limit'), DEFAULT_ERRORS_LIMIT, MAX_ERRORS_LIMIT);
      sendJson(res, 200, await d.cluster.errors(principal.tenant, limit));
    },

    logsRead: ({ res, query, principal }) => {
      const fn = query.get('fn');
      if (fn === null || fn.length === 0 || fn.length > MAX_FN_CHARS) throw new CloudburstError('INVALID_REQUEST', `fn must name a function (1 to ${MAX_FN_CHARS} characters)`);
      const limit = parseLimit(query.get('limit'), DEFAULT_LOG_LIMIT, MAX_LOG_LIMIT);
      sendJson(res, 200, d.store.read(principal.tenant, fn, parseAfter(query.get('after')), limit));
    },

    errorsRead: ({ res, query, principal }) => {
      const limit = parseLimit(query.get('limit'), DEFAULT_ERRORS_LIMIT, MAX_ERRORS_LIMIT);
      sendJson(res, 200, { host: d.cluster.selfId, errors: d.store.errors(principal.tenant, limit) });
    },

    logsForget: async ({ req, res, principal }) => {
      const body = await readJson(req, FORGET_BODY_BYTES);
      const module = (body as { module?: unknown } | undefined)?.module;
      const bad = new CloudburstError('INVALID_REQUEST', 'the body is {"module": name of a module}');
      if (typeof module !== 'string') throw bad;
      try {
        checkModuleName(module);
      } catch {
        throw bad;
      }
      d.store.forget(principal.tenant, `${module}.`);
      res.writeHead(204).end();
    },
  };
}
