/**
 * Which wire a KV client or node speaks for the hot operations: `binary` (kvs/wire/frame.ts,
 * after an HTTP upgrade; an origin that refuses the upgrade is spoken to over HTTP) or `http`
 * (plain HTTP requests only, as before the binary wire existed).
 */
import { CloudburstError } from '../../common/index.ts';

export type WireMode = 'binary' | 'http';
export const WIRE_MODES: readonly WireMode[] = ['binary', 'http'];

/** The environment variable that sets the default everywhere (the `wire` option of `startKvNode` and `KvClient` overrides it). */
export const WIRE_ENV = 'CLOUDBURST_KV_WIRE';

/**
 * The wire of a client or node not told otherwise: CLOUDBURST_KV_WIRE, else `binary`.
 *
 * @throws CloudburstError `INVALID_REQUEST` when the variable is neither `binary` nor `http`.
 * @example
 * new Transport({ wire: defaultWire() })
 */
export function defaultWire(env: NodeJS.ProcessEnv = process.env): WireMode {
  const v = env[WIRE_ENV];
  if (v === undefined || v === '') return 'binary';
  if (v === 'binary' || v === 'http') return v;
  throw new CloudburstError('INVALID_REQUEST', `${WIRE_ENV} must be binary or http, not ${JSON.stringify(v)}`);
}
