import { describe, expect, it } from 'vitest';
import { checkCausal, countAnomalies, versionLeq, versionLess, type HistoryEvent, type VersionInfo } from '../../../tools/workload/history.ts';

/** A version written by `writer` at `ms`, with the vector entries of its past (`past`). */
const causal = (ms: number, writer: string, past: Record<string, string> = {}, f = '0.0.'): VersionInfo =>
  ({ id: `${ms}.0.${writer}`, vc: { ...past, [writer]: `${ms}.0` }, f });
/** A plain (lww) version: no vector, its own stamp as its floor. */
const plain = (ms: number, writer: string, c = 0): VersionInfo => ({ id: `${ms}.${c}.${writer}`, vc: {}, f: `${ms}.${c}.${writer}` });

let n = 0;
const r = (rid: string, key: string, ...ver: VersionInfo[]): HistoryEvent => ({ rid, step: 's', host: 'h', i: n++, op: 'r', key, v: ver[0]?.id ?? '-', ver });
const w = (rid: string, key: string, ver: VersionInfo): HistoryEvent => ({ rid, step: 's', host: 'h', i: n++, op: 'w', key, v: ver.id, ver: [ver] });

describe('version order', () => {
  it('compares stamps by ms and c as numbers, then by writer', () => {
    expect(versionLess(plain(999, 'h-b/w0'), plain(1000, 'h-a/w0'))).toBe(true);
    expect(versionLess(plain(1000, 'h-a/w0', 9), plain(1000, 'h-a/w0', 10))).toBe(true);
    expect(versionLess(plain(1000, 'h-a/w0'), plain(1000, 'h-b/w0'))).toBe(true);
    expect(versionLess(plain(1000, 'h-b/w0'), plain(1000, 'h-a/w0'))).toBe(false);
    expect(versionLeq(plain(1000, 'h-a/w0'), plain(1000, 'h-a/w0'))).toBe(true);
    expect(versionLess(plain(1000, 'h-a/w0'), plain(1000, 'h-a/w0'))).toBe(false);
  });

  it('a vector must be covered: concurrent versions are not ordered, a plain version is below a causal one only by floor', () => {
    const a = causal(1000, 'h-a/w0');
    const b = causal(2000, 'h-b/w0');
    expect(versionLeq(a, b) || versionLeq(b, a)).toBe(false);
    const ab = causal(3000, 'h-b/w0', { 'h-a/w0': '1000.0' });
    expect(versionLess(a, ab)).toBe(true);
    expect(versionLess(ab, a)).toBe(false);
    // A vector entry further on in x than in y: x is not below y.
    expect(versionLeq(causal(1500, 'h-a/w0'), ab)).toBe(false);
    // Floors: a causal version whose floor is past a plain write is above it, not the other way round.
    const p = plain(500, 'h-p/main');
    const withFloor = causal(4000, 'h-c/w0', {}, p.f);
    expect(versionLess(p, withFloor)).toBe(true);
    expect(versionLeq(withFloor, p)).toBe(false);
    expect(versionLeq(p, causal(4000, 'h-c/w0'))).toBe(false);
  });
});

describe('the causal checker', () => {
  // Alice tweets (t, over the older t0), Bob reads the tweet and replies (r).
  const t0 = causal(1000, 'h-e/w0');
  const t = causal(2000, 'h-a/w0', { 'h-e/w0': '1000.0' });
  const reply = causal(3000, 'h-b/w0', { 'h-e/w0': '1000.0', 'h-a/w0': '2000.0' });
  const tweetAndReply = [r('alice', 'tweet', t0), w('alice', 'tweet', t), r('bob', 'tweet', t), w('bob', 'reply', reply)];

  it('finds a reply seen before its tweet (the dependency written by another request)', () => {
    // Carol comes first in the history: the checker must look ahead for Bob's and Alice's requests.
    const carol = [r('carol', 'reply', reply), r('carol', 'tweet', t0)];
    const bad = checkCausal([...carol, ...tweetAndReply]);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ rid: 'carol', key: 'tweet', read: carol[1], seen: t0, dep: t });
    // Seeing the tweet itself is fine; so is reading the old tweet before the reply.
    expect(checkCausal([...tweetAndReply, r('dave', 'reply', reply), r('dave', 'tweet', t)])).toEqual([]);
    expect(checkCausal([...tweetAndReply, r('erin', 'tweet', t0), r('erin', 'reply', reply)])).toEqual([]);
  });

  it('allows a read of a version concurrent with the one depended on, even among several concurrent versions', () => {
    const other = causal(2500, 'h-c/w0', { 'h-e/w0': '1000.0' }); // concurrent with t
    expect(versionLeq(other, t) || versionLeq(t, other)).toBe(false);
    expect(checkCausal([...tweetAndReply, r('frank', 'reply', reply), r('frank', 'tweet', other)])).toEqual([]);
    expect(checkCausal([...tweetAndReply, r('frank', 'reply', reply), r('frank', 'tweet', other, t)])).toEqual([]);
    // ... but not when one of the concurrent versions returned is below the dependency.
    expect(checkCausal([...tweetAndReply, r('frank', 'reply', reply), r('frank', 'tweet', other, t0)])).toMatchObject([{ rid: 'frank', seen: t0, dep: t }]);
  });

  it('allows a request to read its own write; reading below it afterwards is a violation', () => {
    const mine = causal(5000, 'h-a/w1', { 'h-e/w0': '1000.0' });
    expect(checkCausal([r('g', 'k', t0), w('g', 'k', mine), r('g', 'k', mine)])).toEqual([]);
    expect(checkCausal([r('g', 'k', t0), w('g', 'k', mine), r('g', 'k', t0)])).toMatchObject([{ rid: 'g', key: 'k', seen: t0, dep: mine }]);
  });

  it('follows dependencies transitively, through requests and keys', () => {
    const a1 = causal(2000, 'h-a/w0', { 'h-e/w0': '1000.0' }); // over t0, key a
    const b1 = causal(3000, 'h-b/w0', { 'h-a/w0': '2000.0', 'h-e/w0': '1000.0' }); // key b, read a1
    const c1 = causal(4000, 'h-c/w0', { 'h-b/w0': '3000.0', 'h-a/w0': '2000.0', 'h-e/w0': '1000.0' }); // key c, read b1
    const history = [
      r('D', 'c', c1), r('D', 'a', t0), // D depends on a1 through c1 and b1, then reads the older a
      r('C', 'b', b1), w('C', 'c', c1),
      r('B', 'a', a1), w('B', 'b', b1),
      w('A', 'a', a1),
    ];
    expect(checkCausal(history)).toMatchObject([{ rid: 'D', key: 'a', seen: t0, dep: a1 }]);
    // Without the middle request, c1 has no known dependencies: nothing to find.
    expect(checkCausal(history.filter((e) => e.rid !== 'C'))).toEqual([]);
  });

  it('a version has in its past the versions of its key it was written over, read or not (a blind re-write)', () => {
    // Bob replies (r1, over his register's r0, after reading t); later his register is written
    // again (r2, over r1) by a request that read nothing: r2 has r1, and so t, in its past.
    const r0 = causal(1500, 'h-b/w0');
    const r1 = causal(3000, 'h-b/w0', { 'h-b/w0': '1500.0' });
    const r2 = causal(4000, 'h-a/w1', { 'h-b/w0': '3000.0' });
    const writes = [r('bob', 'tweet', t), r('bob', 'reply', r0), w('bob', 'reply', r1), w('blind', 'reply', r2)];
    // Readers first in the history: the checker must find both writers.
    const carol = [r('carol', 'reply', r2), r('carol', 'tweet', t0)];
    expect(checkCausal([...carol, ...writes])).toMatchObject([{ rid: 'carol', key: 'tweet', seen: t0, dep: t }]);
    // The blind writer itself depends on t from its write on.
    const blindThenRead = [r('bob', 'tweet', t), r('bob', 'reply', r0), w('bob', 'reply', r1), w('blind2', 'reply', r2), r('blind2', 'tweet', t0)];
    expect(checkCausal(blindThenRead)).toMatchObject([{ rid: 'blind2', key: 'tweet', seen: t0, dep: t }]);
    // Reading r0 (below r1) brings nothing of t; neither does a version concurrent with r1.
    const side = causal(3500, 'h-c/w0', { 'h-b/w0': '1500.0' });
    expect(checkCausal([...writes, w('other', 'reply', side), r('dave', 'reply', r0), r('dave', 'tweet', t0), r('erin', 'reply', side), r('erin', 'tweet', t0)])).toEqual([]);
    // Plain versions are ordered by stamp only: a later plain write does not bring an earlier one's past.
    const p1 = plain(5000, 'h-p/w0');
    const p2 = plain(6000, 'h-p/w1');
    expect(checkCausal([r('x', 'tweet', t), w('x', 'k', p1), w('y', 'k', p2), r('z', 'k', p2), r('z', 'tweet', t0)])).toEqual([]);
  });

  it('the recorded case: a timeline reads the replier\'s register above a reply, then the parent\'s author\'s register without the post', () => {
    // As test/cluster/posts.test.ts recorded it on the code before the fix (stamps shortened):
    // alice posts p1; bob replies to it (r1), then to carol's c0 (r2: reads carol's and bob's
    // registers, not alice's); a timeline reads bob's register at r2, then alice's at p0.
    const p0 = causal(39762, 'h-a/w0');
    const b0 = causal(39915, 'h-a/w0');
    const c0 = causal(39960, 'h-a/w0');
    const p1 = causal(40750, 'h-a/w0');
    const r1 = causal(40769, 'h-a/w0');
    const r2 = causal(40782, 'h-a/w0');
    const history = [
      r('post-p0', 'alice'), w('post-p0', 'alice', p0), r('post-b0', 'bob'), w('post-b0', 'bob', b0), r('post-c0', 'carol'), w('post-c0', 'carol', c0),
      r('post-p1', 'alice', p0), w('post-p1', 'alice', p1),
      r('reply-r1', 'alice', p1), r('reply-r1', 'bob', b0), w('reply-r1', 'bob', r1),
      r('reply-r2', 'carol', c0), r('reply-r2', 'bob', r1), w('reply-r2', 'bob', r2),
      r('timeline', 'bob', r2), r('timeline', 'alice', p0),
    ];
    expect(checkCausal(history)).toMatchObject([{ rid: 'timeline', key: 'alice', seen: p0, dep: p1 }]);
  });

  it('orders plain (lww) versions by stamp: reading an older one after a newer is a violation', () => {
    const old = plain(1000, 'h-1/w0');
    const young = plain(1000, 'h-1/w0', 1);
    const byOther = plain(2000, 'h-2/main');
    expect(checkCausal([r('x', 'k', young), r('x', 'k', old)])).toMatchObject([{ rid: 'x', seen: old, dep: young }]);
    expect(checkCausal([r('x', 'k', old), r('x', 'k', young), r('x', 'k', byOther)])).toEqual([]);
    // Through another request's write: y read byOther at key k, then wrote j; z reads j, then an older k.
    expect(checkCausal([r('y', 'k', byOther), w('y', 'j', plain(3000, 'h-2/w1')), r('z', 'j', plain(3000, 'h-2/w1')), r('z', 'k', young)]))
      .toMatchObject([{ rid: 'z', key: 'k', seen: young, dep: byOther }]);
  });

  it('a key found absent after the request depended on a version of it is a violation', () => {
    expect(checkCausal([...tweetAndReply, r('h', 'reply', reply), r('h', 'tweet')])).toMatchObject([{ rid: 'h', key: 'tweet', seen: null, dep: t }]);
    expect(checkCausal([r('h', 'tweet'), r('h', 'tweet', t0)])).toEqual([]);
  });

  it('ignores events without versions (counters, sets, maxima)', () => {
    const bare: HistoryEvent = { rid: 'c', step: 's', host: 'h', i: 0, op: 'r', key: 'ctr', v: 'abc' };
    expect(checkCausal([bare, { ...bare, v: 'def' }])).toEqual([]);
  });

  it('handles long dependency chains and histories with cycles', () => {
    const chain: HistoryEvent[] = [];
    const len = 20_000;
    const vs = Array.from({ length: len }, (_, i) => plain(1000 + i, 'h-1/w0'));
    const key = (i: number): string => `k${i % 100}`;
    // Request i reads request i-1's write, then writes the next key (100 keys, round robin); listed newest first.
    for (let i = len - 1; i >= 1; i--) chain.push(r(`q${i}`, key(i - 1), vs[i - 1]!), w(`q${i}`, key(i), vs[i]!));
    chain.push(w('q0', key(0), vs[0]!));
    // The last request depends on every write; key 0 was last written by request len - 100.
    chain.push(r('last', key(len - 1), vs[len - 1]!), r('last', key(0), vs[len - 200]!));
    expect(checkCausal(chain)).toMatchObject([{ rid: 'last', key: key(0), seen: vs[len - 200], dep: vs[len - 100] }]);
    // Impossible in a real run, but the checker must end: each request reads the other's write.
    const x = plain(10, 'h-x/w0');
    const y = plain(20, 'h-y/w0');
    expect(checkCausal([r('X', 'y', y), w('X', 'x', x), r('Y', 'x', x), w('Y', 'y', y)])).toEqual([]);
  });

  it('countAnomalies: requests violating each guarantee', () => {
    const rrBad = [r('p', 'k', plain(1, 'h/w')), r('p', 'k', plain(2, 'h/w'))]; // rr only: newer
    const both = [r('q', 'k', plain(2, 'h/w')), r('q', 'k', plain(1, 'h/w'))]; // newer then older: both
    expect(countAnomalies([...rrBad, ...both, r('ok', 'k', plain(1, 'h/w'))])).toEqual({ requests: 3, rr: 2, causal: 1 });
  });
});
