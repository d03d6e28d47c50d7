// Cross-origin session riding, in a real Chromium: a victim connects on
// Rotor's own origin and so holds the rotor_session cookie; a page on
// another origin of the same site (another port of 127.0.0.1), which the
// project allows only through "*", tries to act with that cookie. Every
// attempt must fail, and nothing it sends may take effect on the server,
// while a page on an origin listed in allowed_origins may use the cookie.
import { createServer } from 'node:http';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api, freePort, launch, startRotor, userToken } from './harness.mjs';

/** An HTTP server on a free loopback port answering every request with handler. */
async function serve(handler) {
  const port = await freePort();
  const server = createServer(handler);
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { base: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

/** A site of its own: a blank page at every path. */
const blankSite = () => serve((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/html' });
  res.end('<!doctype html><meta charset="utf-8"><title>site</title><body></body>');
});

/** An auth_url that allows every private channel. */
const allowAll = () => serve((req, res) => {
  let body = '';
  req.on('data', (c) => { body += c; });
  req.on('end', () => {
    const { channels } = JSON.parse(body);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ channels: Object.fromEntries(channels.map((c) => [c, { allow: true }])) }));
  });
});

const USER_CH = 'chat:inbox#alice';
const PRIVATE_CH = 'chat:$diary';

// Runs in a page: every way a page can use the cookie against Rotor at
// base, with what each one got. A request the browser refuses to show
// the page ends in {error}. grant is the victim's, as if it had leaked:
// a grant alone must not be enough either.
async function tryEverything([base, grant]) {
  const out = {};
  const call = async (path, init) => {
    try {
      const r = await fetch(base + path, { credentials: 'include', ...init });
      return { status: r.status, body: await r.json() };
    } catch (e) {
      return { error: String(e) };
    }
  };
  const commands = [
    { id: 1, method: 'subscribe', params: { channel: 'chat:inbox#alice' } },
    { id: 2, method: 'subscribe', params: { channel: 'chat:$diary' } },
    { id: 3, method: 'history', params: { channel: 'chat:inbox#alice' } },
    { id: 4, method: 'publish', params: { channel: 'chat:room', data: { text: `forged json from ${location.origin}` } } },
  ];
  out.command = await call('/command', {
    method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ commands }),
  });
  // A "simple" request is sent without a preflight: the browser hides the
  // answer from the page, but the server must not act on it either.
  out.simple = await call('/command', {
    method: 'POST', headers: { 'Content-Type': 'text/plain' },
    body: JSON.stringify({ commands: [{ id: 1, method: 'publish', params: { channel: 'chat:room', data: { text: `forged simple from ${location.origin}` } } }] }),
  });
  await fetch(base + '/command', {
    method: 'POST', mode: 'no-cors', credentials: 'include',
    body: JSON.stringify({ commands: [{ id: 1, method: 'publish', params: { channel: 'chat:room', data: { text: `forged no-cors from ${location.origin}` } } }] }),
  }).catch(() => {});
  out.poll = await call(`/poll?grant=${encodeURIComponent(grant)}&timeout=0`, {});
  out.sse = await new Promise((resolve) => {
    const es = new EventSource(`${base}/sse?grant=${encodeURIComponent(grant)}`, { withCredentials: true });
    const done = (v) => { clearTimeout(t); es.close(); resolve(v); };
    const t = setTimeout(() => done({ timeout: true }), 10_000);
    es.addEventListener('sub', (e) => done({ sub: JSON.parse(e.data) }));
    es.onerror = () => { if (es.readyState === EventSource.CLOSED) done({ error: true }); };
  });
  return out;
}

/** The texts published in chat:room so far that name origin. */
async function forgedBy(base, origin) {
  const { publications } = await api(base, 'history', { channel: 'chat:room' });
  return publications.map((p) => p.data.text).filter((t) => t.endsWith(`from ${origin}`));
}

describe('the session cookie does not cross origins', () => {
  let srv, browser, ctx, attacker, listed, auth, base, grant;

  beforeAll(async () => {
    [attacker, listed, auth] = await Promise.all([blankSite(), blankSite(), allowAll()]);
    srv = await startRotor(inject('rotorBin'), { allowedOrigins: ['*', listed.base], authURL: `${auth.base}/auth` });
    base = `${srv.base}/connection/p1`;
    browser = await launch();
    // One context: all pages share one cookie jar, as in the victim's browser.
    ctx = await browser.newContext();
    await api(srv.base, 'publish', { channel: USER_CH, data: { text: 'for alice only' } });
  });
  afterAll(async () => {
    await browser?.close();
    await srv?.close();
    await Promise.all([attacker, listed, auth].map((s) => s?.close()));
  });

  it('is set for, and accepted from, the server\'s own origin', async () => {
    // The victim, on Rotor's own origin, connects; the cookie alone (no
    // session in the body) then works there.
    const victim = await ctx.newPage();
    await victim.goto(`${srv.base}/healthz`);
    const own = await victim.evaluate(async ([base, token]) => {
      const c = await fetch(`${base}/connect`, { method: 'POST', body: JSON.stringify({ token }) });
      const r = await fetch(`${base}/command`, {
        method: 'POST',
        body: JSON.stringify({ commands: [{ id: 1, method: 'subscribe', params: { channel: 'chat:inbox#alice' } }] }),
      });
      return { connect: c.status, status: r.status, body: await r.json() };
    }, [base, userToken('alice')]);
    expect(own.connect).toBe(200);
    expect(own.status).toBe(200);
    grant = own.body.replies[0].result.grant;
    expect(grant).toBeTruthy();
    // A stream and a poll with the cookie and a grant, no session in the URL.
    const streams = await victim.evaluate(async ([base, grant]) => {
      const poll = await fetch(`${base}/poll?grant=${encodeURIComponent(grant)}&timeout=0`);
      const sse = await new Promise((resolve) => {
        const es = new EventSource(`${base}/sse?grant=${encodeURIComponent(grant)}`);
        const done = (v) => { clearTimeout(t); es.close(); resolve(v); };
        const t = setTimeout(() => done('timeout'), 10_000);
        es.addEventListener('sub', (e) => done(JSON.parse(e.data).channel));
        es.onerror = () => { if (es.readyState === EventSource.CLOSED) done('error'); };
      });
      return { poll: poll.status, sse };
    }, [base, grant]);
    expect(streams).toEqual({ poll: 200, sse: USER_CH });
    const cookies = await ctx.cookies(`${base}/command`);
    expect(cookies.map((c) => [c.name, c.sameSite, c.httpOnly])).toEqual([['rotor_session', 'Strict', true]]);
  });

  it.each([
    ['another port of the same host', () => attacker.base],
    ['another site', () => attacker.base.replace('127.0.0.1', 'localhost')],
  ])('is refused to %s allowed only by "*"', async (_, origin) => {
    expect(grant).toBeTruthy();
    const evil = await ctx.newPage();
    await evil.goto(`${origin()}/`);
    const got = await evil.evaluate(tryEverything, [base, grant]);
    expect(got.command.status ?? 'refused').not.toBe(200);
    expect(got.simple.status ?? 'refused').not.toBe(200);
    expect(got.poll.status ?? 'refused').not.toBe(200);
    expect(got.sse).toEqual({ error: true });
    // Nothing it sent took effect, not even what the browser sent blind.
    expect(await forgedBy(srv.base, origin())).toEqual([]);

    // "*" still lets that page use a token it holds, without cookies.
    const withToken = await evil.evaluate(async ([base, token]) => {
      const r = await fetch(`${base}/connect`, { method: 'POST', body: JSON.stringify({ token }) });
      return { status: r.status, body: await r.json() };
    }, [base, userToken('mallory')]);
    expect(withToken.status).toBe(200);
    expect(withToken.body.user).toBe('mallory');
    await evil.close();
  });

  it('is accepted from a listed origin', async () => {
    expect(grant).toBeTruthy();
    const friend = await ctx.newPage();
    await friend.goto(`${listed.base}/`);
    const ok = await friend.evaluate(tryEverything, [base, grant]);
    expect(ok.command.status).toBe(200);
    const [userSub, privSub, hist, pub] = ok.command.body.replies;
    expect(userSub.result.grant).toBeTruthy();
    expect(privSub.result.grant).toBeTruthy();
    expect(hist.result.publications.map((p) => p.data.text)).toEqual(['for alice only']);
    expect(pub.result.offset).toBeGreaterThan(0);
    expect(ok.simple.status).toBe(200);
    expect(ok.poll.status).toBe(200);
    expect(ok.poll.body.events[0].event).toBe('sub');
    expect(ok.sse.sub.channel).toBe(USER_CH);
    expect((await forgedBy(srv.base, listed.base)).length).toBe(3);
  });
});
