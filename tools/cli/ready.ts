import { Agent, request } from 'undici';
import { CloudburstError, connectOptions } from '../../common/index.ts';
import { HOST_PATHS } from '../../host/index.ts';
import { KV_PATHS } from '../../kvs/index.ts';

/** A process whose readiness is asked: a host or a KV node. */
export interface ReadyTarget {
  role: string;
  name: string;
  url: string;
}

/** What a process's `/readyz` said: ready, or why not (its error code, or that it did not answer). */
export type Readiness = { ready: true } | { ready: false; code: string; message: string };

/** The readiness path of a role (both are open routes: no credential). */
export const readyPath = (role: string): string => (role === 'host' ? HOST_PATHS.readyz : KV_PATHS.readyz);

/** One `GET /readyz` of `t` (2 s at most). */
export async function probeReady(t: ReadyTarget, agent: Agent): Promise<Readiness> {
  try {
    const res = await request(`${t.url}${readyPath(t.role)}`, { dispatcher: agent, signal: AbortSignal.timeout(2000) });
    const body = (await res.body.json().catch(() => undefined)) as { error?: { code?: string; message?: string } } | undefined;
    if (res.statusCode === 200) return { ready: true };
    return { ready: false, code: body?.error?.code ?? String(res.statusCode), message: body?.error?.message ?? `status ${res.statusCode}` };
  } catch (err) {
    return { ready: false, code: 'UNREACHABLE', message: (err as Error).message };
  }
}

/**
 * Waits until every process answers `/readyz` 200 (what `cloudburst up` does before it says it
 * is up), asking every `intervalMs`.
 *
 * @throws CloudburstError `NOT_READY` naming each process that did not become ready within
 *   `timeoutMs`, with what its last answer said.
 */
export async function waitReady(targets: readonly ReadyTarget[], o: { timeoutMs: number; intervalMs?: number; ca?: Buffer | undefined }): Promise<void> {
  const agent = new Agent(connectOptions(o.ca));
  const deadline = Date.now() + o.timeoutMs;
  const last = new Map<ReadyTarget, Readiness>();
  try {
    let pending = [...targets];
    for (;;) {
      const answers = await Promise.all(pending.map((t) => probeReady(t, agent)));
      answers.forEach((a, i) => last.set(pending[i]!, a));
      pending = pending.filter((_, i) => !answers[i]!.ready);
      if (pending.length === 0) return;
      if (Date.now() >= deadline) {
        const why = pending.map((t) => {
          const a = last.get(t) as Extract<Readiness, { ready: false }>;
          return `${t.name} (${t.url}): ${a.code}: ${a.message}`;
        });
        throw new CloudburstError('NOT_READY', `not ready within ${Math.round(o.timeoutMs / 1000)} s: ${why.join('; ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, o.intervalMs ?? 100));
    }
  } finally {
    await agent.close();
  }
}
