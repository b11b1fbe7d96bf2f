import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KeyBatcher } from '../../../kvs/cluster/batcher.ts';
import { Membership, MEMBER_STATES, mergeMember, parseMembers, type Member } from '../../../kvs/cluster/membership.ts';
import { CloudburstError } from '../../../common/index.ts';

const memberArb: fc.Arbitrary<Member> = fc.record({
  id: fc.constantFrom('a', 'b', 'c', 'd'),
  url: fc.constantFrom('http://127.0.0.1:1', 'http://127.0.0.1:2'),
  state: fc.constantFrom(...MEMBER_STATES),
  incarnation: fc.integer({ min: 0, max: 3 }),
});
const viewArb = fc.array(memberArb, { maxLength: 6 }).map((ms) => Membership.of(ms));
const same = (a: Membership, b: Membership): boolean => a.version === b.version && JSON.stringify(a.members()) === JSON.stringify(b.members());
const m = (id: string, state: Member['state'], incarnation = 1, extra: Partial<Member> = {}): Member => ({ id, url: `http://127.0.0.1:${id.length}`, state, incarnation, ...extra });

describe('membership', () => {
  it('membership: merge is commutative, associative and idempotent', () => {
    fc.assert(fc.property(viewArb, viewArb, (a, b) => same(a.merge(b), b.merge(a))), { numRuns: 300 });
    fc.assert(fc.property(viewArb, viewArb, viewArb, (a, b, c) => same(a.merge(b).merge(c), a.merge(b.merge(c)))), { numRuns: 300 });
    fc.assert(fc.property(viewArb, viewArb, (a, b) => same(a.merge(a), a) && same(a.merge(b).merge(b), a.merge(b))), { numRuns: 300 });
    fc.assert(fc.property(memberArb, memberArb, (x, y) => x.id !== y.id || mergeMember(x, y) === mergeMember(y, x) || JSON.stringify(mergeMember(x, y)) === JSON.stringify(mergeMember(y, x))));
  });

  it('membership: merge returns the same object when nothing is new', () => {
    const view = Membership.of([m('a', 'up', 2), m('b', 'up')]);
    expect(view.merge(Membership.of([m('a', 'up', 1)]))).toBe(view);
    expect(view.merge(Membership.of([m('a', 'leaving', 2)]))).not.toBe(view);
  });

  it('membership: the higher incarnation wins, then the later state', () => {
    expect(mergeMember(m('a', 'left', 1), m('a', 'up', 2)).state).toBe('up');
    expect(mergeMember(m('a', 'up', 2), m('a', 'leaving', 2)).state).toBe('leaving');
  });

  it('membership: the ring version tells memberships apart and grows with incarnations', () => {
    const a = Membership.of([m('a', 'up', 1), m('b', 'up', 2)]);
    const b = Membership.of([m('a', 'up', 2), m('b', 'up', 1)]);
    expect(a.version.split('-')[0]).toBe('3');
    expect(a.version).not.toBe(b.version);
    expect(Membership.of([...a.members()].reverse()).version).toBe(a.version);
  });

  it('membership: placement has up and leaving members, the future ring joining and up ones', () => {
    const view = Membership.of([m('a', 'up'), m('b', 'joining'), m('c', 'leaving'), m('d', 'left')]);
    expect(view.placement.members.map((x) => x.id)).toEqual(['a', 'c']);
    expect(view.future.members.map((x) => x.id)).toEqual(['a', 'b']);
  });

  it('membership: replication defaults by ring size; the largest announced factor and quorum win', () => {
    const three = Membership.of([m('a', 'up'), m('b', 'up'), m('c', 'up')]);
    expect(three.placement.replication).toBe(3);
    expect(three.writeQuorum()).toBe(2);
    const one = Membership.of([m('a', 'up'), m('b', 'joining')]);
    expect([one.placement.replication, one.future.replication, one.writeQuorum()]).toEqual([1, 2, 1]);
    const configured = Membership.of([m('a', 'up', 1, { replication: 2, writeQuorum: 1 }), m('b', 'up', 1, { replication: 3 }), m('c', 'up'), m('d', 'up')]);
    expect([configured.placement.replication, configured.writeQuorum()]).toEqual([3, 1]);
  });

  it('membership: a key some serving member announced hot is readable from two more nodes', () => {
    const members = ['a', 'b', 'c', 'd', 'e'].map((id) => m(id, 'up', 1, { replication: 2 }));
    const cold = Membership.of(members);
    const hot = cold.merge(Membership.of([m('a', 'up', 2, { replication: 2, hot: ['k'] })]));
    expect(cold.readReplicasFor('k')).toHaveLength(2);
    expect(hot.readReplicasFor('k')).toHaveLength(4);
    expect(hot.readReplicasFor('k').slice(0, 2)).toEqual(hot.placement.replicasFor('k'));
    expect(hot.readReplicasFor('other')).toHaveLength(2);
    expect(hot.version).not.toBe(cold.version);
    // A leaving member's opinion still counts, a joining or left one's does not.
    expect(Membership.of([m('a', 'joining', 1, { hot: ['k'] }), m('b', 'up')]).hot.size).toBe(0);
    expect(() => parseMembers([{ id: 'a', url: 'http://x:1', state: 'up', incarnation: 1, hot: [''] }])).toThrow(CloudburstError);
  });

  it('membership: untrusted JSON is validated', () => {
    const bad = (x: unknown): string => {
      try {
        parseMembers(x);
        return 'accepted';
      } catch (err) {
        return (err as CloudburstError).code;
      }
    };
    expect(bad({})).toBe('INVALID_REQUEST');
    expect(bad([{ id: 'a', url: 'ftp://x', state: 'up', incarnation: 1 }])).toBe('INVALID_REQUEST');
    expect(bad([{ id: 'a', url: 'http://x:1', state: 'gone', incarnation: 1 }])).toBe('INVALID_REQUEST');
    expect(bad([{ id: 'a', url: 'http://x:1', state: 'up', incarnation: -1 }])).toBe('INVALID_REQUEST');
    expect(bad([{ id: 'a', url: 'http://x:1', state: 'up', incarnation: 1, replication: 0 }])).toBe('INVALID_REQUEST');
    expect(bad([{ id: 'a', url: 'http://x:1', state: 'up', incarnation: 1 }])).toBe('accepted');
  });
});

describe('KeyBatcher', () => {
  it('KeyBatcher: coalesces keys per destination, one send in flight at a time', async () => {
    const sends: string[][] = [];
    let release: () => void = () => {};
    const b = new KeyBatcher({
      delayMs: 1,
      maxBatch: 100,
      send: async (_dest, keys) => {
        sends.push(keys);
        if (sends.length === 1) await new Promise<void>((r) => (release = r));
      },
      onFailure: () => 'drop',
    });
    b.enqueue('d', 'a');
    b.enqueue('d', 'a');
    await new Promise((r) => setTimeout(r, 10));
    for (const k of ['b', 'c', 'b']) b.enqueue('d', k);
    await new Promise((r) => setTimeout(r, 10));
    expect(sends).toEqual([['a']]); // b and c wait for the first send
    release();
    await b.idle();
    expect(sends).toEqual([['a'], ['b', 'c']]);
    b.close();
  });

  it('KeyBatcher: retries a failed batch when told, and drops it when told', async () => {
    let attempts = 0;
    const dropped: string[][] = [];
    const b = new KeyBatcher({
      delayMs: 1,
      maxBatch: 10,
      send: async () => {
        attempts++;
        throw new Error('down');
      },
      onFailure: (_d, keys, _e, attempt) => {
        if (attempt < 3) return { retryInMs: 1 };
        dropped.push(keys);
        return 'drop';
      },
    });
    b.enqueue('d', 'k');
    await b.idle();
    expect(attempts).toBe(3);
    expect(dropped).toEqual([['k']]);
    b.close();
  });
});
