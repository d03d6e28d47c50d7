// Runs in the test page: keeps every client's and subscription's events in
// plain arrays the tests read with page.evaluate / waitForFunction.
window.T = {
  clients: {},
  plain(ctx) {
    if (ctx && ctx.error) return { type: ctx.type, code: ctx.error.code, message: ctx.error.message };
    return ctx === undefined ? null : JSON.parse(JSON.stringify(ctx));
  },
  create(id, opts = {}) {
    const o = { ...opts };
    if (o.tokens) {
      const tokens = o.tokens;
      delete o.tokens;
      o.getToken = async () => tokens.shift() ?? null;
    }
    const r = new Rotor(location.origin + '/connection/p1', o);
    const c = { r, log: [], subs: {} };
    for (const ev of ['connecting', 'connect', 'disconnect', 'transport', 'error']) {
      r.on(ev, (ctx) => c.log.push([ev, T.plain(ctx)]));
    }
    T.clients[id] = c;
    return true;
  },
  subscribe(id, channel) {
    const c = T.clients[id];
    const s = c.r.subscribe(channel);
    const rec = { pubs: [], log: [] };
    c.subs[channel] = rec;
    s.on('publication', (p) => rec.pubs.push(p));
    for (const ev of ['subscribing', 'subscribed', 'unsubscribed', 'join', 'leave', 'error']) {
      s.on(ev, (ctx) => rec.log.push([ev, T.plain(ctx)]));
    }
    return true;
  },
  sub(id, channel) {
    return T.clients[id].r.getSubscription(channel);
  },
  events(id, channel, name) {
    const rec = T.clients[id].subs[channel];
    return rec.log.filter((l) => l[0] === name).map((l) => l[1]);
  },
  pubs(id, channel) {
    return T.clients[id].subs[channel].pubs;
  },
};
