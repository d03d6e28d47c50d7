import { describe, expect, it, vi } from 'vitest';
import { backoff } from '../../src/backoff';
import { Batcher } from '../../src/batcher';
import { isDuplicate, parseStreamId, streamId } from '../../src/positions';

describe('backoff', () => {
  it.each([
    { attempt: 0, rnd: 0.999, want: 499 },
    { attempt: 1, rnd: 0.999, want: 999 },
    { attempt: 3, rnd: 0.5, want: 2000 },
    { attempt: 10, rnd: 0.999, want: 19980 }, // capped at max
    { attempt: 1000, rnd: 0.5, want: 10000 }, // no overflow
    { attempt: 5, rnd: 0, want: 0 }, // full jitter reaches zero
    { attempt: -3, rnd: 0.5, want: 250 },
  ])('attempt $attempt random $rnd → $want', ({ attempt, rnd, want }) => {
    expect(backoff(attempt, 500, 20000, () => rnd)).toBe(want);
  });

  it('stays within [0, cap) with the real random', () => {
    for (let a = 0; a < 50; a++) {
      const d = backoff(a, 100, 5000);
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThan(Math.min(5000, 100 * 2 ** a));
    }
  });
});

describe('positions', () => {
  it.each([
    { ps: [], id: '' },
    { ps: [{ epoch: 'k3j9x0ab', offset: 12 }], id: 'k3j9x0ab:12' },
    { ps: [{ epoch: 'k3j9x0ab', offset: 12 }, { epoch: 'p0q8m2zz', offset: 0 }], id: 'k3j9x0ab:12.p0q8m2zz:0' },
  ])('streamId($id) in grant order and back', ({ ps, id }) => {
    expect(streamId(ps)).toBe(id);
    expect(parseStreamId(id)).toEqual(ps);
  });

  it.each(['nocolon', 'e:-1', 'e:x', 'a:1.b'])('parseStreamId(%s) is null', (id) => {
    expect(parseStreamId(id)).toBeNull();
  });

  it.each([
    { known: undefined, offset: 1, dup: false },
    { known: { epoch: 'e', offset: 5 }, offset: 5, dup: true },
    { known: { epoch: 'e', offset: 5 }, offset: 4, dup: true },
    { known: { epoch: 'e', offset: 5 }, offset: 6, dup: false },
  ])('isDuplicate($known, $offset) = $dup', ({ known, offset, dup }) => {
    expect(isDuplicate(known, offset)).toBe(dup);
  });
});

describe('Batcher', () => {
  it('flushes what one tick added in one call', async () => {
    const flushed: number[][] = [];
    const b = new Batcher<number>((xs) => flushed.push(xs), () => true);
    b.add(1);
    b.add(2);
    b.add(3);
    expect(flushed).toEqual([]);
    await Promise.resolve();
    b.add(4);
    await Promise.resolve();
    expect(flushed).toEqual([[1, 2, 3], [4]]);
  });

  it('holds items until ready, then flushes them together on kick', async () => {
    let ready = false;
    const flush = vi.fn();
    const b = new Batcher<string>(flush, () => ready);
    b.add('a');
    await Promise.resolve();
    b.add('b');
    await Promise.resolve();
    expect(flush).not.toHaveBeenCalled();
    ready = true;
    b.kick();
    await Promise.resolve();
    expect(flush).toHaveBeenCalledExactlyOnceWith(['a', 'b']);
  });

  it('requeues in front, removes and drains', async () => {
    const flushed: string[][] = [];
    const b = new Batcher<string>((xs) => flushed.push(xs), () => true, (fn) => fn());
    b.requeue(['x']);
    expect(flushed).toEqual([['x']]);
    const held = new Batcher<string>(() => {}, () => false);
    held.add('a');
    held.add('b');
    held.requeue(['z']);
    held.remove('a');
    expect(held.drain()).toEqual(['z', 'b']);
    expect(held.drain()).toEqual([]);
  });
});
