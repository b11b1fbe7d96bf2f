/**
 * What test/deploy/manifests.test.ts reads: the kustomize targets under deploy/kubernetes
 * rendered by `kubectl kustomize` (over a copy, with a cluster secret file of the test's: the
 * real one is the operator's and never in the repository), every object validated by the
 * model class of its kind (kubernetes-models: the Kubernetes 1.33 OpenAPI schemas), and a
 * strict check of field names, which those schemas leave open (the API server refuses unknown
 * fields; a misspelt field would otherwise pass): the objects as object literals typed by
 * the models' interfaces, through the TypeScript compiler (excess property checks).
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ts from 'typescript';
import { parseAllDocuments } from 'yaml';
import * as coreV1 from 'kubernetes-models/v1';
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as autoscalingV2 from 'kubernetes-models/autoscaling/v2';
import * as rbacV1 from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { newClusterSecret } from '../../common/index.ts';
import { ROOT } from '../helpers/platform.ts';

export const KUBERNETES_DIR = join(ROOT, 'deploy', 'kubernetes');

/** A Kubernetes object as rendered (plain JSON). */
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; namespace?: string; labels?: Record<string, string> }; [field: string]: any };

/** The model modules by apiVersion, and the module path of each (for the strict check's imports). */
const GROUPS: Record<string, { models: Record<string, unknown>; module: string }> = {
  v1: { models: coreV1, module: 'kubernetes-models/v1' },
  'apps/v1': { models: appsV1, module: 'kubernetes-models/apps/v1' },
  'policy/v1': { models: policyV1, module: 'kubernetes-models/policy/v1' },
  'autoscaling/v2': { models: autoscalingV2, module: 'kubernetes-models/autoscaling/v2' },
  'rbac.authorization.k8s.io/v1': { models: rbacV1, module: 'kubernetes-models/rbac.authorization.k8s.io/v1' },
};

/** `kubectl` on the PATH (Debian's package), or why not. */
export function kubectlMissing(): string | undefined {
  try {
    execFileSync('kubectl', ['version', '--client'], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    return `kubectl is not on the PATH (${(err as Error).message.split('\n')[0]}): install Debian's kubectl to render the kustomize targets`;
  }
}

/** The rendered objects of `target` (a folder under deploy/kubernetes, '' for the root), and the secret put in the copy. */
export function render(target: string): { objects: K8sObject[]; secret: string } {
  const dir = mkdtempSync(join(tmpdir(), 'cb-kustomize-'));
  try {
    cpSync(KUBERNETES_DIR, dir, { recursive: true, filter: (src) => !src.endsWith(join('base', 'cluster-secret')) });
    const secret = newClusterSecret();
    writeFileSync(join(dir, 'base', 'cluster-secret'), `${secret}\n`);
    const text = execFileSync('kubectl', ['kustomize', join(dir, target)], { encoding: 'utf8' });
    return { objects: loadYaml(text), secret };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The documents of a YAML stream (kustomize's output, or a manifest file). */
export function loadYaml(text: string): K8sObject[] {
  return parseAllDocuments(text).map((d) => {
    if (d.errors.length > 0) throw new Error(d.errors.map((e) => e.message).join('\n'));
    return unwrapSecretData(d.toJSON() as K8sObject);
  }).filter((o) => o !== null);
}

/**
 * kustomize writes a Secret's base64 in lines of 76 characters; the API server's decoder (Go's
 * base64) skips the line breaks, the schema's "byte" format does not: join them.
 */
function unwrapSecretData(o: K8sObject): K8sObject {
  if (o?.kind !== 'Secret' || o.data === undefined) return o;
  return { ...o, data: Object.fromEntries(Object.entries(o.data as Record<string, string>).map(([k, v]) => [k, v.replace(/\s+/g, '')])) };
}

/** Validates one object with its kind's model class; throws naming the object. */
export function validate(o: K8sObject): void {
  const Model = GROUPS[o.apiVersion]?.models[o.kind] as (new (data: unknown) => { validate(): void }) | undefined;
  if (Model === undefined) throw new Error(`${o.apiVersion} ${o.kind} ${o.metadata?.name}: no model for this kind (add its group to test/deploy/render.ts)`);
  try {
    new Model(o).validate();
  } catch (err) {
    throw new Error(`${o.kind} ${o.metadata?.name}: ${(err as Error).message}`);
  }
}

/**
 * The TypeScript compiler's complaints about `objects` typed as their kinds' interfaces: an
 * unknown field is "Object literal may only specify known properties". Empty when every field
 * is known. The source is in memory, placed in test/deploy so that it resolves node_modules.
 */
export function unknownFields(objects: K8sObject[]): string[] {
  const file = join(ROOT, 'test', 'deploy', '__rendered__.ts');
  const imports = new Map<string, string>();
  const lines = objects.map((o, i) => {
    const group = GROUPS[o.apiVersion];
    if (group === undefined) throw new Error(`no model group for ${o.apiVersion}`);
    const alias = `${o.kind}_${Object.keys(GROUPS).indexOf(o.apiVersion)}`;
    imports.set(alias, `import type { I${o.kind} as ${alias} } from '${group.module}/${o.kind}';`);
    return `export const o${i}: ${alias} = ${JSON.stringify(o)};`;
  });
  const source = [...imports.values(), ...lines].join('\n');
  const options: ts.CompilerOptions = { strict: true, noEmit: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022, types: [] };
  const host = ts.createCompilerHost(options);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  const readFile = host.readFile.bind(host);
  host.getSourceFile = (name, lang, ...rest) => (name === file ? ts.createSourceFile(name, source, lang) : getSourceFile(name, lang, ...rest));
  host.fileExists = (name) => name === file || fileExists(name);
  host.readFile = (name) => (name === file ? source : readFile(name));
  const program = ts.createProgram([file], options, host);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const where = d.file && d.start !== undefined ? ` (${source.slice(Math.max(0, d.start - 60), d.start + 40).replace(/\s+/g, ' ')})` : '';
    return `${ts.flattenDiagnosticMessageText(d.messageText, '\n')}${where}`;
  });
}
