// The CLI's manners, in-process (tools/cli: commands.ts, check.ts, help.ts, exit.ts,
// args-input.ts, progress.ts, banner.ts): strict flags with suggestions, choices, per-command
// help with defaults, JSON errors, exit codes, --args from a file or stdin. Every refusal here
// happens before anything would start, so main() runs in this process.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { argsText } from '../../tools/cli/args-input.ts';
import { bannerLines } from '../../tools/cli/banner.ts';
import { checkFlags, nearest, resolveCommand } from '../../tools/cli/check.ts';
import { COMMANDS, FLAGS } from '../../tools/cli/commands.ts';
import { EXIT, UsageError } from '../../tools/cli/exit.ts';
import { FLAGS_BY_COMMAND, flagsFromEnv, parse } from '../../tools/cli/flags.ts';
import { commandHelp } from '../../tools/cli/help.ts';
import { main } from '../../tools/cli/main.ts';
import { progress } from '../../tools/cli/progress.ts';

/** The error `fn` throws (it must throw). */
const thrown = (fn: () => unknown): Error => {
  try {
    fn();
  } catch (err) {
    return err as Error;
  }
  throw new Error('it did not throw');
};

const check = (argv: string[], env: Record<string, string> = {}): void => {
  const p = parse(argv);
  const command = resolveCommand(p.positional);
  flagsFromEnv(p.positional[0]!, env, p);
  checkFlags(command, p);
};

/** Runs main() in this process, capturing stdout and stderr. */
async function runMain(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void (stdout += `${a.join(' ')}\n`));
  const error = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void (stderr += `${a.join(' ')}\n`));
  try {
    return { code: await main(argv), stdout, stderr };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe('cli: strict flags', () => {
  it('an unknown or misspelled flag is refused with the nearest one', () => {
    const err = thrown(() => check(['up', '--fsycn', 'always']));
    expect(err).toBeInstanceOf(UsageError);
    expect(err.message).toMatch(/^unknown flag --fsycn for `cloudburst up`: did you mean --fsync\?/);
    expect(thrown(() => check(['fn', 'call', 'math.square', '7', '--asyn'])).message).toContain('did you mean --async?');
    expect(thrown(() => check(['fn', 'call', 'math.square', '--consistancy', 'rr'])).message).toContain('did you mean --consistency?');
  });

  it('a flag of another command says whose it is', () => {
    expect(thrown(() => check(['fn', 'list', '--fsync', 'always'])).message).toMatch(/unknown flag --fsync for `cloudburst fn list` \(it is a flag of `up`, `kvs`\)/);
  });

  it('a value outside the flag\'s choices is refused, from the command line or the environment', () => {
    expect(thrown(() => check(['up', '--fsync', 'bogus'])).message).toBe('--fsync "bogus" is not one of batch, always, off');
    expect(thrown(() => check(['up', '--fsync', 'alway'])).message).toContain('(did you mean always?)');
    expect(thrown(() => check(['kvs'], { CLOUDBURST_FSYNC: 'never' })).message).toBe('CLOUDBURST_FSYNC (--fsync) "never" is not one of batch, always, off');
    expect(thrown(() => check(['fn', 'call', 'f', '--consistency', 'strong'])).message).toContain('lww, rr, causal');
    expect(thrown(() => check(['kv', 'put', 'k', 'v', '--type', 'map'])).message).toContain('lww, counter, set, max');
    expect(() => check(['up', '--fsync', 'always'])).not.toThrow();
    expect(() => check(['kvs'], { CLOUDBURST_FSYNC: 'off' })).not.toThrow();
  });

  it('numbers and durations are checked before anything starts', () => {
    expect(thrown(() => check(['up', '--port', 'seventy'])).message).toBe('--port must be a whole number (got "seventy")');
    expect(thrown(() => check(['host', '--drain-timeout', '5 minutes'])).message).toContain('--drain-timeout must be a duration: 500ms, 5s, 1m');
    expect(() => check(['host', '--drain-timeout', '5s', '--port', '0'])).not.toThrow();
  });

  it('an unknown command, or verb, is refused with the nearest one', () => {
    expect(thrown(() => check(['fn', 'cal', 'x'])).message).toContain('did you mean `cloudburst fn call`?');
    expect(thrown(() => check(['dpeloy'])).message).toMatch(/unknown command "dpeloy"/);
    expect(thrown(() => check(['clutser', 'status'])).message).toContain('did you mean `cloudburst cluster`?');
    expect(thrown(() => check(['fn'])).message).toContain('`cloudburst fn` needs one of: deploy, list, show, delete, call');
  });

  it('a known flag without its value is a usage error; an unknown one followed by a flag takes no value', () => {
    expect(thrown(() => parse(['up', '--port']))).toBeInstanceOf(UsageError);
    const p = parse(['fn', 'call', 'f', '--asyn', '--json']);
    expect(p.flags.get('json')).toEqual(['true']);
  });

  it('a single flag given twice: the last one wins (up passes its children overriding address flags)', () => {
    expect(() => check(['host', '--port', '1', '--port', '0'])).not.toThrow();
    expect(parse(['host', '--port', '1', '--port', '0']).flags.get('port')).toEqual(['1', '0']);
  });

  it('every command\'s flags are in the table, and the environment rule reads each server command\'s whole list', () => {
    for (const c of COMMANDS) for (const f of c.flags) expect(FLAGS, `${c.words} --${f}`).toHaveProperty(f);
    expect([...FLAGS_BY_COMMAND.up]).toEqual(COMMANDS.find((c) => c.words === 'up')!.flags);
    expect(FLAGS_BY_COMMAND.kvs).toContain('fsync');
    for (const f of FLAGS_BY_COMMAND.client) expect(COMMANDS.find((c) => c.words === 'fn call')!.flags).toContain(f);
  });
});

describe('cli: help', () => {
  it('each command has its own --help with its flags, choices, defaults and variables', async () => {
    const up = await runMain(['up', '--help']);
    expect(up.code).toBe(0);
    expect(up.stdout).toMatch(/^usage: cloudburst up \[flags\]/);
    expect(up.stdout).toMatch(/--fsync batch\|always\|off +when the KV tier fsyncs .*\(default: batch; env CLOUDBURST_FSYNC\)/);
    expect(up.stdout).toMatch(/--port PORT .*\(default: 7070; env CLOUDBURST_PORT\)/);
    const kvs = commandHelp(resolveCommand(['kvs']));
    expect(kvs).toMatch(/--port PORT .*default: 7100/);
    const call = await runMain(['fn', 'call', '--help']);
    expect(call.stdout).toMatch(/^usage: cloudburst fn call FN \[ARG\.\.\.\] \[flags\]/);
    expect(call.stdout).toContain('--args JSON|@FILE|-');
    expect(call.stdout).toMatch(/--consistency lww\|rr\|causal .*default: lww/);
    expect((await runMain(['help', 'cluster', 'down'])).stdout).toMatch(/^usage: cloudburst cluster down/);
    expect((await runMain(['fn', '--help'])).stdout).toContain('cloudburst fn call FN [ARG...] [flags]');
  });

  it('--help lists every command and the exit codes; no command at all is a usage error', async () => {
    const all = await runMain(['--help']);
    expect(all.code).toBe(0);
    for (const c of COMMANDS) expect(all.stdout).toContain(`cloudburst ${c.words}`);
    expect(all.stdout).toContain('64 usage error');
    expect((await runMain([])).code).toBe(EXIT.usage);
  });
});

describe('cli: errors and exit codes', () => {
  it('a usage error exits 64 with `error CODE: message`; with --json it is {"error": {code, message}} on stderr', async () => {
    const human = await runMain(['up', '--fsync', 'bogus']);
    expect(human).toEqual({ code: 64, stdout: '', stderr: 'error INVALID_REQUEST: --fsync "bogus" is not one of batch, always, off\n' });
    const json = await runMain(['fn', 'call', 'math.square', '--asyn', '--json']);
    expect(json.code).toBe(64);
    expect(json.stdout).toBe('');
    expect(JSON.parse(json.stderr)).toEqual({ error: { code: 'INVALID_REQUEST', message: expect.stringContaining('did you mean --async?') }, exit: 64 });
  });

  it('--json errors for a caller\'s mistake found by the CLI (a missing --args file): exit 1', async () => {
    const out = await runMain(['fn', 'call', 'math.square', '--args', '@/nonexistent/args.json', '--json', '--url', 'http://127.0.0.1:1']);
    expect(out.code).toBe(EXIT.caller);
    expect(JSON.parse(out.stderr)).toEqual({ error: { code: 'INVALID_REQUEST', message: '--args @/nonexistent/args.json: cannot read it (ENOENT)' }, exit: 1 });
  });
});

describe('cli: --args from a file or stdin', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'cb-args-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('JSON as given, @FILE read, - read from stdin', async () => {
    const file = join(dir, 'args.json');
    await writeFile(file, '["x", 2]');
    expect(await argsText('[1]')).toBe('[1]');
    expect(await argsText(`@${file}`)).toBe('["x", 2]');
    expect(await argsText('-', Readable.from([Buffer.from('[3, '), Buffer.from('4]')]))).toBe('[3, 4]');
  });

  it('more than the host accepts is refused before anything is sent, from a file or stdin', async () => {
    const file = join(dir, 'big.json');
    await writeFile(file, `[${'1,'.repeat(50)}1]`);
    await expect(argsText(`@${file}`, undefined, 64)).rejects.toMatchObject({ code: 'BODY_TOO_LARGE', message: expect.stringContaining(`--args @${file} is over 64 bytes`) });
    await expect(argsText('-', Readable.from([Buffer.alloc(40), Buffer.alloc(40)]), 64)).rejects.toMatchObject({ code: 'BODY_TOO_LARGE', message: expect.stringContaining('--args - (stdin)') });
  });

  it('a file that is not JSON is named in the error', async () => {
    const file = join(dir, 'bad.json');
    await writeFile(file, '{nope');
    const out = await runMain(['fn', 'call', 'f', '--args', `@${file}`, '--url', 'http://127.0.0.1:1']);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain(`error MALFORMED_JSON: --args @${file} is not JSON`);
  });
});

describe('cli: the start banner and progress', () => {
  it('the banner shows the URL it got and the export line for another terminal', () => {
    expect(bannerLines({ url: 'http://127.0.0.1:40123', dataDir: '/w/.cloudburst', token: true }, '/w')).toEqual([
      'export CLOUDBURST_URL=http://127.0.0.1:40123   (for the CLI in another terminal)',
      'try:  npx cloudburst fn call math.square 7',
    ]);
    const tls = bannerLines({ url: 'https://127.0.0.1:7443', dataDir: '/d', cert: '/c/cert.pem', token: true }, '/w');
    expect(tls[0]).toBe('export CLOUDBURST_URL=https://127.0.0.1:7443; export CLOUDBURST_CA=/c/cert.pem; export CLOUDBURST_TOKEN=$(cat /d/admin-token)   (for the CLI in another terminal)');
  });

  it('progress draws on a terminal only, and clears its line when done', () => {
    let tty = '';
    const shown = progress('building x.ts', { stream: { isTTY: true, write: (t: string) => (tty += t) } });
    shown.log('a line');
    shown.done();
    expect(tty).toContain('building x.ts');
    expect(tty).toContain('\r\x1b[Ka line\n');
    expect(tty.endsWith('\r\x1b[K')).toBe(true);
    let pipe = '';
    const quiet = progress('building x.ts', { stream: { isTTY: false, write: (t: string) => (pipe += t) } });
    quiet.log('a line');
    quiet.done();
    expect(pipe).toBe('a line\n');
    let json = '';
    progress('x', { quiet: true, stream: { isTTY: true, write: (t: string) => (json += t) } }).done();
    expect(json).toBe('');
  });

  it('nearest: slips within a third of the word, else nothing', () => {
    expect(nearest('fsycn', ['fsync', 'port'])).toBe('fsync');
    expect(nearest('zzzzzz', ['fsync', 'port'])).toBeUndefined();
  });
});

describe('cli: the platform\'s refusal in the flag\'s words', () => {
  it('a field the CLI filled is named as its flag, in refusals of the request\'s shape only', async () => {
    const { inFlagTerms } = await import('../../tools/cli/exit.ts');
    const { CloudburstError } = await import('../../common/index.ts');
    const fields = { timeoutMs: '--timeout', args: '--args', consistency: '--consistency' };
    expect(inFlagTerms(new CloudburstError('INVALID_REQUEST', 'timeoutMs must be an integer from 1 to 60000'), fields).message).toBe('--timeout must be an integer from 1 to 60000');
    expect(inFlagTerms(new CloudburstError('INVALID_ARGUMENTS', '"args" must be an array'), fields).message).toBe('--args must be an array');
    const other = new CloudburstError('CONSISTENCY_UNAVAILABLE', 'the consistency of the session could not be met');
    expect(inFlagTerms(other, fields)).toBe(other);
  });
});
