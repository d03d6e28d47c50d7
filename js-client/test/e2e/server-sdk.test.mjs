// rotor-js/server (the built dist/server.mjs) against a real `rotor serve`:
// tokens, every API method, retries through a fault-injecting proxy on
// loopback, webhook signatures on real hook calls, and an auth_url served
// by authHandler.
import { createHmac } from 'node:crypto';
import { createServer, request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { authHandler, RotorApiError, RotorServer, verifyWebhook } from '../../dist/server.mjs';
import { API_KEY, freePort, PROJECT, SECRET, startRotor, userToken } from './harness.mjs';

const listen = (srv) => new Promise((r) => srv.listen(0, '127.0.0.1', () => r(srv.address().port)));
const close = (srv) => new Promise((r) => (srv ? srv.close(() => r()) : r()));

async function readAll(req) {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  return Buffer.concat(chunks);
}

/** Waits until fn returns a truthy value. */
async function until(fn, timeout = 15_000) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * An HTTP proxy to rotor that answers from a plan before forwarding:
 * '503' answers 503 itself, 'drop' closes the connection, 'pass' forwards.
 * It records every request body it got.
 */
async function faultProxy(target) {
  const p = { plan: [], bodies: [] };
  p.srv = createServer(async (req, res) => {
    const body = await readAll(req);
    p.bodies.push(JSON.parse(body.toString() || '{}'));
    const step = p.plan.shift() ?? 'pass';
    if (step === '503') {
      res.writeHead(503, { 'Content-Type': 'application/json' });
      return res.end('{"error":{"code":112,"message":"temporarily unavailable"}}');
    }
    if (step === 'drop') return req.socket.destroy();
    const up = httpRequest(`${target}${req.url}`, { method: req.method, headers: req.headers }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    up.end(body);
  });
  p.port = await listen(p.srv);
  return p;
}

/** Opens an SSE stream with fetch and collects its events. */
async function sse(url) {
  const ctl = new AbortController();
  const res = await fetch(url, { signal: ctl.signal });
  expect(res.status).toBe(200);
  const s = { events: [], close: () => ctl.abort() };
  (async () => {
    const dec = new TextDecoder();
    let buf = '';
    try {
      for await (const chunk of res.body) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (ev) s.events.push({ event: ev, data: JSON.parse(data) });
        }
      }
    } catch {
      // aborted
    }
  })();
  return s;
}

describe('rotor-js/server against rotor serve', () => {
  let srv, hooks, proxy, rotor;
  const hookCalls = [];

  beforeAll(async () => {
    hooks = createServer((req, res) => {
      if (req.url === '/auth') {
        return authHandler({
          secret: SECRET,
          authorize: ({ user, channel }) => (user === 'alice' && channel === '$room' ? { allow: true, info: { role: 'owner' } } : false),
        })(req, res);
      }
      readAll(req).then((body) => {
        hookCalls.push({ headers: req.headers, body });
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{}');
      });
    });
    const hp = await listen(hooks);
    srv = await startRotor(inject('rotorBin'), {
      projectExtra: { auth_url: `http://127.0.0.1:${hp}/auth`, events_hook_url: `http://127.0.0.1:${hp}/events` },
    });
    proxy = await faultProxy(srv.base);
    rotor = new RotorServer({ url: srv.base, apiKey: API_KEY, secret: SECRET });
  });
  afterAll(async () => {
    await srv?.close();
    await close(proxy?.srv);
    await close(hooks);
  });

  it('mints connection and subscription tokens rotor accepts', async () => {
    const token = rotor.connectionToken({ user: 'alice', expiresIn: 60, info: { name: 'Alice' }, channels: ['news'] });
    const r = await fetch(`${srv.base}/connection/${PROJECT}/connect`, { method: 'POST', body: JSON.stringify({ token }) });
    const c = await r.json();
    expect(r.status).toBe(200);
    expect(c.user).toBe('alice');
    expect(c.expires).toBeGreaterThan(Date.now() / 1000 + 50);
    expect(c.subs.news.grant).toBeTruthy();

    const subToken = rotor.subscriptionToken({ user: 'alice', channel: '$vip', expiresIn: 60, info: { seat: 1 } });
    const cmd = await fetch(`${srv.base}/connection/${PROJECT}/command`, {
      method: 'POST',
      body: JSON.stringify({ session: c.session, commands: [{ id: 1, method: 'subscribe', params: { channel: '$vip', token: subToken } }] }),
    }).then((x) => x.json());
    expect(cmd.replies[0].result?.grant).toBeTruthy();

    const expired = rotor.connectionToken({ user: 'alice', expiresAt: new Date(Date.now() - 60_000) });
    const bad = await fetch(`${srv.base}/connection/${PROJECT}/connect`, { method: 'POST', body: JSON.stringify({ token: expired }) });
    expect(bad.status).toBe(401);
    expect(() => new RotorServer({ url: srv.base, apiKey: API_KEY }).connectionToken({ user: 'a' })).toThrow(/secret/);
  });

  it('calls every server API method', async () => {
    const ch = 'chat:sdk';
    const stream = await sse(`${srv.base}/connection/${PROJECT}/sse?token=${userToken('alice')}&channel=${ch}`);
    try {
      await until(() => stream.events.find((e) => e.event === 'sub'));

      const p1 = await rotor.publish(ch, { n: 1 });
      expect(p1.offset).toBe(1);
      const b = await rotor.broadcast([ch, 'nope:x'], { n: 2 });
      expect(b.results[0]).toMatchObject({ channel: ch, offset: 2 });
      expect(b.results[1].error.code).toBe(102);
      await until(() => stream.events.filter((e) => e.event === 'pub').length === 2);

      const h = await rotor.history(ch, { limit: 10 });
      expect(h.publications.map((p) => p.data)).toEqual([{ n: 1 }, { n: 2 }]);
      expect(await rotor.history(ch, { since: { epoch: h.epoch, offset: 1 } })).toMatchObject({ publications: [{ offset: 2 }] });

      const pr = await rotor.presence(ch);
      expect(Object.values(pr.clients).map((c) => c.user)).toEqual(['alice']);
      expect(await rotor.presenceStats(ch)).toEqual({ clients: 1, users: 1 });
      expect((await rotor.channels('chat:*')).channels[ch]).toEqual({ clients: 1 });
      expect((await rotor.info()).nodes).toHaveLength(1);

      const batch = await rotor.batch([{ method: 'publish', params: { channel: ch, data: 3 } }, { method: 'nope' }]);
      expect(batch.replies[0].result.offset).toBe(3);
      expect(batch.replies[1].error.code).toBe(104);

      expect(await rotor.historyRemove(ch)).toEqual({});
      expect((await rotor.history(ch)).publications).toEqual([]);

      expect(await rotor.unsubscribe(ch, 'alice')).toEqual({});
      await until(() => stream.events.find((e) => e.event === 'unsub'));
      expect(await rotor.disconnect('alice', { reconnect: true })).toEqual({});

      const err = await rotor.publish('nope:x', 1).catch((e) => e);
      expect(err).toBeInstanceOf(RotorApiError);
      expect(err.code).toBe(102);
    } finally {
      stream.close();
    }
  });

  it('retries network errors and 5xx with the same idempotency key, and nothing else', async () => {
    const ch = 'chat:retry';
    const viaProxy = new RotorServer({ url: `http://127.0.0.1:${proxy.port}`, apiKey: API_KEY, minRetryDelay: 10, maxRetryDelay: 50 });

    proxy.bodies.length = 0;
    proxy.plan = ['503', 'drop', 'pass'];
    const res = await viaProxy.publish(ch, { once: true });
    expect(res.offset).toBe(1);
    expect(proxy.bodies).toHaveLength(3);
    const keys = proxy.bodies.map((b) => b.idempotency_key);
    expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(keys).size).toBe(1);
    expect((await rotor.history(ch)).publications).toHaveLength(1);

    proxy.bodies.length = 0;
    proxy.plan = ['503'];
    await viaProxy.broadcast([ch], 2, { idempotencyKey: 'my-key-1' });
    expect(proxy.bodies.map((b) => b.idempotency_key)).toEqual(['my-key-1', 'my-key-1']);

    // A refusal is final: no retry.
    proxy.bodies.length = 0;
    const bad = new RotorServer({ url: `http://127.0.0.1:${proxy.port}`, apiKey: 'wrong', minRetryDelay: 10 });
    const err = await bad.publish(ch, 1).catch((e) => e);
    expect(err).toMatchObject({ code: 101, status: 401 });
    expect(proxy.bodies).toHaveLength(1);

    // Out of retries: the last failure is thrown.
    proxy.bodies.length = 0;
    proxy.plan = ['503', '503', '503'];
    const few = new RotorServer({ url: `http://127.0.0.1:${proxy.port}`, apiKey: API_KEY, retries: 2, minRetryDelay: 10 });
    const e2 = await few.info().catch((e) => e);
    expect(e2).toMatchObject({ code: 112, status: 503 });
    expect(proxy.bodies).toHaveLength(3);

    // Connection refused is retried, then thrown as code 0.
    const dead = new RotorServer({ url: `http://127.0.0.1:${await freePort()}`, apiKey: API_KEY, retries: 1, minRetryDelay: 10 });
    expect(await dead.info().catch((e) => e)).toMatchObject({ code: 0, status: 0 });
  });

  it('verifies the signature of real hook calls', async () => {
    hookCalls.length = 0;
    await rotor.publish('news', { hooked: true });
    const call = await until(() => hookCalls.find((c) => c.body.toString().includes('hooked')));
    expect(call.headers['x-rotor-timestamp']).toMatch(/^\d+$/);
    expect(Math.abs(Number(call.headers['x-rotor-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(verifyWebhook(call.headers, call.body, SECRET)).toBe(true);
    // The same call replayed after the tolerance, or with its timestamp changed, is refused.
    const later = () => (Number(call.headers['x-rotor-timestamp']) + 301) * 1000;
    expect(verifyWebhook(call.headers, call.body, SECRET, { now: later })).toBe(false);
    expect(verifyWebhook(call.headers, call.body, SECRET, { now: later, tolerance: 600 })).toBe(true);
    const bumped = { ...call.headers, 'x-rotor-timestamp': String(Number(call.headers['x-rotor-timestamp']) + 1) };
    expect(verifyWebhook(bumped, call.body, SECRET)).toBe(false);
    expect(verifyWebhook(call.headers, call.body.toString(), SECRET)).toBe(true);
    expect(verifyWebhook(new Headers(call.headers), call.body, SECRET)).toBe(true);
    expect(verifyWebhook(call.headers, call.body, 'another-secret')).toBe(false);
    expect(verifyWebhook(call.headers, Buffer.concat([call.body, Buffer.from(' ')]), SECRET)).toBe(false);
    expect(verifyWebhook({}, call.body, SECRET)).toBe(false);
  });

  it('checks X-Rotor-Timestamp and refuses stale calls', () => {
    const body = '{"events":[]}';
    const signed = (ts) => ({
      'X-Rotor-Timestamp': String(ts),
      'X-Rotor-Signature': `sha256=${createHmac('sha256', SECRET).update(`${ts}.${body}`).digest('hex')}`,
    });
    const now = Math.floor(Date.now() / 1000);
    expect(verifyWebhook(signed(now), body, SECRET)).toBe(true);
    expect(verifyWebhook(signed(now - 301), body, SECRET)).toBe(false);
    expect(verifyWebhook(signed(now + 301), body, SECRET)).toBe(false);
    expect(verifyWebhook(signed(now - 301), body, SECRET, { tolerance: 600 })).toBe(true);
    // The timestamp is signed: changing it breaks the signature.
    expect(verifyWebhook({ ...signed(now - 1000), 'X-Rotor-Timestamp': String(now) }, body, SECRET)).toBe(false);
    const plain = { 'X-Rotor-Signature': `sha256=${createHmac('sha256', SECRET).update(body).digest('hex')}` };
    // Body-only signatures (servers before the timestamp) are refused unless
    // the upgrade switch is on.
    expect(verifyWebhook(plain, body, SECRET)).toBe(false);
    expect(verifyWebhook(plain, body, SECRET, { requireTimestamp: true })).toBe(false);
    expect(verifyWebhook(plain, body, SECRET, { requireTimestamp: false })).toBe(true);
  });

  it('serves auth_url with authHandler', async () => {
    const subscribe = async (user) => {
      const c = await fetch(`${srv.base}/connection/${PROJECT}/connect`, {
        method: 'POST',
        body: JSON.stringify({ token: rotor.connectionToken({ user, expiresIn: 60 }) }),
      }).then((r) => r.json());
      const r = await fetch(`${srv.base}/connection/${PROJECT}/command`, {
        method: 'POST',
        body: JSON.stringify({ session: c.session, commands: [{ id: 1, method: 'subscribe', params: { channel: '$room' } }] }),
      }).then((x) => x.json());
      return r.replies[0];
    };
    expect((await subscribe('alice')).result?.grant).toBeTruthy();
    expect((await subscribe('bob')).error?.code).toBe(103);

    // An unsigned call is refused.
    const addr = hooks.address();
    const r = await fetch(`http://127.0.0.1:${addr.port}/auth`, { method: 'POST', body: '{"client":"c","user":"alice","channels":["$room"]}' });
    expect(r.status).toBe(401);
  });
});
