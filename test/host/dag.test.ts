import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPlatform, type Platform } from '../helpers/platform.ts';

interface DagReply {
  result: unknown;
  hosts: Record<string, string>;
  runs: number;
}

const PIPELINE = { functions: ['math.increment', 'math.square'], edges: [['math.increment', 'math.square']] };

describe('DAGs on one host', () => {
  let p: Platform;

  beforeAll(async () => {
    p = await startPlatform({ workers: 3 });
    await p.deploy('math');
    await p.deploy('kitchen');
    await p.deploy('hostile');
    await p.client.json('PUT', '/v1/dags/pipeline', PIPELINE);
  });
  afterAll(() => p.stop());

  const callDag = (name: string, body: unknown) => p.client.json<DagReply>('POST', `/v1/dags/${name}/call`, body);
  const gauge = async (name: string): Promise<number> => {
    const res = await p.client.request('GET', '/metrics');
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(res.body.toString())?.[1]);
  };

  it('registration answers with the checked DAG; list and show find it', async () => {
    const out = await p.client.json<{ dag: Record<string, unknown>; warmed: string[] }>('PUT', '/v1/dags/pipeline', PIPELINE);
    expect(out.dag).toMatchObject({ name: 'pipeline', ...PIPELINE, sources: ['math.increment'], sink: 'math.square' });
    expect(out.warmed).toEqual([p.host.id]);
    expect(await p.client.json('GET', '/v1/dags/pipeline')).toMatchObject({ name: 'pipeline', sink: 'math.square' });
    const { dags } = await p.client.json<{ dags: { name: string }[] }>('GET', '/v1/dags');
    expect(dags.map((d) => d.name)).toContain('pipeline');
  });

  it('square(increment(x)) is right for many x, and says where each step ran', async () => {
    for (let x = -20; x <= 80; x += 3) {
      const out = await callDag('pipeline', { args: { 'math.increment': [x] } });
      expect(out.result).toBe((x + 1) ** 2);
      expect(out.hosts).toEqual({ 'math.increment': p.host.id, 'math.square': p.host.id });
      expect(out.runs).toBe(1);
    }
  });

  it('concurrent calls of one DAG keep their own state (per-request ids)', async () => {
    const xs = Array.from({ length: 40 }, (_, i) => i * 7);
    const outs = await Promise.all(xs.map((x) => callDag('pipeline', { args: { 'math.increment': [x] } })));
    expect(outs.map((o) => o.result)).toEqual(xs.map((x) => (x + 1) ** 2));
  });

  it('diamond: the sink gets its inputs in declared-edge order, whatever finishes first', async () => {
    const [a, b, c, d] = ['kitchen.echoString', 'kitchen.slowSuffix', 'kitchen.slowPrefix', 'kitchen.concat'];
    // b->d is declared before c->d; b is slow, so c's result arrives first.
    await p.client.json('PUT', '/v1/dags/diamond-bc', { functions: [a, b, c, d], edges: [[a, b], [a, c], [b, d], [c, d]] });
    // c->d is declared before b->d; c is slow, so b's result arrives first.
    await p.client.json('PUT', '/v1/dags/diamond-cb', { functions: [a, b, c, d], edges: [[a, b], [a, c], [c, d], [b, d]] });
    const args = (bMs: number, cMs: number) => ({ args: { [a]: ['x'], [b]: [bMs, '-b'], [c]: [cMs, 'c-'] } });
    expect((await callDag('diamond-bc', args(300, 0))).result).toBe('x-bc-x');
    expect((await callDag('diamond-bc', args(0, 300))).result).toBe('x-bc-x');
    expect((await callDag('diamond-cb', args(300, 0))).result).toBe('c-xx-b');
    expect((await callDag('diamond-cb', args(0, 300))).result).toBe('c-xx-b');
  });

  it('{"ref": key} arguments work at every step', async () => {
    await p.client.request('PUT', '/v1/kv/dag-src', 'hello');
    await p.client.request('PUT', '/v1/kv/dag-suffix', '!');
    await p.client.json('PUT', '/v1/dags/refs', { functions: ['kitchen.echoString', 'kitchen.slowSuffix'], edges: [['kitchen.echoString', 'kitchen.slowSuffix']] });
    const out = await callDag('refs', { args: { 'kitchen.echoString': [{ ref: 'dag-src' }], 'kitchen.slowSuffix': [0, { ref: 'dag-suffix' }] } });
    expect(out.result).toBe('hello!');
    await expect(callDag('refs', { args: { 'kitchen.echoString': [{ ref: 'no-such-key' }], 'kitchen.slowSuffix': [0, 'x'] } }))
      .rejects.toMatchObject({ code: 'REF_NOT_FOUND', message: expect.stringContaining('kitchen.echoString') });
  });

  it('an async DAG call answers with a future that resolves to the sink result', async () => {
    const res = await p.client.request('POST', '/v1/dags/pipeline/call', JSON.stringify({ args: { 'math.increment': [3] }, async: true }), { 'content-type': 'application/json' });
    expect(res.status).toBe(202);
    const { future } = JSON.parse(res.body.toString()) as { future: string };
    const record = await p.client.json<{ status: string; result: unknown; function: string }>('GET', `/v1/futures/${future}?wait=5000`);
    expect(record).toMatchObject({ status: 'done', result: 16, function: 'dag:pipeline', host: p.host.id });
  });

  it('a step whose function fails fails the request at once with its error and its name', async () => {
    await p.client.json('PUT', '/v1/dags/divide', { functions: ['kitchen.addI32', 'hostile.divide'], edges: [['kitchen.addI32', 'hostile.divide']] });
    expect((await callDag('divide', { args: { 'kitchen.addI32': [1, 1], 'hostile.divide': [10] } })).result).toBe(5);
    // Had the coordinator missed the failure, the run would have ended at its deadline as
    // DAG_STEP_TIMEOUT and been re-run ("ran 3 times"): the step's own code, from the first
    // run, is what "at once" means here.
    const trapped = await callDag('divide', { args: { 'kitchen.addI32': [0, 0], 'hostile.divide': [10] } }).catch((err: unknown) => err);
    expect(trapped).toMatchObject({ code: 'GUEST_TRAP', message: expect.stringContaining('step hostile.divide') });
    expect((trapped as Error).message).not.toMatch(/ran \d+ times/);
    // A predecessor's result that does not fit the successor's parameter: refused when the
    // DAG is registered, naming the edge, both types and the way out; nothing is stored.
    const refused = p.client.json('PUT', '/v1/dags/mismatch', { functions: ['kitchen.echoString', 'math.square'], edges: [['kitchen.echoString', 'math.square']] });
    await expect(refused).rejects.toMatchObject({
      code: 'INVALID_REQUEST',
      message: expect.stringMatching(/^edge kitchen\.echoString -> math\.square: kitchen\.echoString returns string, and argument 0 of math\.square \(x: i64\).*put a function between them that converts string to i64/),
    });
    await expect(p.client.json('GET', '/v1/dags/mismatch')).rejects.toMatchObject({ code: 'UNKNOWN_DAG' });
    // The run-time check stays, for a module redeployed with other types since: the step fails.
    await p.deploy('flip', 'math');
    await p.client.json('PUT', '/v1/dags/mismatch', { functions: ['flip.increment', 'math.square'], edges: [['flip.increment', 'math.square']] });
    await p.deploy('flip', 'retyped');
    await expect(callDag('mismatch', { args: { 'flip.increment': ['seven'] } }))
      .rejects.toMatchObject({ code: 'INVALID_ARGUMENTS', message: expect.stringMatching(/flip\.increment.*math\.square/) });
  });

  it('an edge whose values may not all fit (i64 into i32) is registered with a warning naming it', async () => {
    const out = await p.client.json<{ warnings?: string[] }>('PUT', '/v1/dags/narrow', { functions: ['math.increment', 'kitchen.addI32'], edges: [['math.increment', 'kitchen.addI32']] });
    expect(out.warnings).toEqual([expect.stringMatching(/^edge math\.increment -> kitchen\.addI32: math\.increment returns i64, and argument 1 of kitchen\.addI32 \(b: i32\).*fails the step at run time/)]);
    expect((await callDag('narrow', { args: { 'math.increment': [1], 'kitchen.addI32': [40] } })).result).toBe(42);
    const wide = await p.client.json<{ warnings?: string[] }>('PUT', '/v1/dags/wide', { functions: ['kitchen.addI32', 'math.square'], edges: [['kitchen.addI32', 'math.square']] });
    expect(wide.warnings).toBeUndefined();
  });

  it('a step that runs past the deadline fails the request with CALL_TIMEOUT naming it', async () => {
    await p.client.json('PUT', '/v1/dags/slow', { functions: ['math.increment', 'kitchen.delayI64'], edges: [['math.increment', 'kitchen.delayI64']] });
    // The step's pool stops it at the call's deadline (CALL_TIMEOUT); a step left to run its
    // 3 s would instead have returned, or ended as the coordinator's DAG_STEP_TIMEOUT.
    const late = await callDag('slow', { args: { 'math.increment': [1], 'kitchen.delayI64': [3000] }, timeoutMs: 300 }).catch((err: unknown) => err);
    expect(late).toMatchObject({ code: 'CALL_TIMEOUT', message: expect.stringContaining('step kitchen.delayI64') });
    expect((late as Error).message).not.toMatch(/ran \d+ times/);
  });

  it('bad calls are refused before anything runs', async () => {
    await expect(callDag('nope', { args: {} })).rejects.toMatchObject({ code: 'UNKNOWN_DAG' });
    await expect(callDag('pipeline', { args: { 'math.cube': [1] } })).rejects.toMatchObject({ code: 'INVALID_REQUEST', message: expect.stringContaining('math.cube') });
    await expect(callDag('pipeline', { args: { 'math.increment': [] } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    await expect(callDag('pipeline', { args: { 'math.increment': [1], 'math.square': [2] } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS', message: expect.stringContaining('predecessors') });
    await expect(callDag('pipeline', { args: { 'math.increment': ['x'] } })).rejects.toMatchObject({ code: 'INVALID_ARGUMENTS' });
    await expect(callDag('pipeline', { args: [] })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(callDag('pipeline', { args: { 'math.increment': [1] }, async: 'yes' })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(callDag('pipeline', { args: { 'math.increment': [1] }, placement: { 'math.square': 'deadbeef' } })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
    await expect(callDag('pipeline', { args: { 'math.increment': [1] }, timeoutMs: -1 })).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
  });

  it('forced placement on this host is accepted', async () => {
    const out = await callDag('pipeline', { args: { 'math.increment': [4] }, placement: { 'math.square': p.host.id } });
    expect(out.result).toBe(25);
  });

  describe('registration is checked; nothing is stored when it fails', () => {
    const cases: [string, unknown, string, RegExp][] = [
      ['cycle', { functions: ['math.increment', 'math.square', 'kitchen.echoI64'], edges: [['math.increment', 'math.square'], ['math.square', 'kitchen.echoI64'], ['kitchen.echoI64', 'math.increment']] }, 'DAG_CYCLE', /math\.increment -> math\.square -> kitchen\.echoI64 -> math\.increment/],
      ['self-edge', { functions: ['math.increment', 'math.square'], edges: [['math.increment', 'math.square'], ['math.square', 'math.square']] }, 'DAG_CYCLE', /self edge/],
      ['unknown-fn', { functions: ['math.increment', 'math.cube', 'nope.nope'], edges: [['math.increment', 'math.cube'], ['math.cube', 'nope.nope']] }, 'UNKNOWN_FUNCTION', /math\.cube, nope\.nope/],
      ['two-sinks', { functions: ['math.increment', 'math.square', 'kitchen.echoI64'], edges: [['math.increment', 'math.square'], ['math.increment', 'kitchen.echoI64']] }, 'DAG_SINKS', /2: math\.square, kitchen\.echoI64/],
      ['disconnected', { functions: ['math.increment', 'math.square', 'kitchen.echoI64', 'kitchen.echoU64'], edges: [['math.increment', 'math.square'], ['kitchen.echoI64', 'kitchen.echoU64']] }, 'DAG_DISCONNECTED', /\[math\.increment, math\.square\] and \[kitchen\.echoI64, kitchen\.echoU64\]/],
      ['lonely', { functions: ['math.increment', 'math.square'], edges: [] }, 'DAG_DISCONNECTED', /2 unconnected/],
      ['duplicate-fn', { functions: ['math.increment', 'math.increment'], edges: [] }, 'INVALID_REQUEST', /twice/],
      ['duplicate-edge', { functions: ['math.increment', 'math.square'], edges: [['math.increment', 'math.square'], ['math.increment', 'math.square']] }, 'INVALID_REQUEST', /twice/],
      ['stranger-edge', { functions: ['math.increment', 'math.square'], edges: [['math.increment', 'kitchen.echoI64']] }, 'INVALID_REQUEST', /kitchen\.echoI64/],
      ['arity', { functions: ['math.increment', 'kitchen.echoI64', 'math.square'], edges: [['math.increment', 'math.square'], ['kitchen.echoI64', 'math.square']] }, 'INVALID_REQUEST', /math\.square takes 1 argument/],
      ['void-feed', { functions: ['kitchen.noop', 'math.square'], edges: [['kitchen.noop', 'math.square']] }, 'INVALID_REQUEST', /kitchen\.noop/],
      ['no-functions', { functions: [], edges: [] }, 'INVALID_REQUEST', /functions/],
      ['bad-edge', { functions: ['math.increment'], edges: [['math.increment']] }, 'INVALID_REQUEST', /pair/],
    ];
    for (const [name, body, code, message] of cases) {
      it(`${name}: ${code}`, async () => {
        await expect(p.client.json('PUT', `/v1/dags/${name}`, body)).rejects.toMatchObject({ code, message: expect.stringMatching(message) });
        await expect(p.client.json('GET', `/v1/dags/${name}`)).rejects.toMatchObject({ code: 'UNKNOWN_DAG' });
      });
    }

    it('bad names and bodies', async () => {
      await expect(p.client.json('PUT', '/v1/dags/bad%20name', PIPELINE)).rejects.toMatchObject({ code: 'INVALID_NAME' });
      await expect(p.client.request('PUT', '/v1/dags/x', '{', { 'content-type': 'application/json' }).then((r) => JSON.parse(r.body.toString()) as unknown))
        .resolves.toMatchObject({ error: { code: 'MALFORMED_JSON' } });
      await expect(p.client.json('PUT', '/v1/dags/x', [1])).rejects.toMatchObject({ code: 'INVALID_REQUEST' });
      const { dags } = await p.client.json<{ dags: { name: string }[] }>('GET', '/v1/dags');
      expect(dags.map((d) => d.name)).not.toContain('cycle');
    });
  });

  it('delete: the DAG stops resolving; deleting it again is UNKNOWN_DAG', async () => {
    await p.client.json('PUT', '/v1/dags/short-lived', PIPELINE);
    expect(await p.client.json('DELETE', '/v1/dags/short-lived')).toEqual({ deleted: 'short-lived' });
    await expect(p.client.json('GET', '/v1/dags/short-lived')).rejects.toMatchObject({ code: 'UNKNOWN_DAG' });
    await expect(callDag('short-lived', { args: { 'math.increment': [1] } })).rejects.toMatchObject({ code: 'UNKNOWN_DAG' });
    await expect(p.client.json('DELETE', '/v1/dags/short-lived')).rejects.toMatchObject({ code: 'UNKNOWN_DAG' });
    const { dags } = await p.client.json<{ dags: { name: string }[] }>('GET', '/v1/dags');
    expect(dags.map((d) => d.name)).not.toContain('short-lived');
  });

  it('the definition lives in the KV tier, in its own key space', async () => {
    await expect.poll(() => p.kv.store.get('default/dag/pipeline')?.type).toBe('lww');
    expect(p.kv.store.get('default/k/pipeline')).toBeUndefined();
  });

  it('no per-request state is left behind, after successes and failures alike', async () => {
    await expect.poll(async () => [await gauge('cloudburst_dag_runs_active'), await gauge('cloudburst_dag_requests_held')]).toEqual([0, 0]);
  });
});
