// The pacing of the idle-buffer collections (common/idle-buffers.ts): when the next full
// collection may run, after each once-a-second reading of the buffers.
import { describe, expect, it } from 'vitest';
import { IDLE_BUFFERS, nextGapMs } from '../../common/idle-buffers.ts';

const MiB = 1024 * 1024;
const { minGapMs, maxGapMs, slackBytes } = IDLE_BUFFERS;

describe('idle buffers: the gap between collections', () => {
  it('a collection that gave back much keeps the least gap; one that gave back little doubles it, up to the most', () => {
    expect(nextGapMs({ gapMs: 40_000, gaveBack: slackBytes, held: 10 * MiB })).toBe(minGapMs);
    expect(nextGapMs({ gapMs: minGapMs, gaveBack: 1 * MiB, held: 80 * MiB })).toBe(2 * minGapMs);
    expect(nextGapMs({ gapMs: maxGapMs, gaveBack: 0, held: 80 * MiB })).toBe(maxGapMs);
  });

  it('buffers in use at a steady level: the stretched gap stays (no collection every few seconds for nothing)', () => {
    let gap: number = minGapMs;
    // Collections that give back nothing of 80 MiB in use.
    for (let i = 0; i < 4; i++) gap = nextGapMs({ gapMs: gap, gaveBack: 0, held: 80 * MiB });
    expect(gap).toBe(16 * minGapMs);
    // Readings between collections, at that level or a little over: no change.
    expect(nextGapMs({ gapMs: gap, held: 80 * MiB + slackBytes / 2, afterLast: 80 * MiB })).toBe(gap);
  });

  it('a new surge since the last collection (another large value\'s dead buffers) is collected at the least gap again', () => {
    const stretched = 16 * minGapMs;
    expect(nextGapMs({ gapMs: stretched, held: 80 * MiB + slackBytes + 1, afterLast: 80 * MiB })).toBe(minGapMs);
    expect(nextGapMs({ gapMs: maxGapMs, held: 150 * MiB, afterLast: 20 * MiB })).toBe(minGapMs);
  });
});
