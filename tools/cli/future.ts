// `cloudburst future get ID [--wait 5s]`: a future's result; exit 3 while it is pending
// (exit.ts), 1 when the call behind it failed.
import { hostPath } from '../../host/index.ts';
import type { HostClient } from './client.ts';
import { EXIT, UsageError } from './exit.ts';
import { duration, flag, has } from './flag-values.ts';
import type { Parsed } from './flags.ts';

const print = (p: Parsed, human: string, machine: unknown): void => console.log(has(p, 'json') ? JSON.stringify(machine, null, 2) : human);
const show = (value: unknown): string => (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : JSON.stringify(value));

export async function futureCommand(p: Parsed, client: HostClient): Promise<number> {
  const [, verb, id] = p.positional;
  if (verb !== 'get' || !id) throw new UsageError('usage: cloudburst future get ID [--wait 5s]');
  const wait = duration(flag(p, 'wait') ?? '0');
  const record = await client.json<{ status: string; result?: unknown; error?: { code: string; message: string } }>('GET', `${hostPath.future(id)}?wait=${wait}`);
  if (record.status === 'failed') {
    // With --json: the record (the answer asked for) on stdout, the error as every error is on stderr.
    if (has(p, 'json')) {
      console.log(JSON.stringify(record, null, 2));
      console.error(JSON.stringify({ error: record.error, exit: EXIT.caller }));
    } else console.error(`error ${record.error?.code}: ${record.error?.message} (the call behind future ${id} failed)`);
    return EXIT.caller;
  }
  if (record.status === 'pending') {
    print(p, `pending: the call has not finished (wait longer with --wait)`, record);
    return EXIT.notThere;
  }
  print(p, show(record.result), record);
  return 0;
}

