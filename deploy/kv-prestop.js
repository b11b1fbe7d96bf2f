#!/usr/bin/env node
// The KV StatefulSet's preStop hook: tells a KV node being scaled in from one being restarted.
//
// On SIGTERM a KV node hands its ranges over (a graceful leave) only when `<data>/leave`
// exists (kvs/README.md); otherwise it just stops, keeping its identity and data on its
// volume for the pod that comes back. A pod cannot tell why it is being stopped, but the
// StatefulSet can: on a scale-in the controller lowers `spec.replicas` first and then deletes
// the pods whose ordinal is at or above it, while a rolling update, an eviction or a node drain
// stops pods whose ordinal stays below it. So this hook reads the StatefulSet from the API
// (RBAC: the `cloudburst-kvs` ServiceAccount may `get` statefulsets in its namespace) and
// writes the leave file only when this pod's ordinal >= spec.replicas and the StatefulSet is
// not itself being deleted (then every node stops, and nobody is left to take the ranges).
// When the API cannot be asked the node just stops: it is a restart as far as the ring knows,
// and an operator removes it (`POST /kv/v1/ring/remove`, deploy/README.md) if it was not.
//
// Plain JavaScript with no imports but node's, so it runs from the image as is:
//   node deploy/kv-prestop.js
// Environment: POD_NAME (downward API; default the hostname), CLOUDBURST_DATA (the node's
// --data), KUBERNETES_SERVICE_HOST/KUBERNETES_SERVICE_PORT (set by Kubernetes in every pod),
// KV_PRESTOP_SA_DIR (the service account's token, ca.crt and namespace; default the mount),
// KV_PRESTOP_LOG (where its one line goes; default the node's stdout, /proc/1/fd/1, so that
// `kubectl logs` shows it: a hook's own output is shown nowhere unless it fails).
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/** `cloudburst-kvs-3` -> { set: 'cloudburst-kvs', ordinal: 3 }; undefined for another name. */
export function podOrdinal(podName) {
  const m = /^(.+)-(\d+)$/.exec(podName);
  return m ? { set: m[1], ordinal: Number(m[2]) } : undefined;
}

/** 'leave' when the pod at `ordinal` is being scaled in by `statefulSet`, 'restart' otherwise. */
export function decide(ordinal, statefulSet) {
  if (statefulSet.metadata?.deletionTimestamp) return 'restart';
  const replicas = statefulSet.spec?.replicas ?? 1;
  return ordinal >= replicas ? 'leave' : 'restart';
}

function getJson(url, token, ca) {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, ca, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`${url}: ${res.statusCode} ${body.slice(0, 200)}`));
        else resolve(JSON.parse(body));
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

function log(env, line) {
  try {
    appendFileSync(env.KV_PRESTOP_LOG || '/proc/1/fd/1', `${line}\n`);
  } catch {
    // No such file (not in a container): the hook's stdout it is.
  }
  console.log(line);
}

/** Runs the hook; resolves with what it decided ('leave', 'restart' or 'unknown'). */
export async function prestop(env = process.env) {
  const podName = env.POD_NAME || hostname();
  const dataDir = env.CLOUDBURST_DATA || '/data';
  const pod = podOrdinal(podName);
  if (!pod) {
    log(env, `kv-prestop: ${podName} is not a StatefulSet pod name: stopping without leaving`);
    return 'unknown';
  }
  try {
    const sa = env.KV_PRESTOP_SA_DIR || SA_DIR;
    const token = readFileSync(join(sa, 'token'), 'utf8').trim();
    const ca = readFileSync(join(sa, 'ca.crt'));
    const namespace = readFileSync(join(sa, 'namespace'), 'utf8').trim();
    const api = `https://${env.KUBERNETES_SERVICE_HOST}:${env.KUBERNETES_SERVICE_PORT}`;
    const set = await getJson(`${api}/apis/apps/v1/namespaces/${encodeURIComponent(namespace)}/statefulsets/${encodeURIComponent(pod.set)}`, token, ca);
    const decision = decide(pod.ordinal, set);
    if (decision === 'leave') writeFileSync(join(dataDir, 'leave'), `scale-in to ${set.spec?.replicas} replicas at ${new Date().toISOString()}\n`);
    log(env, `kv-prestop: ${podName}: ordinal ${pod.ordinal}, ${set.spec?.replicas} replicas: ${decision}`);
    return decision;
  } catch (err) {
    log(env, `kv-prestop: ${podName}: cannot read the StatefulSet (${err.message}): stopping without leaving`);
    return 'unknown';
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await prestop();
}
