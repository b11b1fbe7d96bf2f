/**
 * The dashboard's routes (host/README.md, "The dashboard"): its static files, open to anyone,
 * and `GET /v1/overview`, its data, with the `read` scope.
 */
import { sendJson } from '../../common/index.ts';
import type { HostHandler } from '../routes.ts';
import type { Overview } from './overview.ts';
import { sendUiFile } from './static.ts';

export function uiHandlers(overview: (tenant: string) => Promise<Overview>): Record<'ui' | 'uiFile' | 'overview', HostHandler> {
  return {
    ui: ({ res }) => sendUiFile(res, 'index.html'),
    uiFile: ({ res, params }) => sendUiFile(res, params.file!),
    overview: async ({ res, principal }) => sendJson(res, 200, await overview(principal.tenant), { 'cache-control': 'no-store' }),
  };
}
