import { describe, expect, it } from 'vitest';
import { CloudburstError } from '../../common/index.ts';
import { HeldReply, MAX_REPLY_MESSAGES, parseReply } from '../../host/dag/reply.ts';
import type { DoneMsg, TriggerMsg } from '../../host/dag/protocol.ts';

const trigger = (rid: string, tenant = 'default'): TriggerMsg => ({ rid, tenant, from: 'm.a', to: 'm.b', slot: 0, value: 5, remainingMs: 1000 });
const done = (rid: string, tenant = 'default'): DoneMsg => ({ rid, tenant, ok: true, step: 'm.b', host: 'h1', result: 25 });

describe('HeldReply (a schedule\'s answer that carries messages)', () => {
  it('answers once with the messages given in one turn, then takes no more', async () => {
    const answers: unknown[] = [];
    const r = new HeldReply((body) => answers.push(body));
    expect(r.trigger(trigger('r1'))).toBe(true);
    expect(r.done(done('r1'))).toBe(true);
    expect(answers).toEqual([]); // not before this turn's promise jobs
    await Promise.resolve();
    expect(answers).toEqual([{ messages: [{ kind: 'trigger', ...trigger('r1') }, { kind: 'done', ...done('r1') }] }]);
    expect(r.open).toBe(false);
    expect(r.trigger(trigger('r1'))).toBe(false);
    r.close();
    expect(answers).toHaveLength(1);
  });

  it('closed with nothing: an empty answer (204), once', () => {
    const answers: unknown[] = [];
    const r = new HeldReply((body) => answers.push(body));
    r.close();
    r.close();
    expect(answers).toEqual([undefined]);
  });

  it('what it answers parses back on the coordinator\'s side', async () => {
    let body: unknown;
    const r = new HeldReply((b) => (body = JSON.parse(JSON.stringify(b))));
    r.trigger(trigger('r2'));
    r.done(done('r2'));
    await Promise.resolve();
    expect(parseReply(body, 'default')).toEqual({ triggers: [trigger('r2')], dones: [done('r2')] });
  });
});

describe('parseReply (a reply comes from the network)', () => {
  const refused = (body: unknown, tenant = 'default'): CloudburstError => {
    try {
      parseReply(body, tenant);
    } catch (err) {
      return err as CloudburstError;
    }
    throw new Error('accepted');
  };

  it('no body (204): no messages', () => {
    expect(parseReply(undefined, 'default')).toEqual({ triggers: [], dones: [] });
  });

  it('malformed replies are INTERNAL (a peer\'s fault, not the caller\'s), never a crash', () => {
    for (const body of [null, 5, 'x', [], {}, { messages: 'x' }, { messages: [null] }, { messages: [{ kind: 'other' }] }, { messages: [{ kind: 'trigger', rid: 5 }] }, { messages: [{ kind: 'done', rid: 'r' }] }]) {
      const e = refused(body);
      expect(e).toBeInstanceOf(CloudburstError);
      expect(e.code).toBe('INTERNAL');
    }
  });

  it('bounded: more than MAX_REPLY_MESSAGES is refused before any is parsed', () => {
    const e = refused({ messages: Array.from({ length: MAX_REPLY_MESSAGES + 1 }, () => ({ kind: 'trigger', ...trigger('r') })) });
    expect(e.message).toContain(`at most ${MAX_REPLY_MESSAGES}`);
    expect(parseReply({ messages: Array.from({ length: MAX_REPLY_MESSAGES }, () => ({ kind: 'trigger', ...trigger('r') })) }, 'default').triggers).toHaveLength(MAX_REPLY_MESSAGES);
  });

  it('a message of another tenant than the run\'s is refused', () => {
    const e = refused({ messages: [{ kind: 'done', ...done('r', 'other') }] }, 'default');
    expect(e.code).toBe('INTERNAL');
    expect(e.message).toContain('another tenant');
  });
});
