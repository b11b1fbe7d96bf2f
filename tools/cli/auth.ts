/**
 * The CLI's side of authentication: where it finds its token, `cloudburst login`, and the
 * admin commands (`tenant ...`, `token ...`). A token is printed once, by `token create`, and
 * appears in no other output.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ADMIN_TOKEN_FILE, HOST_PATHS, hostPath, type TenantRecord, type TokenInfo } from '../../host/index.ts';
import { CloudburstError } from '../../common/index.ts';
import type { HostClient } from './client.ts';
import { UsageError } from './exit.ts';

export const TOKEN_ENV = 'CLOUDBURST_TOKEN';
export const DEFAULT_URL = 'http://127.0.0.1:7070';
export const DEFAULT_DATA_DIR = '.cloudburst';

/** `$XDG_CONFIG_HOME/cloudburst/config.json`, or `~/.config/cloudburst/config.json`. */
export function configFile(env: NodeJS.ProcessEnv = process.env): string {
  const base = env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== '' ? env.XDG_CONFIG_HOME : join(homedir(), '.config');
  return join(base, 'cloudburst', 'config.json');
}

interface Config {
  /** Tokens by platform URL (without a trailing `/`). */
  platforms?: Record<string, { token?: string }>;
}

function readConfig(file: string): Config {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Config;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new CloudburstError('INVALID_REQUEST', `${file} is not a cloudburst config file (JSON): ${(err as Error).message}`);
  }
}

const normal = (url: string): string => url.replace(/\/+$/, '');

function isLoopback(url: string): boolean {
  try {
    return ['127.0.0.1', 'localhost', '[::1]'].includes(new URL(url).hostname);
  } catch {
    return false;
  }
}

function readToken(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * The token for `url`, in this order: `--token`, CLOUDBURST_TOKEN, the config file's entry for
 * the URL, then (for a platform on this machine: `cloudburst up`) `<data>/admin-token` of
 * `--data` or `.cloudburst`. Undefined when none: the host then says 401.
 */
export function findToken(url: string, given: { token?: string | undefined; dataDir?: string | undefined }, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (given.token !== undefined) return given.token;
  const fromEnv = env[TOKEN_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const saved = readConfig(configFile(env)).platforms?.[normal(url)]?.token;
  if (saved !== undefined) return saved;
  if (isLoopback(url)) return readToken(join(resolve(given.dataDir ?? DEFAULT_DATA_DIR), ADMIN_TOKEN_FILE));
  return undefined;
}

/** `cloudburst login --url U --token T`: keeps the token for U in the config file (mode 0600). */
export function login(url: string, token: string, env: NodeJS.ProcessEnv = process.env): string {
  const file = configFile(env);
  const config = readConfig(file);
  config.platforms = { ...config.platforms, [normal(url)]: { token } };
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  chmodSync(file, 0o600);
  return file;
}

/** "30d", "12h", "15m", "90s" or a number of seconds, as seconds. */
export function expirySeconds(text: string): number {
  const m = /^(\d+)(s|m|h|d)?$/.exec(text.trim());
  if (!m) throw new CloudburstError('INVALID_REQUEST', `--expires ${JSON.stringify(text)} is not a duration (use 90s, 15m, 12h, 30d)`);
  return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[(m[2] ?? 's') as 's' | 'm' | 'h' | 'd'];
}

type Print = (human: string, machine: unknown) => void;

const tenantLine = (t: TenantRecord): string => `${t.name}${t.createdAt ? `  created ${t.createdAt}` : ''}${Object.keys(t.quotas).length > 0 ? `  quotas ${JSON.stringify(t.quotas)}` : ''}`;

/** `cloudburst tenant create|list|show|delete`. */
export async function tenantCommand(args: { verb?: string | undefined; name?: string | undefined; quotas?: string | undefined }, client: HostClient, print: Print): Promise<number> {
  const { verb, name } = args;
  switch (verb) {
    case 'create': {
      if (!name) throw new UsageError('usage: cloudburst tenant create NAME [--quotas JSON]');
      let quotas: unknown;
      try {
        quotas = args.quotas === undefined ? undefined : JSON.parse(args.quotas);
      } catch {
        throw new CloudburstError('MALFORMED_JSON', '--quotas must be a JSON object');
      }
      const t = await client.json<TenantRecord>('POST', HOST_PATHS.tenants, { name, ...(quotas === undefined ? {} : { quotas }) });
      print(`created tenant ${t.name}`, t);
      return 0;
    }
    case 'list': {
      const { tenants } = await client.json<{ tenants: TenantRecord[] }>('GET', HOST_PATHS.tenants);
      print(tenants.map(tenantLine).join('\n'), tenants);
      return 0;
    }
    case 'show': {
      if (!name) throw new UsageError('usage: cloudburst tenant show NAME');
      const t = await client.json<TenantRecord>('GET', hostPath.tenant(name));
      print(JSON.stringify(t, null, 2), t);
      return 0;
    }
    case 'delete': {
      if (!name) throw new UsageError('usage: cloudburst tenant delete NAME');
      const out = await client.json<{ revokedTokens: string[] }>('DELETE', hostPath.tenant(name));
      print(`deleted tenant ${name}${out.revokedTokens.length > 0 ? ` (revoked tokens: ${out.revokedTokens.join(', ')})` : ''}`, out);
      return 0;
    }
    default:
      throw new UsageError(`unknown command: tenant ${verb ?? ''} (create, list, show, delete)`);
  }
}

const tokenLine = (t: TokenInfo): string => `${t.name.padEnd(16)} ${t.tenant.padEnd(12)} ${t.scopes.join(',').padEnd(24)} ${t.status}${t.expiresAt ? `  expires ${t.expiresAt}` : ''}`;

/** `cloudburst token create|list|revoke`. */
export async function tokenCommand(
  args: { verb?: string | undefined; name?: string | undefined; tenant?: string | undefined; scope?: string | undefined; expires?: string | undefined; filter?: string | undefined },
  client: HostClient, print: Print,
): Promise<number> {
  switch (args.verb) {
    case 'create': {
      const { tenant, scope, name } = args;
      if (!tenant || !scope || !name) throw new UsageError('usage: cloudburst token create --tenant T --scope a,b --name N [--expires 30d]');
      const body = {
        tenant, name, scopes: scope.split(',').filter(Boolean),
        ...(args.expires === undefined ? {} : { expiresInSeconds: expirySeconds(args.expires) }),
      };
      const out = await client.json<TokenInfo & { token: string }>('POST', HOST_PATHS.tokens, body);
      // The one time the token is shown: stdout alone (the human line is the token itself).
      print(out.token, out);
      console.error(`token ${out.name} for tenant ${out.tenant} (${out.scopes.join(',')}): keep it now, it is not shown again`);
      return 0;
    }
    case 'list': {
      const path = args.filter === undefined ? HOST_PATHS.tokens : `${HOST_PATHS.tokens}?tenant=${encodeURIComponent(args.filter)}`;
      const { tokens } = await client.json<{ tokens: TokenInfo[] }>('GET', path);
      print(tokens.map(tokenLine).join('\n') || '(no tokens)', tokens);
      return 0;
    }
    case 'revoke': {
      if (!args.name) throw new UsageError('usage: cloudburst token revoke NAME');
      const out = await client.json('DELETE', hostPath.token(args.name));
      print(`revoked token ${args.name}`, out);
      return 0;
    }
    default:
      throw new UsageError(`unknown command: token ${args.verb ?? ''} (create, list, revoke)`);
  }
}
