import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_ROUTES } from '../../host/protocol.ts';
import { KV_ROUTES } from '../../kvs/index.ts';
import type { Platform } from '../helpers/platform.ts';
import { platformPlan, type CredentialPlan } from './credentials.ts';
import { FUZZ_RUNS, FUZZ_SEED, deadlineFor, runs } from './fuzz.ts';
import { forRoute, hostGenerators, type World } from './host-routes.ts';
import { perRoute, runCases } from './http-run.ts';
import { forKvRoute, kvGenerators } from './kv-routes.ts';
import { Sender } from './send.ts';
import { snapshot, startWorld } from './world.ts';

// The hostile-input suite, cluster-internal routes: a host's (access `internal`) and every
// route of the KV node (test/README.md, "The hostile-input suite").
const HOST_SHARE = runs(0.2);
const KV_SHARE = runs(0.3);

describe(`hostile HTTP: cluster-internal routes of a host and a KV node (seed ${FUZZ_SEED}, ${HOST_SHARE + KV_SHARE} of ${FUZZ_RUNS} cases)`, () => {
  let p: Platform;
  let w: World;
  let host: Sender;
  let kv: Sender;
  let plan: CredentialPlan;
  let before: unknown;

  beforeAll(async () => {
    const world = await startWorld();
    ({ p, w } = world);
    plan = platformPlan(p, world.tokens);
    host = new Sender(p.host.url);
    kv = new Sender(p.kv.url);
    before = await snapshot(p, w);
  });
  afterAll(async () => {
    await host?.close();
    await kv?.close();
    await p?.stop();
  });

  it('host: every case is refused with a documented code, in the documented shape, within 5 s', async () => {
    const gens = hostGenerators(w);
    const routes = HOST_ROUTES.filter((r) => r.access === 'internal');
    const seen = await runCases(host, perRoute(routes.map((r) => forRoute(r, w, gens[r.name]))), plan.internal, HOST_SHARE);
    if (HOST_SHARE >= 1000) for (const r of routes) expect(seen.get(r.name), r.name).toBeGreaterThan(0);
  }, deadlineFor(HOST_SHARE));

  it('KV node: every case is refused with a documented code, in the documented shape, within 5 s', async () => {
    const gens = kvGenerators();
    const seen = await runCases(kv, perRoute(KV_ROUTES.map((r) => forKvRoute(r, gens[r.name]))), plan.kv, KV_SHARE);
    if (KV_SHARE >= 1000) for (const r of KV_ROUTES) expect(seen.get(r.name), r.name).toBeGreaterThan(0);
  }, deadlineFor(KV_SHARE));

  it('both still answer, and nothing a user or the cluster can see changed', async () => {
    expect((await p.client.request('GET', '/healthz')).status).toBe(200);
    expect((await fetch(`${p.kv.url}/kv/v1/healthz`)).status).toBe(200);
    expect(await snapshot(p, w)).toEqual(before);
  });
});
