// What a DAG step passes downstream travels between hosts with the short names the message
// format has always had (host/README.md, "Cluster-internal DAG routes"); in memory every field
// is spelled out. The conversion happens where a trigger is sent and where it is parsed.
import { describe, expect, it } from 'vitest';
import { encodeSession } from '../../host/consistency/client-session.ts';
import { addCausal, joinSessions, parseStepSession, stepSessionToWire } from '../../host/consistency/step-session.ts';
import { parseTrigger, triggerToWire, type TriggerMsg } from '../../host/dag/protocol.ts';

const K = (name: string): string => `default/k/${name}`;

describe('step sessions on the wire', () => {
  it('a session travels as {reads: {key: {v, host, url}}, seen, need: {key: {d, h, u}}} and is read back spelled out', () => {
    const session = joinSessions([{ reads: { [K('r')]: { version: 'abc', host: 'h0', url: 'http://127.0.0.1:0' } }, history: [] }]);
    addCausal(session, { seen: { [K('a')]: ['c5.1.h-1/w0'] }, deps: { [K('b')]: ['p4.0.h-2/w1'] } }, 'h1', 'http://127.0.0.1:1');
    expect(session.need).toEqual({
      [K('a')]: { deps: ['c5.1.h-1/w0'], host: 'h1', url: 'http://127.0.0.1:1' },
      [K('b')]: { deps: ['p4.0.h-2/w1'], host: 'h1', url: 'http://127.0.0.1:1' },
    });
    const json = JSON.stringify(stepSessionToWire(session));
    expect(json).toBe(JSON.stringify({
      reads: { [K('r')]: { v: 'abc', host: 'h0', url: 'http://127.0.0.1:0' } },
      history: [],
      seen: { [K('a')]: ['c5.1.h-1/w0'] },
      need: {
        [K('a')]: { d: ['c5.1.h-1/w0'], h: 'h1', u: 'http://127.0.0.1:1' },
        [K('b')]: { d: ['p4.0.h-2/w1'], h: 'h1', u: 'http://127.0.0.1:1' },
      },
    }));
    expect(parseStepSession(JSON.parse(json))).toEqual(session);
    // A need may name no host (the wire never required one): absent stays absent.
    expect(parseStepSession({ reads: {}, history: [], need: { [K('c')]: { d: ['c1.0.w'] } } })?.need).toEqual({ [K('c')]: { deps: ['c1.0.w'] } });
    // The in-memory names are not the wire's: a peer sending them sends a malformed message.
    expect(() => parseStepSession({ reads: { [K('r')]: { version: 'abc', host: 'h0', url: 'http://127.0.0.1:0' } }, history: [] })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
    expect(() => parseStepSession({ reads: {}, history: [], need: { [K('c')]: { deps: ['c1.0.w'] } } })).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST' }));
  });

  it('a trigger keeps its fields and their order on the wire, its session converted', () => {
    const session = joinSessions([{ reads: {}, history: [] }]);
    addCausal(session, { seen: { [K('a')]: ['c5.1.h-1/w0'] } }, 'h1', 'http://127.0.0.1:1');
    const msg: TriggerMsg = { rid: 'r1', tenant: 'default', from: 'chain.s1', to: 'chain.s2', slot: 0, value: 'x', remainingMs: 900, client: encodeSession([]) };
    expect(JSON.stringify(triggerToWire(msg))).toBe(JSON.stringify(msg));
    msg.session = session;
    const json = JSON.stringify(triggerToWire(msg));
    expect(json).toBe(JSON.stringify({ ...msg, session: stepSessionToWire(session) }));
    expect(Object.keys(JSON.parse(json) as object)).toEqual(['rid', 'tenant', 'from', 'to', 'slot', 'value', 'remainingMs', 'client', 'session']);
    expect(parseTrigger(JSON.parse(json)).session).toEqual(session);
  });
});
