/**
 * The front door of the platform's kernel: the error table and the small HTTP layer that the
 * KV tier, the host and the tools share. Import from here, never from files inside common/.
 */
export * from './errors.ts';
export { JSON_MAX_DEPTH, parseJsonBody, stringify } from './json.ts';
export { ClientGone, DISCARD_LIMITS, handleExpectContinue, readBody, readJson, sendFinal } from './body.ts';
export { JSON_CONTENT_TYPE, sendBytes, sendError, sendJson } from './respond.ts';
export { Router, type Handler, type RouteContext, type RouterOptions } from './router.ts';
export { ServerDrain, type DrainOptions } from './server-drain.ts';
export { listen, serve } from './serve.ts';
export { advertisedUrl, bareHost, checkAddresses, DEFAULT_LISTEN, isWildcard, urlHost } from './address.ts';
export { CLUSTER_AUTH_HEADER, CLUSTER_AUTH_SKEW_MS, CLUSTER_SECRET_MIN_BYTES, TENANT_HEADER, newClusterSecret, parseClusterSecret, signRequest, verifyRequest } from './cluster-auth.ts';
export { checkCa, checkServerTls, connectOptions, createServer, readCa, readServerTls, tlsFailure, type AnyServer, type ServerTls } from './tls.ts';
export { fullCollection, IDLE_BUFFERS, idleBufferCollections, retainIdleBuffers } from './idle-buffers.ts';
export { distPath, distUrl } from './dist-files.ts';
