import { spawn, type ChildProcess } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { bearer, freePort, guestBytes, ROOT, runCli, tempDir, waitFor } from '../helpers/platform.ts';
import { kubectlMissing, render, type K8sObject } from './render.ts';

// The pods of the manifests, on loopback: each process started as its container is (the
// image's `node dist/cli.js` + the container's args, configured only by the environment the
// manifest gives it: its ConfigMap and its env, the downward API's values filled in), with
// as few changes as loopback needs: free ports instead of 7100/7070, temp folders as volumes,
// and `localhost` for the headless Service's name (resolving to the first KV node, whom the
// others join through). Three KV nodes as in the small overlay (replication 3, W=2), one host.
const missing = kubectlMissing();
if (missing !== undefined) console.log(`test/deploy/pods.test.ts is skipped: ${missing}`);

function podEnv(objects: K8sObject[], container: any, fill: Record<string, string>, secret: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const from of container.envFrom ?? []) Object.assign(out, objects.find((o) => o.kind === 'ConfigMap' && o.metadata.name === from.configMapRef.name)!.data);
  for (const e of container.env ?? []) {
    if (e.valueFrom?.secretKeyRef) out[e.name] = secret;
    else if (e.valueFrom?.fieldRef) out[e.name] = fill[e.valueFrom.fieldRef.fieldPath]!;
    // Kubernetes' $(VAR) expansion, of variables defined before.
    else out[e.name] = String(e.value).replace(/\$\((\w+)\)/g, (_, name: string) => out[name] ?? `$(${name})`);
  }
  return out;
}

describe.skipIf(missing !== undefined)('the manifests\' pods on loopback', () => {
  const children: ChildProcess[] = [];
  let dir: string;
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  function start(container: any, env: Record<string, string>, log: string[]): ChildProcess {
    const child = spawn(process.execPath, [join(ROOT, 'dist', 'cli.js'), ...container.args], { env: { PATH: process.env.PATH!, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => log.push(d.toString()));
    child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
    children.push(child);
    return child;
  }

  it('3 KV nodes and a host configured by the manifests\' environment become ready, serve a call, and the host drains on SIGTERM', async () => {
    dir = await tempDir('cb-pods-');
    const { objects, secret } = render('');
    const kvs = objects.find((o) => o.kind === 'StatefulSet')!;
    const host = objects.find((o) => o.kind === 'Deployment')!;
    const kvContainer = kvs.spec.template.spec.containers[0];
    const hostContainer = host.spec.template.spec.containers[0];
    const log: string[] = [];
    const kvPorts = await Promise.all([0, 1, 2].map(() => freePort()));
    const svc = 'cloudburst-kvs.cloudburst.svc.cluster.local:7100';
    const kvUrls: string[] = [];
    for (const [i, port] of kvPorts.entries()) {
      const env = podEnv(objects, kvContainer, { 'metadata.name': `cloudburst-kvs-${i}`, 'metadata.namespace': 'cloudburst' }, secret);
      expect(env.CLOUDBURST_ADVERTISE).toBe(`http://cloudburst-kvs-${i}.${svc}`);
      expect(env.CLOUDBURST_SEEDS).toBe(svc);
      Object.assign(env, {
        CLOUDBURST_PORT: String(port), CLOUDBURST_DATA: join(dir, `kv${i}`),
        CLOUDBURST_ADVERTISE: `http://127.0.0.1:${port}`, CLOUDBURST_SEEDS: `localhost:${kvPorts[0]}`,
      });
      start(kvContainer, env, log);
      kvUrls.push(`http://127.0.0.1:${port}`);
    }
    const ready = async (url: string): Promise<number> => {
      try {
        // As the kubelet probes: a connection per probe.
        return (await fetch(url, { headers: { connection: 'close' } })).status;
      } catch {
        return 0;
      }
    };
    for (const url of kvUrls) await waitFor(() => ready(`${url}${kvContainer.readinessProbe.httpGet.path}`), (s) => s === 200, 60_000, `${url} ready\n${log.join('')}`);

    const hostPort = await freePort();
    const env = podEnv(objects, hostContainer, { 'status.podIP': '127.0.0.1', 'metadata.namespace': 'cloudburst' }, secret);
    expect(env.CLOUDBURST_ADVERTISE).toBe('http://127.0.0.1:7070');
    expect(env.CLOUDBURST_KVS).toBe(svc);
    Object.assign(env, {
      CLOUDBURST_PORT: String(hostPort), CLOUDBURST_DATA: join(dir, 'host'),
      CLOUDBURST_ADVERTISE: `http://127.0.0.1:${hostPort}`, CLOUDBURST_KVS: `localhost:${kvPorts[0]}`,
    });
    const hostProcess = start(hostContainer, env, log);
    const hostUrl = `http://127.0.0.1:${hostPort}`;
    await waitFor(() => ready(`${hostUrl}${hostContainer.readinessProbe.httpGet.path}`), (s) => s === 200, 60_000, `host ready\n${log.join('')}`);
    expect(await ready(`${hostUrl}${hostContainer.livenessProbe.httpGet.path}`)).toBe(200);

    // The README's first token, then a deploy and a call through the host.
    const boot = await runCli(['token', 'bootstrap', '--kvs', `localhost:${kvPorts[1]}`], { CLOUDBURST_CLUSTER_SECRET: secret });
    expect(boot.code, boot.stderr).toBe(0);
    const headers = { ...bearer(boot.stdout.trim()), connection: 'close' };
    expect((await fetch(`${hostUrl}/v1/modules/math`, { method: 'PUT', headers, body: new Uint8Array(guestBytes('math')) })).status).toBe(200);
    const call = await fetch(`${hostUrl}/v1/functions/math.square/call`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ args: [7] }) });
    expect(await call.json()).toEqual({ result: 49 });

    // What the kubelet does after the preStop: SIGTERM; the host drains and exits 0.
    hostProcess.kill('SIGTERM');
    const code = await new Promise<number | null>((resolve) => hostProcess.once('exit', resolve));
    expect(code, log.join('')).toBe(0);
    for (const c of children.filter((x) => x.exitCode === null)) {
      c.kill('SIGTERM');
      expect(await new Promise<number | null>((resolve) => c.once('exit', resolve))).toBe(0);
    }
  }, 240_000);
});
