/**
 * The audit log (host/README.md, "Audit"): what changed the platform's code or its access,
 * one JSON line per request in `<host data dir>/audit.jsonl` (mode 0600), in the order the
 * requests ended, and to `onAudit` for embedders and tests. An entry names the token by its
 * name, never the token itself.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { Principal } from './principal.ts';

export interface AuditEntry {
  time: string;
  host: string;
  tenant: string;
  /** The token's name; `null` for a request signed by the cluster or without authentication. */
  token: string | null;
  principal: Principal['kind'];
  /** e.g. `module.deploy`, `token.revoke`. */
  action: string;
  /** What it acted on: a module, DAG, tenant or token name. */
  target: string;
  /** `ok`, or the error code the request ended with. */
  outcome: string;
}

export const AUDIT_FILE = 'audit.jsonl';

export class AuditLog {
  readonly #hostId: string;
  readonly #out: WriteStream;
  readonly #onAudit: ((entry: AuditEntry) => void) | undefined;

  constructor(opts: { path: string; hostId: string; onAudit?: ((entry: AuditEntry) => void) | undefined }) {
    this.#hostId = opts.hostId;
    this.#onAudit = opts.onAudit;
    this.#out = createWriteStream(opts.path, { flags: 'a', mode: 0o600 });
    this.#out.on('error', (err) => console.error(`audit log ${opts.path}: ${err.message}`));
  }

  record(principal: Principal, action: string, target: string, outcome: string): void {
    const entry: AuditEntry = {
      time: new Date().toISOString(), host: this.#hostId, tenant: principal.tenant,
      token: principal.kind === 'token' ? principal.name : null, principal: principal.kind, action, target, outcome,
    };
    this.#out.write(`${JSON.stringify(entry)}\n`);
    this.#onAudit?.(entry);
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#out.end(() => resolve()));
  }
}
