// `cloudburst dag create|call|list|show|delete`: DAGs over the host API (routes in host/README.md).
import { HOST_PATHS, hostPath } from '../../host/index.ts';
import { CloudburstError } from '../../common/index.ts';
import type { HostClient } from './client.ts';
import { argsSource, argsText } from './args-input.ts';
import { inFlagTerms, UsageError } from './exit.ts';

/** What the CLI's parser gives a command: positional words and repeated flags. */
export interface DagArgs {
  positional: string[];
  flags: Map<string, string[]>;
}

interface Dag {
  name: string;
  functions: string[];
  edges: [string, string][];
  sink?: string;
}

const describe = (d: Dag): string => `${d.name}: ${d.edges.length > 0 ? d.edges.map(([a, b]) => `${a} -> ${b}`).join(', ') : d.functions.join(', ')}`;

/**
 * Runs a `dag` command; resolves with the exit code (errors are thrown as CloudburstError, the
 * CLI prints them).
 *
 * @example
 * // cloudburst dag create pipeline --fn math.increment --fn math.square --edge math.increment:math.square
 * await dagCommand({ positional: ['dag', 'create', 'pipeline'], flags }, client, USAGE);
 */
export async function dagCommand(p: DagArgs, client: HostClient, usage: string): Promise<number> {
  const [, verb, name] = p.positional;
  const flag = (f: string): string | undefined => p.flags.get(f)?.at(-1);
  const print = (human: string, machine: unknown): void => console.log(p.flags.has('json') ? JSON.stringify(machine, null, 2) : human);
  // --args may be @FILE or - (stdin), as for `fn call` (args-input.ts).
  const json = async (f: string, shape: string): Promise<unknown> => {
    const given = flag(f);
    if (given === undefined) return undefined;
    const raw = f === 'args' ? await argsText(given) : given;
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      throw new CloudburstError('MALFORMED_JSON', `${f === 'args' ? argsSource(given) : `--${f}`} must be JSON: ${shape}`);
    }
  };
  const need = (form: string): string => {
    if (!name) throw new UsageError(`usage: cloudburst dag ${form}`);
    return hostPath.dag(name);
  };
  switch (verb) {
    case 'create': {
      const path = need('create NAME --fn FN --fn FN ... [--edge FROM:TO]...');
      const edges = (p.flags.get('edge') ?? []).map((e) => {
        const i = e.indexOf(':');
        if (i <= 0 || i === e.length - 1) throw new UsageError( `--edge ${e}: write FROM:TO, e.g. --edge math.increment:math.square`);
        return [e.slice(0, i), e.slice(i + 1)];
      });
      const out = await client.json<{ dag: Dag; warmed: string[]; warnings?: string[] }>('PUT', path, { functions: p.flags.get('fn') ?? [], edges });
      // An edge whose values may not all fit (an i64 into an i32): registered, with the host's warning.
      const warnings = (out.warnings ?? []).map((w) => `\nwarning: ${w}`).join('');
      print(`registered DAG ${describe(out.dag)} (sink ${out.dag.sink}); warm on ${out.warmed.length} host(s)${warnings}`, out);
      return 0;
    }
    case 'call': {
      const path = need(`call NAME [--args '{"FN": [ARG...]}'] [--async]`);
      const body: Record<string, unknown> = { args: (await json('args', '{"module.fn": [arg, ...]}')) ?? {} };
      const placement = await json('placement', '{"module.fn": "hostid"}');
      if (placement !== undefined) body.placement = placement;
      const timeout = flag('timeout');
      if (timeout !== undefined) {
        if (!/^\d+$/.test(timeout)) throw new CloudburstError('INVALID_REQUEST', '--timeout is a whole number of milliseconds');
        body.timeoutMs = Number(timeout);
      }
      // One of the table's choices (commands.ts): checked before anything was sent.
      const consistency = flag('consistency');
      if (consistency !== undefined) body.consistency = consistency;
      // The host's refusal of a field the CLI filled names the flag.
      const send = <T>(b: unknown): Promise<T> => client.json<T>('POST', `${path}/call`, b).catch((err: unknown) => {
        throw inFlagTerms(err, { timeoutMs: '--timeout', args: '--args', placement: '--placement', consistency: '--consistency' });
      });
      if (p.flags.has('async')) {
        const out = await send<{ future: string }>({ ...body, async: true });
        print(out.future, out);
        return 0;
      }
      const out = await send<{ result: unknown }>(body);
      const r = out.result;
      print(typeof r === 'string' || typeof r === 'number' || typeof r === 'boolean' ? String(r) : JSON.stringify(r), out);
      return 0;
    }
    case 'list': {
      const { dags } = await client.json<{ dags: Dag[] }>('GET', HOST_PATHS.dags);
      print(dags.map(describe).join('\n') || '(no DAGs: register one with `cloudburst dag create`)', dags);
      return 0;
    }
    case 'show': {
      const out = await client.json('GET', need('show NAME'));
      print(JSON.stringify(out, null, 2), out);
      return 0;
    }
    case 'delete': {
      const out = await client.json('DELETE', need('delete NAME'));
      print(`deleted DAG ${name}`, out);
      return 0;
    }
    default:
      throw new UsageError(`unknown command: dag ${verb ?? ''}\n\n${usage}`);
  }
}
