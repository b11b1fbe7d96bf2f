/**
 * The binary wire's framing (kvs/wire/frame.ts): frames cut out of a byte stream split at any
 * points, request heads as the node reads them, and which HTTP requests the wire carries.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KV_LIMITS, KV_PATHS, keyPath } from '../../kvs/index.ts';
import { BODY_LIMITS, FrameReader, MAX_REQUEST_LEN, REQUEST_HEAD, requestHead, responseFrame, WIRE_OPS, wireOpOf } from '../../kvs/wire/frame.ts';

/** Cuts every whole frame out of `reader` (len-prefixed). */
function frames(reader: FrameReader): Buffer[] {
  const out: Buffer[] = [];
  while (reader.buffered >= 4) {
    const len = reader.peek(4).readUInt32LE(0);
    if (reader.buffered < 4 + len) break;
    out.push(Buffer.from(reader.take(4 + len)));
  }
  return out;
}

describe('wire frames', () => {
  it('FrameReader gives back every frame, whatever the chunk boundaries', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 12 }), fc.array(fc.nat(400), { maxLength: 20 }), (bodies, cuts) => {
        const sent = bodies.map((b, i) => Buffer.concat(responseFrame(i, 200, '3-abc', b)));
        const stream = Buffer.concat(sent);
        const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
        const reader = new FrameReader();
        const got: Buffer[] = [];
        let at = 0;
        for (const p of [...points, stream.length]) {
          reader.push(stream.subarray(at, p));
          at = p;
          got.push(...frames(reader));
        }
        expect(got).toEqual(sent);
        expect(reader.buffered).toBe(0);
      }),
    );
  });

  it('the few bytes left behind a large frame do not keep its buffer alive, and a head is joined from only the chunks that hold it', () => {
    const reader = new FrameReader();
    // A 4 MiB frame's chunks, then the first 10 bytes of the next frame in the same chunk.
    const big = 4 * 1024 * 1024;
    for (let sent = 0; sent < big; sent += 64 * 1024) reader.push(Buffer.alloc(64 * 1024, 1));
    reader.push(Buffer.alloc(10, 2));
    const frame = reader.take(big);
    expect(frame.length).toBe(big);
    const left = reader.take(10);
    expect([...left]).toEqual(Array(10).fill(2));
    // Copied out: its memory is its own, not a view of the joined 4 MiB.
    expect(left.buffer.byteLength).toBeLessThan(big);
    // A head split over two small chunks, with a large body arriving behind it: peek joins the
    // two chunks that hold the head, and the body's chunks stay as they came.
    reader.push(Buffer.from([1, 2]));
    reader.push(Buffer.from([3, 4, 5]));
    const body = Buffer.alloc(1024 * 1024, 9);
    reader.push(body);
    expect([...reader.peek(4)]).toEqual([1, 2, 3, 4]);
    expect([...reader.take(5)]).toEqual([1, 2, 3, 4, 5]);
    expect(reader.take(body.length).buffer).toBe(body.buffer);
  });

  it('a request head carries len, id, op, flags 0, and the arg; the body follows', () => {
    const head = requestHead(0xfffffffe, WIRE_OPS.merge, 'a%2Fb', 10);
    expect(head.readUInt32LE(0)).toBe(REQUEST_HEAD + 5 + 10);
    expect(head.readUInt32LE(4)).toBe(0xfffffffe);
    expect([head[8], head[9], head.readUInt16LE(10)]).toEqual([WIRE_OPS.merge, 0, 5]);
    expect(head.toString('utf8', 12)).toBe('a%2Fb');
  });

  it('a response over 16 KiB keeps its body as a second buffer (not copied); a small one is one buffer', () => {
    expect(responseFrame(1, 200, 'r', Buffer.alloc(10)).length).toBe(1);
    const big = Buffer.alloc(20_000, 1);
    const parts = responseFrame(1, 200, 'r', big);
    expect(parts.length).toBe(2);
    expect(parts[0]!.readUInt32LE(0)).toBe(7 + 1 + big.length);
  });

  it('the per-op body limits are the HTTP routes\' limits and codes, and every request fits MAX_REQUEST_LEN', () => {
    expect(BODY_LIMITS[WIRE_OPS.merge]).toEqual({ bytes: KV_LIMITS.maxValueBytes, code: 'KV_VALUE_TOO_LARGE' });
    expect(BODY_LIMITS[WIRE_OPS.batchMerge]).toEqual({ bytes: KV_LIMITS.maxBodyBytes, code: 'BODY_TOO_LARGE' });
    expect(BODY_LIMITS[WIRE_OPS.push].bytes).toBe(KV_LIMITS.maxBodyBytes);
    expect(MAX_REQUEST_LEN).toBeLessThan(2 ** 32);
  });

  it('the wire carries the data routes only, with the arg the HTTP request has outside its body', () => {
    expect(wireOpOf('GET', keyPath('a/b c'), undefined)).toEqual({ op: WIRE_OPS.get, arg: 'a%2Fb%20c' });
    expect(wireOpOf('PUT', keyPath('k'), undefined)).toEqual({ op: WIRE_OPS.merge, arg: 'k' });
    expect(wireOpOf('POST', KV_PATHS.batchMerge, { 'x-cloudburst-kv-origin': 'http://h:1' })).toEqual({ op: WIRE_OPS.batchMerge, arg: 'http://h:1' });
    expect(wireOpOf('POST', KV_PATHS.batchMerge, undefined)).toEqual({ op: WIRE_OPS.batchMerge, arg: '' });
    expect(wireOpOf('POST', KV_PATHS.batchGet, undefined)).toEqual({ op: WIRE_OPS.batchGet, arg: '' });
    expect(wireOpOf('POST', KV_PATHS.push, { 'x-cloudburst-kv-from': 'kv-1' })).toEqual({ op: WIRE_OPS.push, arg: 'kv-1' });
    for (const [method, path] of [['GET', KV_PATHS.ring], ['POST', KV_PATHS.gossip], ['POST', KV_PATHS.subscriptions], ['GET', KV_PATHS.stats], ['POST', '/v1/internal/kv/push'], ['POST', keyPath('k')], ['GET', `${KV_PATHS.keys}k?x=1`], ['GET', KV_PATHS.keys]] as const) {
      expect(wireOpOf(method, path, undefined), `${method} ${path}`).toBeUndefined();
    }
  });
});
