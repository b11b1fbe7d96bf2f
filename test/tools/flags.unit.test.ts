// The CLI's one rule for the environment (tools/cli/flags.ts): --foo-bar from CLOUDBURST_FOO_BAR,
// the command line first, empty = unset, booleans 1/true/0/false, a bad value named by its
// variable; and the addresses' rules (common/address.ts).
import { describe, expect, it } from 'vitest';
import { advertisedUrl, checkAddresses, CloudburstError, isWildcard } from '../../common/index.ts';
import { envVarOf, FLAGS_BY_COMMAND, flagLabel, flagsFromEnv, flagVariables, forwardFlags, parse, UP_FORWARDS, withoutFlagVariables } from '../../tools/cli/flags.ts';
import { memoryFlags, writeBehindFlags } from '../../tools/cli/flag-values.ts';

const refused = (fn: () => unknown, pattern: RegExp): void => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CloudburstError);
    expect((err as CloudburstError).code).toBe('INVALID_REQUEST');
    expect((err as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('not refused');
};

describe('flags: the environment rule', () => {
  it('envVarOf: upper case, - to _, CLOUDBURST_ prefix', () => {
    expect(envVarOf('drain-timeout')).toBe('CLOUDBURST_DRAIN_TIMEOUT');
    expect(envVarOf('listen')).toBe('CLOUDBURST_LISTEN');
    expect(envVarOf('tls-cert')).toBe('CLOUDBURST_TLS_CERT'); // the TLS variables follow the rule
  });

  it('lists every flag the parts agreed on, per command', () => {
    for (const f of ['listen', 'advertise', 'workers', 'max-workers', 'scale-up-wait', 'idle-timeout', 'flush-max-delay', 'drain-timeout', 'autoscale', 'max-hosts', 'min-hosts']) expect(FLAGS_BY_COMMAND.up).toContain(f);
    for (const f of ['listen', 'advertise', 'kvs', 'workers', 'max-workers', 'scale-up-wait', 'idle-timeout', 'flush-max-delay', 'drain-timeout']) expect(FLAGS_BY_COMMAND.host).toContain(f);
    for (const f of ['listen', 'advertise', 'seeds', 'leave-on-stop']) expect(FLAGS_BY_COMMAND.kvs).toContain(f);
    expect(FLAGS_BY_COMMAND.cluster).toContain('kvs');
    expect([...FLAGS_BY_COMMAND.client].sort()).toEqual(['ca', 'json', 'session', 'tenant', 'token', 'url']);
    expect([...FLAGS_BY_COMMAND.logs].sort()).toEqual(['ca', 'data', 'follow', 'json', 'limit', 'since', 'tenant', 'token', 'url']);
    // `cloudburst logs` reads its own variables, not the others'.
    const logs = flagsFromEnv('logs', { CLOUDBURST_FOLLOW: '1', CLOUDBURST_LIMIT: '5', CLOUDBURST_SESSION: 's' }, parse(['logs', 'm.f']));
    expect([logs.flags.get('follow'), logs.flags.get('limit'), logs.flags.has('session')]).toEqual([['true'], ['5'], false]);
  });

  it('fills flags of the command from the environment; the command line wins', () => {
    const p = flagsFromEnv('host', { CLOUDBURST_LISTEN: '0.0.0.0', CLOUDBURST_ADVERTISE: 'http://10.0.0.5:7070', CLOUDBURST_PORT: '9999' }, parse(['host', '--port', '7070']));
    expect(p.flags.get('listen')).toEqual(['0.0.0.0']);
    expect(p.flags.get('advertise')).toEqual(['http://10.0.0.5:7070']);
    expect(p.flags.get('port')).toEqual(['7070']);
    expect(flagLabel(p, 'listen')).toBe('CLOUDBURST_LISTEN (--listen)');
    expect(flagLabel(p, 'port')).toBe('--port');
  });

  it('the group-commit cap comes from --flush-max-delay or CLOUDBURST_FLUSH_MAX_DELAY, as a duration', () => {
    expect(writeBehindFlags(flagsFromEnv('up', { CLOUDBURST_FLUSH_MAX_DELAY: '1s' }, parse(['up'])))).toEqual({ flushMaxDelayMs: 1000 });
    expect(writeBehindFlags(flagsFromEnv('host', { CLOUDBURST_FLUSH_MAX_DELAY: '1s' }, parse(['host', '--flush-max-delay', '50ms'])))).toEqual({ flushMaxDelayMs: 50 });
    expect(writeBehindFlags(parse(['host']))).toEqual({});
    expect(UP_FORWARDS.host).toContain('flush-max-delay');
  });

  it('reads only the flags of its command', () => {
    const p = flagsFromEnv('kvs', { CLOUDBURST_KVS: '10.0.0.1:7100', CLOUDBURST_SEEDS: 'kv:7100' }, parse(['kvs']));
    expect(p.flags.has('kvs')).toBe(false);
    expect(p.flags.get('seeds')).toEqual(['kv:7100']);
    const fn = flagsFromEnv('fn', { CLOUDBURST_URL: 'http://h:7070', CLOUDBURST_LISTEN: '0.0.0.0' }, parse(['fn', 'list']));
    expect(fn.flags.get('url')).toEqual(['http://h:7070']);
    expect(fn.flags.has('listen')).toBe(false);
    expect(flagsFromEnv('build', { CLOUDBURST_DATA: '/x' }, parse(['build', 'a.ts'])).flags.size).toBe(0);
  });

  it('an empty variable is unset', () => {
    expect(flagsFromEnv('host', { CLOUDBURST_LISTEN: '', CLOUDBURST_INSECURE: '' }, parse(['host'])).flags.size).toBe(0);
  });

  it('booleans: 1 and true set the flag, 0 and false leave it off, anything else is refused naming the variable', () => {
    expect(flagsFromEnv('up', { CLOUDBURST_AUTOSCALE: '1' }, parse(['up'])).flags.get('autoscale')).toEqual(['true']);
    expect(flagsFromEnv('up', { CLOUDBURST_AUTOSCALE: 'TRUE' }, parse(['up'])).flags.has('autoscale')).toBe(true);
    expect(flagsFromEnv('up', { CLOUDBURST_AUTOSCALE: '0' }, parse(['up'])).flags.has('autoscale')).toBe(false);
    expect(flagsFromEnv('kvs', { CLOUDBURST_LEAVE_ON_STOP: 'false' }, parse(['kvs'])).flags.has('leave-on-stop')).toBe(false);
    refused(() => flagsFromEnv('up', { CLOUDBURST_AUTOSCALE: 'yes' }, parse(['up'])), /CLOUDBURST_AUTOSCALE="yes".*1, true, 0 or false.*--autoscale/);
  });

  it('the cluster secret is no flag: CLOUDBURST_CLUSTER_SECRET is left alone, and stays in a child\'s environment', () => {
    expect(flagVariables().has('CLOUDBURST_CLUSTER_SECRET')).toBe(false);
    expect(flagVariables().has('CLOUDBURST_CLUSTER_SECRET_FILE')).toBe(true);
    const env = withoutFlagVariables({ CLOUDBURST_CLUSTER_SECRET: 's', CLOUDBURST_LISTEN: '0.0.0.0', CLOUDBURST_WORKERS: '3', PATH: '/bin' });
    expect(env).toEqual({ CLOUDBURST_CLUSTER_SECRET: 's', PATH: '/bin' });
  });

  it('forwardFlags: the given flags as a command line, booleans bare', () => {
    const p = flagsFromEnv('up', { CLOUDBURST_WORKERS: '3' }, parse(['up', '--autoscale', '--cache-mib', '64']));
    expect(forwardFlags(p, ['workers', 'cache-mib', 'autoscale', 'idle-timeout'])).toEqual(['--workers', '3', '--cache-mib', '64', '--autoscale']);
  });

  it('--value-memo-mib (or CLOUDBURST_VALUE_MEMO_MIB) on host and up, handed on to the hosts up starts', () => {
    expect(memoryFlags(parse(['host', '--value-memo-mib', '8']))).toEqual({ valueMemoMiB: 8 });
    const p = flagsFromEnv('up', { CLOUDBURST_VALUE_MEMO_MIB: '0' }, parse(['up']));
    expect(memoryFlags(p)).toEqual({ valueMemoMiB: 0 });
    expect(UP_FORWARDS.host).toContain('value-memo-mib');
    expect(FLAGS_BY_COMMAND.host).toContain('value-memo-mib');
  });
});

describe('addresses: listen and advertise', () => {
  it('wildcards', () => {
    for (const a of ['0.0.0.0', '::', '[::]', '0:0:0:0:0:0:0:0']) expect(isWildcard(a)).toBe(true);
    for (const a of ['127.0.0.1', '::1', '10.0.0.5', 'localhost']) expect(isWildcard(a)).toBe(false);
  });

  it('the announced URL: advertise as given, else scheme://listen:port with IPv6 in brackets', () => {
    expect(advertisedUrl({ listen: '0.0.0.0', advertise: 'http://10.0.0.5:7070/', port: 1, scheme: 'http' })).toBe('http://10.0.0.5:7070');
    expect(advertisedUrl({ listen: '::1', port: 7070, scheme: 'http' })).toBe('http://[::1]:7070');
    expect(advertisedUrl({ listen: '[::1]', port: 7070, scheme: 'https' })).toBe('https://[::1]:7070');
    expect(advertisedUrl({ port: 7100, scheme: 'http' })).toBe('http://127.0.0.1:7100');
  });

  it('refuses a wildcard without advertise, a URL that is not an origin, a wildcard URL, a scheme the server does not speak', () => {
    refused(() => checkAddresses({ listen: '0.0.0.0' }, 'cloudburst host'), /^--listen 0.0.0.0 needs --advertise URL: /);
    refused(() => checkAddresses({ listen: '::' }, 'a KV node'), /^--listen :: needs --advertise URL/);
    refused(() => checkAddresses({ listen: '0.0.0.0', advertise: 'http://10.0.0.5:7070/api' }, 'h'), /must be an origin/);
    refused(() => checkAddresses({ listen: '0.0.0.0', advertise: '10.0.0.5:7070' }, 'h'), /must be an origin|not a URL/);
    refused(() => checkAddresses({ advertise: 'http://0.0.0.0:7070' }, 'h'), /names every interface/);
    refused(() => checkAddresses({ advertise: 'http://10.0.0.5:7070', scheme: 'https' }, 'a host'), /a host serves https: .* must start with https:\/\//);
    expect(() => checkAddresses({ listen: '0.0.0.0', advertise: 'http://[fd00::5]:7070' }, 'h')).not.toThrow();
    expect(() => checkAddresses({ listen: '::1' }, 'h')).not.toThrow();
  });
});
