import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HOST_ROUTES } from '../../host/protocol.ts';
import { KV_ROUTES } from '../../kvs/index.ts';
import type { Platform } from '../helpers/platform.ts';
import { platformPlan, type CredentialPlan } from './credentials.ts';
import { FUZZ_RUNS, FUZZ_SEED, deadlineFor, runs } from './fuzz.ts';
import { crossTenant, forRoute, hostGenerators, rawRequests, unknownRoute, type World } from './host-routes.ts';
import { perRoute, runCases } from './http-run.ts';
import { kvGenerators } from './kv-routes.ts';
import { Sender } from './send.ts';
import { snapshot, startWorld } from './world.ts';

// The hostile-input suite, public routes of a host (test/README.md, "The hostile-input suite").
// Seed and case count: fuzz.ts.
const SHARE = runs(0.5);

describe(`hostile HTTP: a host's public routes (seed ${FUZZ_SEED}, ${SHARE} of ${FUZZ_RUNS} cases)`, () => {
  let p: Platform;
  let w: World;
  let sender: Sender;
  let plan: CredentialPlan;
  let before: unknown;

  beforeAll(async () => {
    const world = await startWorld();
    ({ p, w } = world);
    plan = platformPlan(p, world.tokens);
    sender = new Sender(p.host.url);
    before = await snapshot(p, w);
  });
  afterAll(async () => {
    await sender?.close();
    await p?.stop();
  });

  it('every route of HOST_ROUTES and KV_ROUTES has a generator (a new route needs one)', () => {
    expect(Object.keys(hostGenerators(w)).sort()).toEqual(HOST_ROUTES.map((r) => r.name).sort());
    expect(Object.keys(kvGenerators()).sort()).toEqual(KV_ROUTES.map((r) => r.name).sort());
  });

  it('every case is refused with a documented code, in the documented shape, within 5 s', async () => {
    const gens = hostGenerators(w);
    const routes = HOST_ROUTES.filter((r) => r.access !== 'internal');
    const cases = perRoute([...routes.map((r) => forRoute(r, w, gens[r.name])), unknownRoute, rawRequests]);
    const seen = await runCases(sender, cases, (c) => plan.user(c.route), SHARE);
    // A second tenant's good credential finds none of the first tenant's names.
    await runCases(sender, crossTenant(w), plan.otherTenant, runs(0.02));
    // Every route got cases (at the default count; a developer's tiny run may miss some).
    if (SHARE >= 1000) for (const r of routes) expect(seen.get(r.name), r.name).toBeGreaterThan(0);
  }, deadlineFor(SHARE));

  it('the host still answers, and nothing a user or the cluster can see changed', async () => {
    expect((await p.client.request('GET', '/healthz')).status).toBe(200);
    expect(await snapshot(p, w)).toEqual(before);
  });
});
