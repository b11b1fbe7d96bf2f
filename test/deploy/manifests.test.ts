import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HOST_ROUTES } from '../../host/index.ts';
import { KV_ROUTES } from '../../kvs/protocol.ts';
import { ROOT } from '../helpers/platform.ts';
import { KUBERNETES_DIR, kubectlMissing, loadYaml, render, unknownFields, validate, type K8sObject } from './render.ts';

// The deployment files (deploy/README.md) as Kubernetes reads them: rendered by kustomize,
// every object valid against the Kubernetes OpenAPI schemas with no unknown field, and
// consistent with each other and with the servers they run.
const TARGETS = ['', 'overlays/small', 'overlays/prometheus-adapter', 'base'];
const missing = kubectlMissing();
if (missing !== undefined) console.log(`test/deploy/manifests.test.ts: the kustomize renders are skipped: ${missing}`);

/** The environment variables the CLI reads for one command (tools/cli/flags.ts, owned by the addresses part of issue 13). */
async function cliEnv(command: 'kvs' | 'host'): Promise<Set<string>> {
  const path = join(ROOT, 'tools', 'cli', 'flags.ts');
  if (!existsSync(path)) throw new Error('tools/cli/flags.ts (FLAGS_BY_COMMAND, envVarOf) is not there yet: it comes with the addresses part of issue 13');
  const flags = (await import(path)) as { FLAGS_BY_COMMAND: Record<string, readonly string[]>; envVarOf: (flag: string) => string };
  // The cluster secret's variable holds the secret itself (not the path --cluster-secret-file takes).
  return new Set([...flags.FLAGS_BY_COMMAND[command]!.map(flags.envVarOf), 'CLOUDBURST_CLUSTER_SECRET']);
}

type Workload = K8sObject & { spec: { selector: { matchLabels: Record<string, string> }; template: { metadata: { labels: Record<string, string> }; spec: any } } };
const workloads = (objects: K8sObject[]): Workload[] => objects.filter((o): o is Workload => o.kind === 'Deployment' || o.kind === 'StatefulSet');
const matches = (selector: Record<string, string>, labels: Record<string, string>): boolean => Object.entries(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
const one = <T,>(items: T[], what: string): T => {
  expect(items, what).toHaveLength(1);
  return items[0]!;
};

/** A container's environment: its own `env` and the keys of the ConfigMaps it takes whole. */
function environment(objects: K8sObject[], container: any): Map<string, { value?: string; from?: unknown }> {
  const out = new Map<string, { value?: string; from?: unknown }>();
  for (const from of container.envFrom ?? []) {
    const map = one(objects.filter((o) => o.kind === 'ConfigMap' && o.metadata.name === from.configMapRef?.name), `ConfigMap ${from.configMapRef?.name}`);
    for (const [k, v] of Object.entries(map.data ?? {})) out.set(k, { value: String(v) });
  }
  for (const e of container.env ?? []) out.set(e.name, e.value !== undefined ? { value: e.value } : { from: e.valueFrom });
  return out;
}

/** The CLI command a container runs (`node dist/cli.js COMMAND`). */
const commandOf = (container: any): 'kvs' | 'host' => {
  const command = container.args?.[0];
  expect(['kvs', 'host']).toContain(command);
  return command;
};

/** "30s", "500ms", "1m" or a number of ms (the CLI's duration), in seconds. */
function seconds(text: string): number {
  const m = /^(\d+)(ms|s|m)?$/.exec(text.trim());
  if (!m) throw new Error(`${text} is not a duration`);
  return (Number(m[1]) * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1)) / 1000;
}

describe('the YAML files, as a plain loader reads them', () => {
  it('every file under deploy/kubernetes parses, and every base object (but the kustomizations) validates', () => {
    const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.yaml') ? [join(dir, e.name)] : []));
    let validated = 0;
    for (const file of files(KUBERNETES_DIR)) {
      const objects = loadYaml(readFileSync(file, 'utf8'));
      expect(objects.length, file).toBeGreaterThan(0);
      if (!file.includes(`${join('kubernetes', 'base')}`) || objects[0]!.kind === 'Kustomization') continue;
      for (const o of objects) validate(o);
      validated += objects.length;
    }
    expect(validated).toBeGreaterThanOrEqual(12);
  });
});

describe.skipIf(missing !== undefined)('the kustomize renders', () => {
  const rendered = new Map(TARGETS.map((t) => [t, missing === undefined ? render(t) : { objects: [], secret: '' }]));
  const root = rendered.get('')!.objects;

  it.each(TARGETS)('%s: every object validates against the Kubernetes 1.33 schemas, with no unknown field', (target) => {
    const { objects } = rendered.get(target)!;
    const kinds = objects.map((o) => o.kind).sort();
    expect(kinds).toEqual(['ConfigMap', 'ConfigMap', 'Deployment', 'HorizontalPodAutoscaler', 'Namespace', 'PodDisruptionBudget', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'Secret', 'Service', 'Service', 'ServiceAccount', 'ServiceAccount', 'StatefulSet']);
    for (const o of objects) validate(o);
    expect(unknownFields(objects)).toEqual([]);
    for (const o of objects.filter((x) => x.kind !== 'Namespace')) expect(o.metadata.namespace, `${o.kind} ${o.metadata.name}`).toBe('cloudburst');
  });

  it('the check of field names finds a misspelt field (the schemas alone accept it)', () => {
    const bad = structuredClone(root);
    bad.find((o) => o.kind === 'Service')!.spec.publishNotReadyAddress = true;
    validate(bad.find((o) => o.kind === 'Service')!);
    expect(unknownFields(bad).join('\n')).toContain("'\"publishNotReadyAddress\"' does not exist");
  });

  it('selectors match pod labels: workloads, Services (and their target ports), PodDisruptionBudgets; the StatefulSet\'s Service is headless', () => {
    for (const w of workloads(root)) expect(matches(w.spec.selector.matchLabels, w.spec.template.metadata.labels), `${w.kind} ${w.metadata.name}`).toBe(true);
    for (const s of root.filter((o) => o.kind === 'Service')) {
      const w = one(workloads(root).filter((x) => matches(s.spec.selector, x.spec.template.metadata.labels)), `the workload of Service ${s.metadata.name}`);
      const ports = w.spec.template.spec.containers.flatMap((c: any) => c.ports.map((p: any) => p.name));
      for (const p of s.spec.ports) expect(ports, `Service ${s.metadata.name} port ${p.name}`).toContain(p.targetPort);
    }
    for (const b of root.filter((o) => o.kind === 'PodDisruptionBudget')) {
      one(workloads(root).filter((x) => matches(b.spec.selector.matchLabels, x.spec.template.metadata.labels)), `the workload of PDB ${b.metadata.name}`);
    }
    const kvs = one(root.filter((o) => o.kind === 'StatefulSet'), 'the KV StatefulSet');
    const headless = one(root.filter((o) => o.kind === 'Service' && o.metadata.name === kvs.spec.serviceName), 'the StatefulSet\'s Service');
    expect(headless.spec.clusterIP).toBe('None');
    expect(headless.spec.publishNotReadyAddresses).toBe(true);
    expect(matches(headless.spec.selector, kvs.spec.template.metadata.labels)).toBe(true);
  });

  it('the HPA scales the host Deployment (CPU here; the hosts\' own utilization in the Prometheus Adapter overlay)', () => {
    for (const [target, metric] of [['', 'Resource'], ['overlays/prometheus-adapter', 'Pods']] as const) {
      const objects = rendered.get(target)!.objects;
      const hpa = one(objects.filter((o) => o.kind === 'HorizontalPodAutoscaler'), 'the HPA');
      const ref = hpa.spec.scaleTargetRef;
      const scaled = one(objects.filter((o) => o.apiVersion === ref.apiVersion && o.kind === ref.kind && o.metadata.name === ref.name), 'the HPA\'s target');
      expect(commandOf(scaled.spec.template.spec.containers[0])).toBe('host');
      expect(hpa.spec.metrics.map((m: any) => m.type)).toEqual([metric]);
      expect(hpa.spec.minReplicas).toBeLessThanOrEqual(hpa.spec.maxReplicas);
      // The HPA owns the count: a `replicas` in the Deployment would reset it at every apply.
      expect(scaled.spec.replicas).toBeUndefined();
    }
    const pods = one(rendered.get('overlays/prometheus-adapter')!.objects.filter((o) => o.kind === 'HorizontalPodAutoscaler'), 'the HPA').spec.metrics[0].pods;
    expect(pods.metric.name).toBe('cloudburst_utilization');
    // The README's adapter rule exposes that very name.
    expect(readFileSync(join(ROOT, 'deploy', 'README.md'), 'utf8')).toContain('cloudburst_utilization');
  });

  it('probes ask our servers\' open GET routes, on a port the container declares and the server listens on', () => {
    for (const w of workloads(root)) {
      for (const c of w.spec.template.spec.containers) {
        const command = commandOf(c);
        const routes = (command === 'kvs' ? KV_ROUTES : HOST_ROUTES) as readonly { method: string; path: string; access: unknown }[];
        const env = environment(root, c);
        const probes = ['startupProbe', 'readinessProbe', 'livenessProbe'].map((k) => c[k]);
        expect(probes.every(Boolean), `${c.name} has every probe`).toBe(true);
        for (const probe of probes) {
          const port = one<any>(c.ports.filter((p: any) => p.name === probe.httpGet.port), `${c.name} port ${probe.httpGet.port}`);
          expect(String(port.containerPort)).toBe(env.get('CLOUDBURST_PORT')?.value);
          const route = routes.find((r) => r.method === 'GET' && r.path === probe.httpGet.path);
          expect(route, `${c.name}: GET ${probe.httpGet.path} is a route of cloudburst ${command}`).toBeDefined();
          expect(route!.access, `${probe.httpGet.path} needs no token`).toBe('open');
        }
        expect(c.readinessProbe.httpGet.path).toMatch(/readyz$/);
        expect(c.livenessProbe.httpGet.path).toMatch(/healthz$/);
      }
    }
  });

  it('every environment variable a container sets is one its command reads, or one another variable uses', async () => {
    for (const w of workloads(root)) {
      for (const c of w.spec.template.spec.containers) {
        const command = commandOf(c);
        const reads = await cliEnv(command);
        const env = environment(root, c);
        const values = [...env.values()].map((v) => v.value ?? '').join('\n');
        for (const name of env.keys()) {
          if (name.startsWith('CLOUDBURST_')) expect(reads, `${c.name}: cloudburst ${command} reads ${name}`).toContain(name);
          else expect(values, `${c.name}: ${name} is used by another variable`).toContain(`$(${name})`);
        }
        // The addresses: listen everywhere, announce a name others can reach.
        expect(env.get('CLOUDBURST_LISTEN')?.value).toBe('0.0.0.0');
        expect(env.get('CLOUDBURST_ADVERTISE')?.value).toMatch(command === 'kvs' ? /^http:\/\/\$\(POD_NAME\)\.cloudburst-kvs\.\$\(POD_NAMESPACE\)\.svc\.cluster\.local:7100$/ : /^http:\/\/\$\(POD_IP\):7070$/);
      }
    }
  });

  it('the termination grace period holds the preStop wait, the drain timeout and a margin for the outbox flush', () => {
    const host = one(root.filter((o) => o.kind === 'Deployment'), 'the host Deployment');
    const c = host.spec.template.spec.containers[0];
    const drain = seconds(environment(root, c).get('CLOUDBURST_DRAIN_TIMEOUT')?.value ?? '30s');
    const wait = c.lifecycle?.preStop?.sleep?.seconds ?? 0;
    expect(host.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(wait + drain + 10);
    // A KV node's leave hands its ranges over: minutes, not the default 30 s.
    expect(one(root.filter((o) => o.kind === 'StatefulSet'), 'the KV StatefulSet').spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(120);
  });

  it('the cluster secret is never inlined: it comes from the operator\'s file (ignored by git) through a Secret', () => {
    const { objects, secret } = rendered.get('')!;
    const stored = one(objects.filter((o) => o.kind === 'Secret'), 'the Secret');
    expect(Buffer.from(stored.data['cluster-secret'], 'base64').toString('utf8').trim()).toBe(secret);
    for (const w of workloads(objects)) {
      for (const c of w.spec.template.spec.containers) {
        const from = environment(objects, c).get('CLOUDBURST_CLUSTER_SECRET')?.from as { secretKeyRef?: { name: string; key: string } } | undefined;
        expect(from?.secretKeyRef, `${c.name} takes the secret from a Secret`).toEqual({ name: stored.metadata.name, key: 'cluster-secret' });
      }
    }
    // Nowhere in the rendered text but the Secret, and not in the repository.
    const others = JSON.stringify(objects.filter((o) => o !== stored));
    expect(others).not.toContain(secret);
    expect(others).not.toContain(stored.data['cluster-secret']);
    const tracked = execFileSync('git', ['ls-files', 'deploy'], { cwd: ROOT, encoding: 'utf8' });
    expect(tracked).not.toMatch(/cluster-secret$/m);
    expect(execFileSync('git', ['check-ignore', 'deploy/kubernetes/base/cluster-secret'], { cwd: ROOT, encoding: 'utf8' }).trim()).toBe('deploy/kubernetes/base/cluster-secret');
  });

  it('containers run as the image\'s non-root user with a read-only root filesystem; what they write is a volume', () => {
    const user = /^USER (\d+):(\d+)$/m.exec(readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8'));
    expect(user, 'the Dockerfile names its user by number').not.toBeNull();
    for (const w of workloads(root)) {
      const pod = w.spec.template.spec;
      expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: Number(user![1]), runAsGroup: Number(user![2]), fsGroup: Number(user![2]) });
      for (const c of pod.containers) {
        expect(c.securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
        const mounts = c.volumeMounts.map((m: any) => m.mountPath);
        expect(mounts).toContain('/tmp');
        expect(mounts).toContain(environment(root, c).get('CLOUDBURST_DATA')?.value);
        expect(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, `${c.name} resources`).toBeTruthy();
      }
    }
    // The KV data is a claim per pod: identity and data survive rescheduling.
    const kvs = one(root.filter((o) => o.kind === 'StatefulSet'), 'the KV StatefulSet');
    const data = environment(root, kvs.spec.template.spec.containers[0]).get('CLOUDBURST_DATA')?.value;
    const claim = kvs.spec.template.spec.containers[0].volumeMounts.find((m: any) => m.mountPath === data).name;
    expect(kvs.spec.volumeClaimTemplates.map((t: any) => t.metadata.name)).toContain(claim);
  });

  it('the KV preStop hook is in the image and may read its StatefulSet', () => {
    const kvs = one(root.filter((o) => o.kind === 'StatefulSet'), 'the KV StatefulSet');
    const pod = kvs.spec.template.spec;
    const command: string[] = pod.containers[0].lifecycle.preStop.exec.command;
    const script = command.find((a) => a.endsWith('kv-prestop.js'))!;
    expect(script).toBe('/app/deploy/kv-prestop.js');
    const dockerfile = readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
    expect(dockerfile).toMatch(/^WORKDIR \/app$/m);
    expect(dockerfile).toMatch(/^COPY deploy\/kv-prestop\.js deploy\/kv-prestop\.js$/m);
    expect(existsSync(join(ROOT, 'deploy', 'kv-prestop.js'))).toBe(true);
    const binding = one(root.filter((o) => o.kind === 'RoleBinding' && o.subjects.some((s: any) => s.kind === 'ServiceAccount' && s.name === pod.serviceAccountName)), 'the binding of the KV ServiceAccount');
    const role = one(root.filter((o) => o.kind === 'Role' && o.metadata.name === binding.roleRef.name), 'its Role');
    expect(role.rules).toContainEqual({ apiGroups: ['apps'], resources: ['statefulsets'], resourceNames: [kvs.metadata.name], verbs: ['get'] });
    // One node at a time, highest ordinal first, and a scaled-in node's volume goes with it.
    expect(kvs.spec.podManagementPolicy).toBe('OrderedReady');
    expect(kvs.spec.persistentVolumeClaimRetentionPolicy).toEqual({ whenScaled: 'Delete', whenDeleted: 'Retain' });
  });
});
