import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Codes, UnauthorizedError } from '../../src/index';
import { FakeEventSource, FakeServer, newClient, record, settle } from './helpers';

beforeEach(() => {
  vi.useFakeTimers();
  FakeEventSource.all = [];
});
afterEach(() => {
  vi.useRealTimers();
});

/** Connects a client with subscriptions a and b and brings it to connected. */
async function connected(server = new FakeServer(), opts = {}) {
  const rotor = newClient(server, opts);
  const a = rotor.subscribe('ns:a');
  const b = rotor.subscribe('ns:b');
  rotor.connect();
  await settle();
  const es = FakeEventSource.last();
  es.send('sub', { channel: 'ns:a', epoch: 'e', offset: 5, recovered: true });
  es.send('sub', { channel: 'ns:b', epoch: 'e', offset: 5, recovered: true });
  return { rotor, server, a, b, es };
}

describe('Rotor state machine', () => {
  it('connects, subscribes in one command and streams with since built from positions', async () => {
    const server = new FakeServer();
    const rotor = newClient(server);
    const log = record(rotor, ['state', 'connecting', 'connect']);
    const a = rotor.subscribe('ns:a');
    const b = rotor.subscribe('ns:b');
    const subLog = record(a, ['state', 'subscribing', 'subscribed', 'ready']);
    expect(a.state).toBe('subscribing');
    rotor.connect();
    expect(rotor.state).toBe('connecting');
    await settle();

    expect(server.calls.map((c) => c.path)).toEqual(['/connect', '/command']);
    expect(server.commands()[0].body).toEqual({
      session: 'S1',
      commands: [
        { id: 1, method: 'subscribe', params: { channel: 'ns:a' } },
        { id: 2, method: 'subscribe', params: { channel: 'ns:b' } },
      ],
    });
    expect(FakeEventSource.all).toHaveLength(1);
    const es = FakeEventSource.last();
    expect(es.url.pathname).toBe('/connection/p/sse');
    expect(es.url.searchParams.get('session')).toBe('S1');
    expect(es.grants()).toEqual(['G-ns:a', 'G-ns:b']);
    expect(es.url.searchParams.get('since')).toBe('e:5.e:5');
    expect(rotor.state).toBe('connecting');

    es.send('sub', { channel: 'ns:a', epoch: 'e', offset: 5, recovered: true });
    expect(rotor.state).toBe('connected');
    expect(a.state).toBe('subscribed');
    expect(b.state).toBe('subscribing');
    expect(log.map((l) => l[0])).toEqual(['state', 'connecting', 'state', 'connect']);
    expect(log[3][1]).toEqual({ client: 'c1', user: 'u1', transport: 'sse' });
    expect(subLog.slice(-2)).toEqual([
      ['subscribed', { channel: 'ns:a', recovered: true, epoch: 'e', offset: 5 }],
      ['ready', { channel: 'ns:a', recovered: true, epoch: 'e', offset: 5 }],
    ]);
  });

  it('delivers publications once, in order, and keeps positions', async () => {
    const { rotor, a, es } = await connected();
    const got: number[] = [];
    a.on('publication', (p) => got.push(p.offset));
    const all: string[] = [];
    rotor.on('publication', (p) => all.push(`${p.channel}@${p.offset}`));
    for (const off of [6, 7, 7, 5, 8]) es.send('pub', { channel: 'ns:a', offset: off, data: { n: off } });
    es.send('pub', { channel: 'ns:b', offset: 6, data: {} });
    es.send('pub', { channel: 'ns:other', offset: 1, data: {} }); // not ours: ignored
    expect(got).toEqual([6, 7, 8]);
    expect(all).toEqual(['ns:a@6', 'ns:a@7', 'ns:a@8', 'ns:b@6']);
    expect(a.position).toEqual({ epoch: 'e', offset: 8 });
  });

  it('reopens the stream with every position when a subscription is added', async () => {
    const { rotor, a, es } = await connected();
    es.send('pub', { channel: 'ns:a', offset: 9, data: {} });
    const aLog = record(a, ['subscribing', 'subscribed']);
    const c = rotor.subscribe('ns:c');
    await settle();
    expect(es.closed).toBe(true);
    const es2 = FakeEventSource.last();
    expect(es2.grants()).toEqual(['G-ns:a', 'G-ns:b', 'G-ns:c']);
    expect(es2.url.searchParams.get('since')).toBe('e:9.e:5.e:5');
    // A planned reopen is invisible to the subscriptions that keep going.
    es2.send('sub', { channel: 'ns:a', epoch: 'e', offset: 9, recovered: true });
    es2.send('sub', { channel: 'ns:c', epoch: 'e', offset: 5, recovered: true });
    expect(aLog).toEqual([]);
    expect(a.state).toBe('subscribed');
    expect(c.state).toBe('subscribed');
    expect(rotor.state).toBe('connected');
  });

  it('tells the app recovered:false when the channel history is lost', async () => {
    const { a, es } = await connected();
    const log = record(a, ['subscribed']);
    es.send('sub', { channel: 'ns:a', epoch: 'f', offset: 0, recovered: false });
    expect(log).toEqual([['subscribed', { channel: 'ns:a', recovered: false, epoch: 'f', offset: 0 }]]);
    const got: number[] = [];
    a.on('publication', (p) => got.push(p.offset));
    es.send('pub', { channel: 'ns:a', offset: 1, data: {} });
    expect(got).toEqual([1]);
  });

  it('reconnects after a server disconnect and resumes from the positions', async () => {
    const { rotor, a, es } = await connected(new FakeServer(), { minReconnectDelay: 100, maxReconnectDelay: 1000 });
    es.send('pub', { channel: 'ns:a', offset: 6, data: {} });
    const log = record(rotor, ['connecting', 'connect', 'disconnect']);
    const aLog = record(a, ['subscribing', 'subscribed']);
    es.send('disconnect', { code: 3000, reason: 'reconnect', reconnect: true });
    expect(es.closed).toBe(true);
    expect(rotor.state).toBe('connecting');
    expect(a.state).toBe('subscribing');
    await vi.advanceTimersByTimeAsync(100);
    await settle();
    const es2 = FakeEventSource.last();
    expect(es2).not.toBe(es);
    expect(es2.grants()).toEqual(['G-ns:a', 'G-ns:b']);
    expect(es2.url.searchParams.get('since')).toBe('e:6.e:5');
    es2.send('sub', { channel: 'ns:a', epoch: 'e', offset: 6, recovered: true });
    expect(rotor.state).toBe('connected');
    expect(log.map((l) => l[0])).toEqual(['connecting', 'connect']);
    expect(log[0][1]).toEqual({ code: 3000, reason: 'reconnect' });
    expect(aLog.map((l) => l[0])).toEqual(['subscribing', 'subscribed']);
    expect(aLog[1][1].recovered).toBe(true);
  });

  it.each([
    { name: 'revoked', d: { code: 3003, reason: 'revoked', reconnect: false } },
    { name: 'no reconnect', d: { code: 3000, reason: 'bye', reconnect: false } },
  ])('stops on a disconnect without reconnect ($name)', async ({ d }) => {
    const { rotor, a, es } = await connected();
    const log = record(rotor, ['disconnect']);
    es.send('disconnect', d);
    await vi.advanceTimersByTimeAsync(60000);
    expect(rotor.state).toBe('disconnected');
    expect(log).toEqual([['disconnect', { code: d.code, reason: d.reason }]]);
    expect(a.state).toBe('subscribing');
    expect(FakeEventSource.all).toHaveLength(1);
    await expect(a.publish({})).rejects.toMatchObject({ code: Codes.Disconnected });
  });

  it('reconnects with backoff after a network failure, checking the session first', async () => {
    const { rotor, server, es } = await connected(new FakeServer(), { minReconnectDelay: 100, maxReconnectDelay: 100 });
    const errors = record(rotor, ['error']);
    es.fail();
    expect(rotor.state).toBe('connecting');
    expect(errors[0][1].type).toBe('transport');
    await vi.advanceTimersByTimeAsync(100);
    await settle();
    // The first stream had delivered events: reopen at once, no ping.
    const es2 = FakeEventSource.last();
    expect(es2).not.toBe(es);
    const before = server.commands().length;
    es2.fail(); // dies before any event
    await vi.advanceTimersByTimeAsync(100);
    await settle();
    const pings = server.commands().slice(before);
    expect(pings.map((c) => c.body.commands[0].method)).toEqual(['ping']);
    expect(FakeEventSource.all).toHaveLength(3);
  });

  it('connects again with a fresh token when the session is refused', async () => {
    const server = new FakeServer();
    let n = 0;
    const getToken = vi.fn(async () => `T${++n}`);
    const { rotor, es } = await connected(server, { getToken, minReconnectDelay: 10, maxReconnectDelay: 10 });
    expect(server.calls[0].body).toEqual({ token: 'T1' });
    es.fail();
    server.on('/command', (c) =>
      c.body.session === 'S1'
        ? { status: 401, body: { error: { code: 109, message: 'token expired' } } }
        : { body: { replies: c.body.commands.map((cmd: any) => server.reply(cmd)) } });
    server.on('/connect', (c) => ({ body: { client: 'c2', user: 'u1', session: `S-${c.body.token}`, expires: 0 } }));
    await vi.advanceTimersByTimeAsync(10);
    await settle();
    FakeEventSource.last().fail();
    await vi.advanceTimersByTimeAsync(10);
    await settle();
    const connects = server.calls.filter((c) => c.path === '/connect');
    expect(connects.map((c) => c.body)).toEqual([{ token: 'T1' }, { token: 'T2' }]);
    const last = FakeEventSource.last();
    expect(last.url.searchParams.get('session')).toBe('S-T2');
    last.send('sub', { channel: 'ns:a', epoch: 'e', offset: 5, recovered: true });
    expect(rotor.state).toBe('connected');
    expect(rotor.client).toBe('c2');
  });

  it('refreshes the token on a 401 at connect, and stops when the app says unauthorized', async () => {
    const server = new FakeServer();
    server.on('/connect', (c) =>
      c.body.token === 'good'
        ? { body: { client: 'c1', user: 'u1', session: 'S1', expires: 0 } }
        : { status: 401, body: { error: { code: 109, message: 'token expired' } } });
    const ok = newClient(server, { token: 'old', getToken: async () => 'good' });
    ok.connect();
    await settle();
    expect(ok.state).toBe('connected'); // no subscriptions: the session is the connection
    expect(server.calls.map((c) => c.body?.token)).toEqual(['old', 'good']);

    const refused = newClient(server, {
      token: 'old',
      getToken: async () => {
        throw new UnauthorizedError('banned');
      },
    });
    const log = record(refused, ['disconnect']);
    refused.connect();
    await settle();
    await vi.advanceTimersByTimeAsync(60000);
    expect(refused.state).toBe('disconnected');
    expect(log).toEqual([['disconnect', { code: Codes.Unauthorized, reason: 'banned' }]]);

    const noGetter = newClient(server, { token: 'old' });
    noGetter.connect();
    await settle();
    expect(noGetter.state).toBe('disconnected');
  });

  it('connects again on 3004 with a token from getToken', async () => {
    const server = new FakeServer();
    let n = 0;
    server.on('/connect', (c) => ({ body: { client: `c${++n}`, user: 'u1', session: `S-${c.body.token}`, expires: 0 } }));
    const { rotor, es } = await connected(server, { getToken: async () => `T${n + 1}` });
    es.send('disconnect', { code: 3004, reason: 'token expired', reconnect: true });
    await vi.advanceTimersByTimeAsync(0);
    await settle();
    expect(server.calls.filter((c) => c.path === '/connect').map((c) => c.body.token)).toEqual(['T1', 'T2']);
    expect(FakeEventSource.last().url.searchParams.get('session')).toBe('S-T2');
    expect(rotor.client).toBe('c2');
  });

  it('reconnects on 3005 (engine unavailable) with the same session', async () => {
    const server = new FakeServer();
    server.on('/connect', () => ({ body: { client: 'c1', user: 'u1', session: 'S1', expires: 0 } }));
    const { rotor, es } = await connected(server);
    const n = FakeEventSource.all.length;
    es.send('disconnect', { code: Codes.DisconnectEngineDown, reason: 'engine unavailable', reconnect: true });
    await vi.advanceTimersByTimeAsync(5000);
    await settle();
    expect(es.closed).toBe(true);
    expect(FakeEventSource.all.length).toBeGreaterThan(n);
    expect(FakeEventSource.last().url.searchParams.get('session')).toBe('S1');
    expect(rotor.state).not.toBe('disconnected');
  });

  it('refreshes the session before it expires and reopens with new grants', async () => {
    const server = new FakeServer();
    const now = Date.now();
    server.on('/connect', () => ({ body: { client: 'c1', user: 'u1', session: 'S1', expires: Math.floor(now / 1000) + 100 } }));
    server.on('/command', (c) => ({
      body: {
        replies: c.body.commands.map((cmd: any) =>
          cmd.method === 'refresh'
            ? { id: cmd.id, result: { session: 'S2', expires: Math.floor(now / 1000) + 200 } }
            : cmd.method === 'subscribe'
              ? { id: cmd.id, result: { grant: `G${c.body.session}-${cmd.params.channel}`, epoch: 'e', offset: 5 } }
              : server.reply(cmd)),
      },
    }));
    const { es } = await connected(server, { getToken: async () => 'T' });
    await vi.advanceTimersByTimeAsync(95_000);
    await settle();
    const cmds = server.commands().map((c) => c.body.commands.map((x: any) => x.method).join(','));
    expect(cmds).toEqual(['subscribe,subscribe', 'refresh', 'subscribe,subscribe']);
    expect(server.commands()[2].body.commands[0].params.since).toEqual({ epoch: 'e', offset: 5 });
    expect(es.closed).toBe(true);
    expect(FakeEventSource.last().grants()).toEqual(['GS2-ns:a', 'GS2-ns:b']);
  });
});

describe('Rotor commands and subscriptions', () => {
  it('batches commands of one tick with the grant, and answers each', async () => {
    const { a, b, server } = await connected();
    const before = server.commands().length;
    const [p, h, pr] = await Promise.all([a.publish({ text: 'hi' }), b.history({ limit: 10 }), a.presence()]);
    expect(server.commands().length).toBe(before + 1);
    expect(server.commands()[before].body.commands).toEqual([
      { id: 1, method: 'publish', params: { channel: 'ns:a', data: { text: 'hi' }, grant: 'G-ns:a' } },
      { id: 2, method: 'history', params: { channel: 'ns:b', limit: 10, grant: 'G-ns:b' } },
      { id: 3, method: 'presence', params: { channel: 'ns:a', grant: 'G-ns:a' } },
    ]);
    expect(p).toEqual({ offset: 6 });
    expect(h).toEqual({});
    expect(pr).toEqual({});
  });

  it('rejects a command error with its code, and times out', async () => {
    const server = new FakeServer();
    const { a } = await connected(server, { timeout: 1000 });
    server.on('/command', (c) => ({ body: { replies: [{ id: c.body.commands[0].id, error: { code: 108, message: 'not available' } }] } }));
    await expect(a.presence()).rejects.toMatchObject({ code: 108, message: 'not available' });
    server.handlers.delete('/command');
    const p = a.history();
    const expectation = expect(p).rejects.toMatchObject({ code: Codes.Timeout });
    await vi.advanceTimersByTimeAsync(1000);
    await expectation;
  });

  it('ends a subscription the server refuses, and retries a temporary failure', async () => {
    const server = new FakeServer();
    server.on('/command', (c) => ({
      body: {
        replies: c.body.commands.map((cmd: any) =>
          cmd.params.channel === '$secret'
            ? { id: cmd.id, error: { code: 103, message: 'permission denied' } }
            : cmd.params.channel === 'busy' && server.nextSub++ === 1
              ? { id: cmd.id, error: { code: 112, message: 'unavailable' } }
              : server.reply(cmd)),
      },
    }));
    const rotor = newClient(server, { minReconnectDelay: 100, maxReconnectDelay: 100 });
    const s = rotor.subscribe('$secret');
    const busy = rotor.subscribe('busy');
    const log = record(s, ['error', 'unsubscribed']);
    rotor.connect();
    await settle();
    expect(s.state).toBe('unsubscribed');
    expect(log.map((l) => l[0])).toEqual(['error', 'unsubscribed']);
    expect(log[1][1]).toEqual({ code: 103, reason: 'permission denied' });
    expect(busy.state).toBe('subscribing');
    await vi.advanceTimersByTimeAsync(100);
    await settle();
    expect(FakeEventSource.last().grants()).toEqual(['G-busy']);
  });

  it('unsubscribes: command, stream without it, no more publications', async () => {
    const { a, server, es } = await connected();
    const got: number[] = [];
    a.on('publication', (p) => got.push(p.offset));
    a.unsubscribe();
    await settle();
    expect(a.state).toBe('unsubscribed');
    expect(server.commands().at(-1)!.body.commands).toEqual([{ id: 1, method: 'unsubscribe', params: { channel: 'ns:a' } }]);
    expect(es.closed).toBe(true);
    expect(FakeEventSource.last().grants()).toEqual(['G-ns:b']);
    // subscribe again: a fresh start, not a resume
    a.subscribe();
    await settle();
    expect(server.commands().at(-1)!.body.commands[0].params).toEqual({ channel: 'ns:a' });
  });

  it('handles a server unsub, join and leave', async () => {
    const { a, es } = await connected();
    const log = record(a, ['join', 'leave', 'unsubscribed']);
    const j = { channel: 'ns:a', client: 'c9', user: 'u9', info: { name: 'x' } };
    es.send('join', j);
    es.send('leave', j);
    es.send('unsub', { channel: 'ns:a', code: 2000, reason: 'unsubscribed by server' });
    es.send('join', j);
    expect(log).toEqual([['join', j], ['leave', j], ['unsubscribed', { code: 2000, reason: 'unsubscribed by server' }]]);
  });

  it('requeues commands when the session is refused and sends them with the new session', async () => {
    const server = new FakeServer();
    const { a } = await connected(server);
    let sessions = 0;
    server.on('/connect', () => ({ body: { client: 'c2', user: 'u1', session: `N${++sessions}`, expires: 0 } }));
    server.on('/command', (c) =>
      c.body.session === 'S1'
        ? { status: 401, body: { error: { code: 101, message: 'bad session' } } }
        : { body: { replies: c.body.commands.map((cmd: any) => server.reply(cmd)) } });
    await expect(a.publish({ n: 1 })).resolves.toEqual({ offset: 6 });
    const last = server.commands().at(-1)!;
    expect(last.body.session).toBe('N1');
  });

  it('disconnect() rejects what waits and connect() resumes the subscriptions', async () => {
    const server = new FakeServer();
    const { rotor, a, es } = await connected(server);
    es.send('pub', { channel: 'ns:a', offset: 7, data: {} });
    server.handlers.delete('/command');
    const p = a.publish({});
    const expectation = expect(p).rejects.toMatchObject({ code: Codes.Disconnected });
    await settle();
    rotor.disconnect();
    await expectation;
    expect(rotor.state).toBe('disconnected');
    expect(es.closed).toBe(true);
    server.on('/command', (c) => ({ body: { replies: c.body.commands.map((cmd: any) => server.reply(cmd)) } }));
    rotor.connect();
    await settle();
    const sub = server.commands().at(-1)!.body.commands;
    expect(sub[0].params).toEqual({ channel: 'ns:a', since: { epoch: 'e', offset: 7 } });
    expect(FakeEventSource.last().url.searchParams.get('since')).toBe('e:7.e:5');
  });
});

describe('Rotor long-poll fallback', () => {
  it('switches to polling when the stream stays silent, losing nothing', async () => {
    const server = new FakeServer();
    const polls: URL[] = [];
    const answers = [
      { events: [], id: 'x' },
      { events: [{ event: 'pub', data: { channel: 'ns:a', offset: 6, data: 'six' } }], id: 'x' },
    ];
    server.on('/poll', (c) => {
      polls.push(c.url);
      const a = answers.shift();
      return a ? { body: a } : new Promise(() => {});
    });
    const rotor = newClient(server, { fallbackDelay: 3000 });
    const log = record(rotor, ['transport', 'connect']);
    const a = rotor.subscribe('ns:a');
    const aLog = record(a, ['subscribed']);
    const got: unknown[] = [];
    a.on('publication', (p) => got.push(p.data));
    rotor.connect();
    await settle();
    const es = FakeEventSource.last();
    await vi.advanceTimersByTimeAsync(3000);
    await settle();
    expect(es.closed).toBe(true);
    expect(rotor.transport).toBe('poll');
    expect(log[0]).toEqual(['transport', { transport: 'poll', reason: expect.stringContaining('buffer') }]);
    expect(log[1]).toEqual(['connect', { client: 'c1', user: 'u1', transport: 'poll' }]);
    expect(polls[0].pathname).toBe('/connection/p/poll');
    expect(polls[0].searchParams.getAll('grant')).toEqual(['G-ns:a']);
    expect(polls[0].searchParams.get('since')).toBe('e:5');
    expect(polls[0].searchParams.get('timeout')).toBe('1');
    expect(aLog).toEqual([['subscribed', { channel: 'ns:a', recovered: true, epoch: 'e', offset: 5 }]]);
    expect(got).toEqual(['six']);
    expect(polls[2].searchParams.get('since')).toBe('e:6');
    expect(polls[2].searchParams.get('timeout')).toBe('25');
  });

  it('polls from the start when there is no EventSource, and reports recovered:false from a poll', async () => {
    const server = new FakeServer();
    const answers = [{ events: [{ event: 'sub', data: { channel: 'ns:a', epoch: 'f', offset: 0, recovered: false } }], id: 'f:0' }];
    server.on('/poll', () => {
      const a = answers.shift();
      return a ? { body: a } : new Promise(() => {});
    });
    const rotor = newClient(server, { EventSource: null });
    const a = rotor.subscribe('ns:a');
    const log = record(a, ['subscribed']);
    rotor.connect();
    await settle();
    expect(FakeEventSource.all).toHaveLength(0);
    expect(rotor.transport).toBe('poll');
    expect(log).toEqual([['subscribed', { channel: 'ns:a', recovered: false, epoch: 'f', offset: 0 }]]);
  });

  it('falls back when streams keep dying while the server answers', async () => {
    const server = new FakeServer();
    server.on('/poll', () => new Promise(() => {}));
    const rotor = newClient(server, { minReconnectDelay: 10, maxReconnectDelay: 10 });
    rotor.subscribe('ns:a');
    rotor.connect();
    await settle();
    FakeEventSource.last().fail();
    await vi.advanceTimersByTimeAsync(10);
    await settle();
    FakeEventSource.last().fail();
    await vi.advanceTimersByTimeAsync(10);
    await settle();
    expect(rotor.transport).toBe('poll');
    expect(server.calls.at(-1)!.path).toBe('/poll');
  });

  it('a poll that answers 401 makes a new session', async () => {
    const server = new FakeServer();
    let polls = 0;
    server.on('/poll', () => (++polls === 1 ? { status: 401, body: { error: { code: 101, message: 'bad session' } } } : new Promise(() => {})));
    let n = 0;
    server.on('/connect', () => ({ body: { client: `c${++n}`, user: 'u', session: `S${n}`, expires: 0 } }));
    const rotor = newClient(server, { transport: 'poll' });
    rotor.subscribe('ns:a');
    rotor.connect();
    await settle();
    expect(server.calls.map((c) => c.path)).toEqual(['/connect', '/command', '/poll', '/connect', '/command', '/poll']);
    expect(server.calls.at(-1)!.url.searchParams.get('session')).toBe('S2');
  });
});

describe('Rotor with the browser globals', () => {
  it('calls fetch unbound, as window.fetch requires', async () => {
    const server = new FakeServer();
    // window.fetch throws "Illegal invocation" when called as a method of another object.
    const strictFetch = function (this: unknown, input: string, init?: RequestInit) {
      if (this !== undefined && this !== globalThis) throw new TypeError('Illegal invocation');
      return server.fetch(input, init);
    };
    const rotor = newClient(server, { fetch: strictFetch as typeof fetch, EventSource: null });
    server.on('/poll', () => new Promise(() => {}));
    const errors = record(rotor, ['error']);
    rotor.subscribe('ns:a');
    rotor.connect();
    await settle();
    expect(errors).toEqual([]);
    expect(server.calls.map((c) => c.path)).toEqual(['/connect', '/command', '/poll']);
  });
});
