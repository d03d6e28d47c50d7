import { backoff } from './backoff';
import { Batcher } from './batcher';
import { DeliveryWatch, sseRetryDelay } from './delivery';
import { Emitter } from './emitter';
import { Codes, isTemporary, RotorError, UnauthorizedError } from './errors';
import { streamId } from './positions';
import { Subscription, type SubscriptionOptions } from './subscription';
import { openPoll, openSSE, type EventSourceCtor, type Stream, type StreamEvent } from './transport';
import type {
  ClientEvent, HistoryOptions, HistoryResult, PresenceResult, PresenceStatsResult, Publication, PublishResult, StateReason,
} from './types';

/** The client's connection state. */
export type State = 'disconnected' | 'connecting' | 'connected';

/** How events reach the client: Server-Sent Events or long polling. */
export type TransportName = 'sse' | 'poll';

/** Options of {@link Rotor}. */
export interface RotorOptions {
  /** A connection JWT (docs/security.md). Omit it for anonymous access or when getToken is given. */
  token?: string;
  /**
   * Asks the app's backend for a fresh connection token: at first connect
   * without a token, before the session expires and when the server calls
   * the token expired. Throw UnauthorizedError (or return an empty string)
   * when the user may not connect: the client then stops reconnecting.
   */
  getToken?: () => Promise<string | null | undefined>;
  /** 'auto' (default): SSE, long polling when SSE is missing or buffered. */
  transport?: 'auto' | TransportName;
  /** How long a new stream may stay silent before the client decides a proxy buffers it, ms. Default 4000. */
  fallbackDelay?: number;
  /** How much later than the stream's best a server ping may arrive before the client decides a proxy buffers it, ms. Default 1000. */
  lateLimit?: number;
  /** After a fallback to long polling, SSE is tried again after this long, doubling on each fallback in a row, ms. Default 30000. */
  sseRetryDelay?: number;
  /** The longest wait before SSE is tried again, ms. Default 600000. */
  maxSseRetryDelay?: number;
  /** Reconnect backoff bounds, ms. Defaults 500 and 20000. */
  minReconnectDelay?: number;
  maxReconnectDelay?: number;
  /** Long-poll timeout, s. Default 25. */
  pollTimeout?: number;
  /** How long a command (publish, presence, history…) may wait for its answer, ms. Default 10000. */
  timeout?: number;
  /** fetch to use; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** EventSource to use; default globalThis.EventSource; null forces long polling. */
  EventSource?: EventSourceCtor | null;
}

/** Events of {@link Rotor}. */
export interface RotorEvents {
  state: { oldState: State; newState: State };
  /** The client is (re)connecting; code and reason tell why. */
  connecting: StateReason;
  /** The client is connected and its subscriptions' streams run. */
  connect: { client: string; user: string; transport: TransportName };
  /** The client stopped and will not reconnect by itself. */
  disconnect: StateReason;
  /** Events now travel by another transport: 'poll' when the SSE stream proved buffered, 'sse' when it is tried again. */
  transport: { transport: TransportName; reason: string };
  /** Every publication of every subscription, including server-side ones. */
  publication: Publication;
  error: { type: 'connect' | 'transport' | 'refresh' | 'command'; error: RotorError };
}

interface Pending {
  method: string;
  params: () => Record<string, unknown>;
  resolve(result: unknown): void;
  reject(err: RotorError): void;
}

interface Reply {
  id: number;
  result?: unknown;
  error?: { code: number; message: string };
}

interface ActiveStream {
  key: string;
  subs: Map<string, Subscription>;
  alive: boolean;
  handle: Stream;
  /** SSE streams in 'auto' mode: judges whether events arrive in time. */
  watch?: DeliveryWatch;
  /** When the stream was opened (Date.now()). */
  opened: number;
}

interface SubscribeResult {
  grant: string;
  epoch: string;
  offset: number;
  recoverable?: boolean;
}

interface ConnectResult {
  client: string;
  user: string;
  session: string;
  expires: number;
  ping?: number;
  subs?: Record<string, SubscribeResult | { error: { code: number; message: string } }>;
}

/**
 * The Rotor client: one connection to one project, any number of
 * subscriptions. See docs/js-client.md.
 */
export class Rotor extends Emitter<RotorEvents> {
  /** The client id of the current session. */
  client = '';
  /** The user id of the current session ('' for anonymous). */
  user = '';

  private readonly base: string;
  private readonly o: Required<Omit<RotorOptions, 'token' | 'getToken' | 'EventSource'>> & RotorOptions;
  private readonly ES: EventSourceCtor | null;
  private _state: State = 'disconnected';
  private _transport: TransportName;
  private token: string | undefined;
  private session: string | null = null;
  private expires = 0;
  private readonly subs = new Map<string, Subscription>();
  private readonly batcher: Batcher<Pending>;
  /** Commands sent and not answered yet. */
  private readonly inflight = new Set<Pending>();
  /** Bumped when the client stops, so that stale async work gives up. */
  private gen = 0;
  private attempts = 0;
  /** Streams in a row that failed before their first event. */
  private silentFailures = 0;
  private starting = false;
  private stream: ActiveStream | null = null;
  private streamScheduled = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private refreshTimer: ReturnType<typeof setTimeout> | undefined;
  private fallbackTimer: ReturnType<typeof setTimeout> | undefined;
  private watchTimer: ReturnType<typeof setInterval> | undefined;
  private sseRetryTimer: ReturnType<typeof setTimeout> | undefined;
  /** Fallbacks to polling in a row, without a healthy SSE stream between them. */
  private fallbacks = 0;
  /** The server's heartbeat interval, ms, from the connect reply. */
  private pingMs = 20000;

  /**
   * @param endpoint the project's base URL, `https://host/connection/{project}`
   */
  constructor(endpoint: string, opts: RotorOptions = {}) {
    super();
    this.base = endpoint.replace(/\/+$/, '');
    // fetch and queueMicrotask throw "Illegal invocation" when called as a
    // method of another object, so they are always called through globalThis.
    const f = opts.fetch ?? globalThis.fetch;
    this.o = {
      transport: 'auto', fallbackDelay: 4000, lateLimit: 1000, sseRetryDelay: 30000, maxSseRetryDelay: 600000,
      minReconnectDelay: 500, maxReconnectDelay: 20000, pollTimeout: 25, timeout: 10000, ...opts, fetch: (...a) => f.call(globalThis, ...a),
    };
    this.ES = opts.EventSource !== undefined ? opts.EventSource : (globalThis.EventSource ?? null);
    this.token = opts.token;
    this._transport = this.initialTransport();
    this.batcher = new Batcher<Pending>((items) => void this.sendCommands(items), () => this.session !== null && !this.starting);
  }

  /** The connection state. */
  get state(): State {
    return this._state;
  }

  /** The transport in use (or to be used at the next connect). */
  get transport(): TransportName {
    return this._transport;
  }

  /** Connects; subscriptions made before start now. A no-op unless disconnected. */
  connect(): void {
    if (this._state !== 'disconnected') return;
    this.attempts = 0;
    this.silentFailures = 0;
    this.fallbacks = 0;
    this._transport = this.initialTransport();
    this.setState('connecting');
    this.emit('connecting', { code: Codes.Called, reason: 'connect called' });
    void this.startSession();
  }

  /** Disconnects and stops reconnecting; subscriptions resume at the next connect(). */
  disconnect(): void {
    this.stop(Codes.Called, 'disconnect called');
  }

  /**
   * Subscribes to channel (or returns the existing subscription, adding
   * onPublication to it). Subscribes made in one tick go in one request.
   */
  subscribe(channel: string, onPublication?: (p: Publication) => void, opts?: SubscriptionOptions): Subscription {
    let sub = this.subs.get(channel);
    if (!sub) {
      sub = new Subscription(this, channel, opts);
      this.subs.set(channel, sub);
    } else if (opts) {
      sub._opts = opts;
    }
    if (onPublication) sub.on('publication', onPublication);
    sub.subscribe();
    return sub;
  }

  /** The subscription to channel, if any (server-side ones from the token's `channels` too). */
  getSubscription(channel: string): Subscription | undefined {
    return this.subs.get(channel);
  }

  /** Every subscription, by channel. */
  subscriptions(): Map<string, Subscription> {
    return new Map(this.subs);
  }

  /** Unsubscribes and forgets sub. */
  removeSubscription(sub: Subscription): void {
    sub.unsubscribe();
    if (this.subs.get(sub.channel) === sub) this.subs.delete(sub.channel);
  }

  /** Publishes to a channel without subscribing to it. */
  publish(channel: string, data: unknown): Promise<PublishResult> {
    return this._call('publish', { channel, data });
  }

  /** Presence of a channel without subscribing to it (public channels). */
  presence(channel: string): Promise<PresenceResult> {
    return this._call('presence', { channel });
  }

  /** Presence counts of a channel without subscribing to it. */
  presenceStats(channel: string): Promise<PresenceStatsResult> {
    return this._call('presence_stats', { channel });
  }

  /** History of a channel without subscribing to it. */
  history<T = unknown>(channel: string, opts: HistoryOptions = {}): Promise<HistoryResult<T>> {
    return this._call('history', { channel, ...opts });
  }

  /** Resolves once connected; rejects if the client stops first. */
  ready(): Promise<void> {
    if (this._state === 'connected') return Promise.resolve();
    return new Promise((resolve, reject) => {
      const ok = () => {
        this.off('disconnect', ko);
        resolve();
      };
      const ko = (r: StateReason) => {
        this.off('connect', ok);
        reject(new RotorError(r.code, r.reason));
      };
      this.once('connect', ok);
      this.once('disconnect', ko);
    });
  }

  // ---- commands ------------------------------------------------------------

  /** @internal sends one command, batched with the others of this tick. */
  _call<R>(method: string, params: Record<string, unknown>): Promise<R> {
    if (this._state === 'disconnected') {
      return Promise.reject(new RotorError(Codes.Disconnected, 'client is disconnected'));
    }
    return new Promise<R>((resolve, reject) => {
      const p: Pending = {
        method,
        params: () => params,
        resolve: (r) => {
          clearTimeout(t);
          resolve(r as R);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      };
      const t = setTimeout(() => {
        this.batcher.remove(p);
        p.reject(new RotorError(Codes.Timeout, `${method}: no answer in ${this.o.timeout} ms`));
      }, this.o.timeout);
      this.batcher.add(p);
    });
  }

  private async sendCommands(items: Pending[]): Promise<void> {
    const gen = this.gen;
    const session = this.session;
    const commands = items.map((p, i) => ({ id: i + 1, method: p.method, params: p.params() }));
    for (const p of items) this.inflight.add(p);
    let r: { status: number; body: unknown };
    try {
      r = await this.post('/command', { session, commands });
    } catch (e) {
      for (const p of items) this.inflight.delete(p);
      const err = new RotorError(Codes.TransportClosed, `command: ${String(e)}`);
      for (const p of items) p.reject(err);
      return;
    }
    for (const p of items) this.inflight.delete(p);
    // stop() already rejected them.
    if (gen !== this.gen) return;
    if (r.status === 401) {
      // The session is gone (expired, revoked, or a new secret): nothing was
      // done, so every command waits for the next session.
      this.batcher.requeue(items);
      if (session === this.session) this.sessionLost(r.body);
      return;
    }
    const replies = (r.body as { replies?: Reply[] } | null)?.replies;
    if (r.status !== 200 || !Array.isArray(replies)) {
      const err = errorOf(r.body, r.status);
      for (const p of items) p.reject(err);
      return;
    }
    const byId = new Map(replies.map((x) => [x.id, x]));
    items.forEach((p, i) => {
      const x = byId.get(i + 1);
      if (!x) p.reject(new RotorError(Codes.BadResponse, `${p.method}: no reply`));
      else if (x.error) p.reject(new RotorError(x.error.code, x.error.message));
      else p.resolve(x.result ?? {});
    });
  }

  // ---- subscriptions ---------------------------------------------------------

  /** @internal */
  _wantSubscribe(sub: Subscription): void {
    if (this._state === 'disconnected' || sub._inflight || sub.state === 'unsubscribed') return;
    sub._inflight = true;
    this.batcher.add({
      method: 'subscribe',
      params: () => {
        const p: Record<string, unknown> = { channel: sub.channel };
        if (sub._opts.token) p.token = sub._opts.token;
        if (sub._pos) p.since = { ...sub._pos };
        return p;
      },
      resolve: (r) => {
        sub._inflight = false;
        this.onSubscribed(sub, r as SubscribeResult);
      },
      reject: (e) => {
        sub._inflight = false;
        this.onSubscribeError(sub, e);
      },
    });
  }

  /** @internal */
  _wantUnsubscribe(sub: Subscription, grant: string | undefined): void {
    if (grant && this.session) {
      this._call('unsubscribe', { channel: sub.channel }).catch((e: RotorError) => sub._emitError('unsubscribe', e));
    }
    this.scheduleStream();
  }

  private onSubscribed(sub: Subscription, r: SubscribeResult): void {
    if (sub.state === 'unsubscribed' || this.subs.get(sub.channel) !== sub) return;
    if (typeof r.grant !== 'string') {
      this.onSubscribeError(sub, new RotorError(Codes.BadResponse, 'subscribe: no grant'));
      return;
    }
    sub._grant = r.grant;
    sub._pos ??= { epoch: r.epoch, offset: r.offset };
    this.scheduleStream();
  }

  private onSubscribeError(sub: Subscription, e: RotorError): void {
    if (sub.state === 'unsubscribed' || this._state === 'disconnected') return;
    if (e.code === Codes.Disconnected) return;
    if (!isTemporary(e.code)) {
      sub._end(e.code, e.message, e);
      this.scheduleStream();
      return;
    }
    sub._emitError('subscribe', e);
    clearTimeout(sub._retry);
    sub._retry = setTimeout(() => {
      sub._retry = undefined;
      this._wantSubscribe(sub);
    }, backoff(sub._attempts++, this.o.minReconnectDelay, this.o.maxReconnectDelay));
  }

  // ---- session ---------------------------------------------------------------

  private async startSession(): Promise<void> {
    if (this.starting) return;
    this.starting = true;
    const gen = this.gen;
    this.session = null;
    try {
      let token = this.token;
      let fresh = false;
      if (!token && this.o.getToken) {
        token = await this.fetchToken();
        fresh = true;
      }
      for (;;) {
        if (gen !== this.gen) return;
        const r = await this.post('/connect', token ? { token } : {});
        if (gen !== this.gen) return;
        const body = r.body as ConnectResult | null;
        if (r.status === 200 && body && typeof body.session === 'string') {
          this.token = token;
          this.starting = false;
          this.onSession(body);
          return;
        }
        if (r.status === 401 && !fresh && this.o.getToken) {
          token = await this.fetchToken();
          fresh = true;
          continue;
        }
        const err = errorOf(r.body, r.status);
        if (r.status === 401) throw new UnauthorizedError(err.message);
        if (r.status >= 400 && r.status < 500 && r.status !== 429) {
          // Malformed, forbidden origin, unknown project: retrying cannot help.
          this.starting = false;
          this.emit('error', { type: 'connect', error: err });
          this.stop(err.code, err.message);
          return;
        }
        throw err;
      }
    } catch (e) {
      this.starting = false;
      if (gen !== this.gen) return;
      if (e instanceof UnauthorizedError) {
        this.stop(Codes.Unauthorized, e.message);
        return;
      }
      const err = e instanceof RotorError ? e : new RotorError(Codes.TransportClosed, `connect: ${String(e)}`);
      this.emit('error', { type: 'connect', error: err });
      this.scheduleReconnect(err.code, err.message);
    } finally {
      if (gen === this.gen) this.starting = false;
    }
  }

  /** Asks the app for a token; empty means unauthorized. */
  private async fetchToken(): Promise<string> {
    const t = await this.o.getToken!();
    if (!t) throw new UnauthorizedError('getToken returned no token');
    return t;
  }

  private onSession(r: ConnectResult): void {
    this.session = r.session;
    this.client = r.client;
    this.user = r.user;
    this.expires = r.expires;
    if (typeof r.ping === 'number' && r.ping > 0) this.pingMs = r.ping * 1000;
    this.scheduleRefresh();
    for (const [ch, res] of Object.entries(r.subs ?? {})) {
      let sub = this.subs.get(ch);
      if (!sub) {
        sub = new Subscription(this, ch);
        this.subs.set(ch, sub);
      }
      if ('error' in res) {
        sub._end(res.error.code, res.error.message, new RotorError(res.error.code, res.error.message));
        continue;
      }
      if (sub.state === 'unsubscribed') sub._setState('subscribing');
      this.onSubscribed(sub, res);
    }
    // A new session is a new client id: grants of the old one are void.
    for (const sub of this.subs.values()) {
      if (sub.state === 'unsubscribed' || (r.subs && ch(r.subs, sub.channel))) continue;
      sub._grant = undefined;
      this._wantSubscribe(sub);
    }
    this.batcher.kick();
    this.scheduleStream();
  }

  /** The session was refused (401): connect again, with a fresh token if possible. */
  private sessionLost(body: unknown): void {
    if (this._state === 'disconnected') return;
    const err = errorOf(body, 401);
    this.closeStream();
    this.session = null;
    if (this.o.getToken) this.token = undefined;
    this.interrupt(err.code, err.message);
    void this.startSession();
  }

  private scheduleRefresh(): void {
    clearTimeout(this.refreshTimer);
    this.refreshTimer = undefined;
    if (!this.expires || !this.o.getToken) return;
    const ttl = this.expires * 1000 - Date.now();
    const delay = Math.max(0, ttl - Math.min(30000, ttl / 10));
    this.refreshTimer = setTimeout(() => void this.refresh(), Math.min(delay, 2 ** 31 - 1));
  }

  /** Renews the session before it expires, keeping the client id (no presence flap). */
  private async refresh(): Promise<void> {
    const gen = this.gen;
    try {
      const token = await this.fetchToken();
      if (gen !== this.gen) return;
      const r = await this._call<{ session: string; expires: number }>('refresh', { token });
      if (gen !== this.gen) return;
      this.token = token;
      this.session = r.session;
      this.expires = r.expires;
      this.scheduleRefresh();
      // Grants carry the session's expiry: take new ones, then the stream
      // reopens with them.
      for (const sub of this.subs.values()) this._wantSubscribe(sub);
    } catch (e) {
      if (gen !== this.gen) return;
      if (e instanceof UnauthorizedError) {
        this.stop(Codes.Unauthorized, e.message);
        return;
      }
      const err = e instanceof RotorError ? e : new RotorError(Codes.Internal, String(e));
      this.emit('error', { type: 'refresh', error: err });
      this.refreshTimer = setTimeout(() => void this.refresh(), backoff(3, this.o.minReconnectDelay, this.o.maxReconnectDelay));
    }
  }

  // ---- stream ----------------------------------------------------------------

  private initialTransport(): TransportName {
    if (this.o.transport === 'poll' || !this.ES) return 'poll';
    return 'sse';
  }

  /** Opens or reopens the stream at the end of this tick if its channels changed. */
  private scheduleStream(): void {
    if (this.streamScheduled) return;
    this.streamScheduled = true;
    queueMicrotask(() => {
      this.streamScheduled = false;
      this.openStream(false);
    });
  }

  private openStream(force: boolean): void {
    if (!this.session || this.starting || this._state === 'disconnected' || this.reconnectTimer) return;
    const subs = [...this.subs.values()].filter((s) => s.state !== 'unsubscribed' && s._grant && s._pos);
    const key = `${this._transport} ${this.session} ${subs.map((s) => s._grant).join(' ')}`;
    if (!force && this.stream?.key === key) return;
    this.closeStream();
    if (subs.length === 0) {
      // Nothing to stream: the session alone is the connection.
      if (!subs.length && ![...this.subs.values()].some((s) => s._inflight)) this.connected();
      return;
    }
    const q = new URLSearchParams({ session: this.session });
    for (const s of subs) q.append('grant', s._grant!);
    const st: ActiveStream = { key, subs: new Map(subs.map((s) => [s.channel, s])), alive: false, handle: { close() {} }, opened: Date.now() };
    this.stream = st;
    const cb = {
      event: (name: string, data: unknown) => this.onEvent(st, name, data),
      answer: (events: StreamEvent[]) => this.onAnswer(st, events),
      fail: (status: number, code?: number) => this.onFail(st, status, code),
    };
    const positions = () => subs.map((s) => s._pos!);
    if (this._transport === 'sse') {
      q.set('since', streamId(positions()));
      // clock=1: heartbeats as ping events with the server's time, which
      // the watch below reads (EventSource hides comment heartbeats).
      if (this.o.transport === 'auto') q.set('clock', '1');
      st.handle = openSSE(this.ES!, `${this.base}/sse?${q}`, cb);
      if (this.o.transport === 'auto') {
        this.fallbackTimer = setTimeout(() => {
          if (this.stream === st && !st.alive) this.fallback('no event within the fallback delay: a proxy buffers the stream');
        }, this.o.fallbackDelay);
        st.watch = new DeliveryWatch({ ping: this.pingMs, lateLimit: this.o.lateLimit }, st.opened);
        this.watchTimer = setInterval(() => this.checkDelivery(st), 500);
      }
    } else {
      st.handle = openPoll(this.o.fetch, () => {
        // A subscription still waiting for its start must not wait a whole
        // poll timeout: a resumed poll sends no `sub` when nothing was lost.
        const timeout = subs.some((s) => s.state === 'subscribing') ? 1 : this.o.pollTimeout;
        q.set('since', streamId(positions()));
        q.set('timeout', String(timeout));
        return { href: `${this.base}/poll?${q}`, timeout };
      }, cb);
    }
  }

  private closeStream(): void {
    clearTimeout(this.fallbackTimer);
    clearInterval(this.watchTimer);
    this.fallbackTimer = this.watchTimer = undefined;
    const st = this.stream;
    this.stream = null;
    st?.handle.close();
  }

  /**
   * Switches to long polling; positions make it lossless. SSE is tried
   * again later, with a longer wait after each fallback in a row, since a
   * buffering proxy may be gone (another network) or may have been a
   * false alarm (a stalled tab).
   */
  private fallback(reason: string): void {
    this._transport = 'poll';
    this.fallbacks++;
    this.emit('transport', { transport: 'poll', reason });
    this.openStream(true);
    clearTimeout(this.sseRetryTimer);
    this.sseRetryTimer = setTimeout(() => {
      this.sseRetryTimer = undefined;
      if (this._state === 'disconnected' || this._transport !== 'poll' || this.o.transport !== 'auto' || !this.ES) return;
      this._transport = 'sse';
      this.emit('transport', { transport: 'sse', reason: 'trying SSE again after a fallback' });
      this.openStream(true);
    }, sseRetryDelay(this.fallbacks, this.o.sseRetryDelay, this.o.maxSseRetryDelay));
  }

  /** A ping event: the server's time, to judge whether events arrive in time. */
  private onClock(st: ActiveStream, data: unknown): void {
    const t = (data as { time?: unknown } | null)?.time;
    const why = st.watch?.clock(typeof t === 'number' ? t : NaN, Date.now());
    if (why) this.fallback(why);
  }

  private checkDelivery(st: ActiveStream): void {
    if (this.stream !== st || !st.watch) return;
    const now = Date.now();
    const why = st.watch.check(now);
    if (why) {
      this.fallback(why);
      return;
    }
    // A stream that has delivered in time for a while ends the run of
    // fallbacks: the next one waits the base delay again.
    if (this.fallbacks > 0 && st.alive && now - st.opened > 4 * this.o.sseRetryDelay) this.fallbacks = 0;
  }

  private alive(st: ActiveStream): void {
    if (st.alive) return;
    st.alive = true;
    clearTimeout(this.fallbackTimer);
    this.fallbackTimer = undefined;
    this.silentFailures = 0;
    this.connected();
  }

  private connected(): void {
    if (this._state !== 'connecting' || !this.session) return;
    this.attempts = 0;
    this.setState('connected');
    this.emit('connect', { client: this.client, user: this.user, transport: this._transport });
  }

  private onAnswer(st: ActiveStream, events: StreamEvent[]): void {
    if (this.stream !== st) return;
    this.alive(st);
    const told = new Set(events.filter((e) => e.event === 'sub').map((e) => (e.data as { channel: string }).channel));
    for (const sub of st.subs.values()) {
      if (sub.state === 'subscribing' && !told.has(sub.channel)) sub._ready(true);
    }
  }

  private onEvent(st: ActiveStream, name: string, data: unknown): void {
    if (this.stream !== st) return;
    if (name === 'ping') {
      this.onClock(st, data);
      return;
    }
    st.watch?.seen(Date.now());
    const d = data as { channel?: string };
    const sub = d.channel !== undefined ? st.subs.get(d.channel) : undefined;
    switch (name) {
      case 'sub':
        this.alive(st);
        sub?._onSub(data as { epoch: string; offset: number; recovered: boolean });
        break;
      case 'pub':
        this.alive(st);
        if (sub?._onPub(data as Publication)) this.emit('publication', data as Publication);
        break;
      case 'join':
      case 'leave':
        sub?._onJoinLeave(name, data as ClientEvent);
        break;
      case 'unsub': {
        const u = data as { code: number; reason: string };
        sub?._end(u.code, u.reason);
        break;
      }
      case 'disconnect':
        this.onDisconnect(st, data as { code: number; reason: string; reconnect: boolean });
        break;
    }
  }

  private onDisconnect(st: ActiveStream, d: { code: number; reason: string; reconnect: boolean }): void {
    st.handle.close();
    if (d.code === Codes.DisconnectExpired) {
      // The session expired: connect again with a fresh token.
      this.closeStream();
      this.session = null;
      if (this.o.getToken) this.token = undefined;
      this.scheduleReconnect(d.code, d.reason, 0);
      return;
    }
    if (!d.reconnect || d.code === Codes.DisconnectRevoked) {
      this.stop(d.code, d.reason);
      return;
    }
    this.scheduleReconnect(d.code, d.reason);
  }

  private onFail(st: ActiveStream, status: number, code?: number): void {
    if (this.stream !== st) return;
    if (status === 401) {
      this.sessionLost({ error: { code: code ?? Codes.ServerUnauthorized, message: 'session refused by the stream' } });
      return;
    }
    if (!st.alive) this.silentFailures++;
    const err = new RotorError(Codes.TransportClosed, `${this._transport} stream closed${status ? ` (HTTP ${status})` : ''}`);
    this.emit('error', { type: 'transport', error: err });
    this.scheduleReconnect(err.code, err.message);
  }

  // ---- reconnect -------------------------------------------------------------

  private scheduleReconnect(code: number, reason: string, delay?: number): void {
    if (this._state === 'disconnected') return;
    this.closeStream();
    this.interrupt(code, reason);
    if (this.reconnectTimer) return;
    const d = delay ?? backoff(this.attempts++, this.o.minReconnectDelay, this.o.maxReconnectDelay);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.reconnect();
    }, d);
  }

  private async reconnect(): Promise<void> {
    const gen = this.gen;
    if (!this.session) {
      await this.startSession();
      return;
    }
    if (this.silentFailures > 0) {
      // The last stream died before saying anything; an EventSource hides
      // the status, so ask whether the session still holds.
      let r: { status: number; body: unknown };
      try {
        r = await this.post('/command', { session: this.session, commands: [{ id: 1, method: 'ping' }] });
      } catch (e) {
        if (gen === this.gen) this.scheduleReconnect(Codes.TransportClosed, `server unreachable: ${String(e)}`);
        return;
      }
      if (gen !== this.gen) return;
      if (r.status === 401) {
        this.sessionLost(r.body);
        return;
      }
      if (r.status !== 200) {
        this.scheduleReconnect(Codes.TransportClosed, `ping: HTTP ${r.status}`);
        return;
      }
      // The server answers but streams keep failing: something on the way
      // (a proxy) breaks them; long polling goes through.
      if (this.silentFailures >= 2 && this._transport === 'sse' && this.o.transport === 'auto') {
        this.fallback('the stream fails while the server answers');
        return;
      }
    }
    this.openStream(true);
  }

  /** Leaves connected for connecting; subscriptions wait for their resume. */
  private interrupt(code: number, reason: string): void {
    if (this._state !== 'connected') return;
    this.setState('connecting');
    this.emit('connecting', { code, reason });
    for (const sub of this.subs.values()) sub._interrupt({ code, reason });
  }

  private stop(code: number, reason: string): void {
    if (this._state === 'disconnected') return;
    this.gen++;
    this.starting = false;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.refreshTimer);
    clearTimeout(this.sseRetryTimer);
    this.reconnectTimer = this.refreshTimer = this.sseRetryTimer = undefined;
    this.closeStream();
    this.session = null;
    const err = new RotorError(Codes.Disconnected, 'client is disconnected');
    for (const p of [...this.batcher.drain(), ...this.inflight]) p.reject(err);
    this.inflight.clear();
    for (const sub of this.subs.values()) {
      sub._inflight = false;
      sub._grant = undefined;
      clearTimeout(sub._retry);
      sub._interrupt({ code, reason });
    }
    this.setState('disconnected');
    this.emit('disconnect', { code, reason });
  }

  private setState(s: State): void {
    const old = this._state;
    if (old === s) return;
    this._state = s;
    this.emit('state', { oldState: old, newState: s });
  }

  private async post(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
    const res = await this.o.fetch(this.base + path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      cache: 'no-store',
    });
    const text = await res.text();
    let parsed: unknown = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = null;
    }
    return { status: res.status, body: parsed };
  }
}

function ch(subs: Record<string, unknown>, channel: string): boolean {
  return Object.prototype.hasOwnProperty.call(subs, channel);
}

/** The protocol error of an error body, or one made from the status. */
function errorOf(body: unknown, status: number): RotorError {
  const e = (body as { error?: { code?: number; message?: string } } | null)?.error;
  if (e && typeof e.code === 'number') return new RotorError(e.code, e.message ?? `HTTP ${status}`);
  return new RotorError(status === 401 ? Codes.ServerUnauthorized : Codes.BadResponse, `HTTP ${status}`);
}
