import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DeliveryWatch, sseRetryDelay } from '../../src/delivery';
import { FakeEventSource, FakeServer, newClient, record, settle } from './helpers';

describe('DeliveryWatch', () => {
  // Pings as [server time, arrival time]; the client clock runs 50 s ahead.
  const skew = 50_000;
  it.each([
    { name: 'prompt pings, jitter below the limit', pings: [[0, 20], [500, 510], [1000, 1400], [1500, 1530]], late: false },
    { name: 'a burst: three pings of 1.5 s arrive together', pings: [[0, 2700], [500, 2700], [1000, 2701], [2000, 2705]], late: true },
    { name: 'steady lateness is the path, not a buffer', pings: [[0, 900], [500, 1400], [1000, 1900]], late: false },
    { name: 'late pings a minute apart from the best do not add up (clock drift)', pings: [[0, 10], [61_000, 62_600], [61_500, 63_100]], late: false },
    { name: 'a block held 2 s after prompt pings', pings: [[0, 10], [500, 520], [1000, 3200]], late: true },
  ])('$name → late $late', ({ pings, late }) => {
    const w = new DeliveryWatch({ ping: 20_000, lateLimit: 1500 }, skew);
    let why: string | null = null;
    for (const [server, at] of pings) why = why ?? w.clock(server, at + skew);
    expect(why !== null).toBe(late);
    if (late) expect(why).toMatch(/late/);
  });

  it('suspects silence only once the server is known to send pings', () => {
    const w = new DeliveryWatch({ ping: 1000, lateLimit: 1500 }, 0);
    expect(w.silenceLimit()).toBe(3250);
    expect(w.check(60_000)).toBeNull(); // no ping yet: an older server
    w.clock(60_000, 60_000);
    w.clock(61_000, 61_000);
    expect(w.check(64_000)).toBeNull();
    expect(w.check(64_300)).toMatch(/nothing for 3300 ms/);
  });

  it('expects the trailing ping within 2.5 s of any other event', () => {
    const w = new DeliveryWatch({ ping: 20_000, lateLimit: 1500 }, 0);
    w.clock(0, 0);
    w.seen(1000); // a pub
    expect(w.check(3400)).toBeNull();
    w.clock(1400, 1450); // its ping: all is well, for up to a ping interval
    expect(w.check(20_000)).toBeNull();
    w.seen(21_000);
    expect(w.check(23_600)).toMatch(/no ping for 2600 ms after an event/);
  });

  it('ignores a ping without a time', () => {
    const w = new DeliveryWatch({ ping: 1000, lateLimit: 1500 }, 0);
    expect(w.clock(NaN, 10)).toBeNull();
    expect(w.check(100_000)).toBeNull();
  });
});

describe('sseRetryDelay', () => {
  it.each([
    { n: 1, rnd: 0.5, want: 30_000 },
    { n: 2, rnd: 0.5, want: 60_000 },
    { n: 3, rnd: 0, want: 96_000 },
    { n: 6, rnd: 0.5, want: 600_000 }, // capped
    { n: 100, rnd: 1, want: 720_000 }, // capped, +20 %
    { n: 0, rnd: 0.5, want: 30_000 },
  ])('fallback $n random $rnd → $want', ({ n, rnd, want }) => {
    expect(sseRetryDelay(n, 30_000, 600_000, () => rnd)).toBeCloseTo(want);
  });
});

describe('Rotor buffering detection and healing', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeEventSource.all = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  /** A client on one subscription, its stream delivering `sub`; polls hang. */
  async function streaming(opts = {}) {
    const server = new FakeServer();
    server.on('/connect', () => ({ body: { client: 'c1', user: 'u1', session: 'S1', expires: 0, ping: 2 } }));
    const polls: URL[] = [];
    server.on('/poll', (c) => {
      polls.push(c.url);
      return new Promise(() => {});
    });
    const rotor = newClient(server, { sseRetryDelay: 10_000, ...opts });
    const log = record(rotor, ['transport']);
    rotor.subscribe('ns:a');
    rotor.connect();
    await settle();
    const es = FakeEventSource.last();
    es.send('sub', { channel: 'ns:a', epoch: 'e', offset: 5, recovered: true });
    return { rotor, es, log, polls };
  }

  it('asks for the server clock in auto mode only', async () => {
    const { es } = await streaming();
    expect(es.url.searchParams.get('clock')).toBe('1');
    const forced = await streaming({ transport: 'sse' });
    expect(forced.es.url.searchParams.get('clock')).toBeNull();
  });

  it('stays on SSE while pings arrive in time, for minutes', async () => {
    const { rotor, es, log } = await streaming();
    for (let i = 0; i < 200; i++) {
      es.send('ping', { time: Date.now() - 30 }); // a constant 30 ms path
      await vi.advanceTimersByTimeAsync(1600);
    }
    expect(rotor.transport).toBe('sse');
    expect(log).toEqual([]);
  });

  it('falls back when pings arrive late mid-stream, losing nothing', async () => {
    const { rotor, es, log, polls } = await streaming();
    for (let i = 0; i < 5; i++) {
      es.send('ping', { time: Date.now() });
      await vi.advanceTimersByTimeAsync(1600);
    }
    es.send('pub', { channel: 'ns:a', offset: 6, data: 'six' });
    // A block held 2 s by a proxy: its first ping is old when it arrives.
    es.send('ping', { time: Date.now() - 2000 });
    await settle();
    expect(es.closed).toBe(true);
    expect(rotor.transport).toBe('poll');
    expect(log).toEqual([['transport', { transport: 'poll', reason: expect.stringContaining('late') }]]);
    expect(polls[0].searchParams.get('since')).toBe('e:6');
  });

  it('falls back when a clocked stream goes silent longer than the ping allows', async () => {
    const { rotor, es, log } = await streaming();
    es.send('ping', { time: Date.now() });
    await vi.advanceTimersByTimeAsync(4000); // ping 2 s: the limit is 4.5 s
    expect(rotor.transport).toBe('sse');
    await vi.advanceTimersByTimeAsync(1000);
    expect(es.closed).toBe(true);
    expect(log).toEqual([['transport', { transport: 'poll', reason: expect.stringContaining('nothing for') }]]);
  });

  it('falls back when an event is not followed by its ping: the tail of a burst is held', async () => {
    const { rotor, es, log, polls } = await streaming();
    es.send('ping', { time: Date.now() });
    await vi.advanceTimersByTimeAsync(300);
    es.send('pub', { channel: 'ns:a', offset: 6, data: 'six' });
    await vi.advanceTimersByTimeAsync(2000);
    expect(rotor.transport).toBe('sse');
    await vi.advanceTimersByTimeAsync(1000);
    expect(es.closed).toBe(true);
    expect(log).toEqual([['transport', { transport: 'poll', reason: expect.stringContaining('no ping') }]]);
    expect(polls[0].searchParams.get('since')).toBe('e:6');
  });

  it('does not judge silence on a server that sends no ping events', async () => {
    const { rotor } = await streaming();
    await vi.advanceTimersByTimeAsync(120_000);
    expect(rotor.transport).toBe('sse');
  });

  it('tries SSE again with a growing delay, and stays when it delivers', async () => {
    const { rotor, es, log } = await streaming();
    const rnd = vi.spyOn(Math, 'random').mockReturnValue(0.5); // no jitter
    es.send('ping', { time: Date.now() });
    es.send('ping', { time: Date.now() - 3000 });
    await settle();
    expect(rotor.transport).toBe('poll');

    // First fallback: SSE again after 10 s, resuming from the positions.
    await vi.advanceTimersByTimeAsync(9_900);
    expect(FakeEventSource.all.filter((e) => !e.closed)).toEqual([]);
    await vi.advanceTimersByTimeAsync(200);
    expect(rotor.transport).toBe('sse');
    let retry = FakeEventSource.last();
    expect(retry).not.toBe(es);
    expect(retry.url.searchParams.get('since')).toBe('e:5');
    expect(log[1]).toEqual(['transport', { transport: 'sse', reason: expect.stringContaining('again') }]);

    // Still buffered: its `sub` never comes, the fallback delay fires;
    // the next try waits twice as long.
    await vi.advanceTimersByTimeAsync(4000);
    expect(rotor.transport).toBe('poll');
    await vi.advanceTimersByTimeAsync(19_800);
    expect(rotor.transport).toBe('poll');
    await vi.advanceTimersByTimeAsync(400);
    expect(rotor.transport).toBe('sse');

    // The path is fine now: SSE stays.
    retry = FakeEventSource.last();
    retry.send('sub', { channel: 'ns:a', epoch: 'e', offset: 5, recovered: true });
    for (let i = 0; i < 60; i++) {
      retry.send('ping', { time: Date.now() });
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(rotor.transport).toBe('sse');
    expect(retry.closed).toBe(false);
    expect(log.map(([, c]) => c.transport)).toEqual(['poll', 'sse', 'poll', 'sse']);
    rnd.mockRestore();
  });

  it('stops retrying SSE on disconnect', async () => {
    const { rotor, es } = await streaming();
    es.send('ping', { time: Date.now() });
    es.send('ping', { time: Date.now() - 3000 });
    await settle();
    rotor.disconnect();
    const n = FakeEventSource.all.length;
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeEventSource.all.length).toBe(n);
    expect(rotor.transport).toBe('poll');
  });
});
