import { Emitter } from './emitter';
import { Codes, RotorError } from './errors';
import { isDuplicate, type Position } from './positions';
import type {
  ClientEvent, HistoryOptions, HistoryResult, PresenceResult, PresenceStatsResult, Publication, PublishResult, StateReason,
} from './types';

/** A subscription's state. */
export type SubscriptionState = 'unsubscribed' | 'subscribing' | 'subscribed';

/** Context of `subscribed` and `ready`. */
export interface SubscribedContext {
  channel: string;
  /**
   * False when publications may have been missed: the channel's history
   * did not cover the gap since the last position, or its epoch changed
   * (a restarted memory engine). The app should reload what it shows.
   */
  recovered: boolean;
  epoch: string;
  offset: number;
}

/** Events of a {@link Subscription}. */
export interface SubscriptionEvents {
  state: { oldState: SubscriptionState; newState: SubscriptionState };
  subscribing: StateReason;
  /** The subscription receives publications; again after every resume and when recovery failed. */
  subscribed: SubscribedContext;
  /** The same as `subscribed` (the name docs/js-client.md's quick start uses). */
  ready: SubscribedContext;
  unsubscribed: StateReason;
  publication: Publication;
  join: ClientEvent;
  leave: ClientEvent;
  error: { type: 'subscribe' | 'unsubscribe'; error: RotorError };
}

/** Options of Rotor.subscribe. */
export interface SubscriptionOptions {
  /** A subscription JWT for a private (`$`) channel, instead of the project's auth_url. */
  token?: string;
}

/** What a subscription needs from its client. @internal */
export interface SubscriptionHost {
  _wantSubscribe(sub: Subscription): void;
  _wantUnsubscribe(sub: Subscription, grant: string | undefined): void;
  _call<R>(method: string, params: Record<string, unknown>): Promise<R>;
}

/**
 * A subscription to one channel. Create it with Rotor.subscribe; it
 * resubscribes and resumes by itself across reconnects.
 */
export class Subscription extends Emitter<SubscriptionEvents> {
  /** The channel name. */
  readonly channel: string;
  /** @internal */
  _opts: SubscriptionOptions;
  /** @internal the grant of the current session, when subscribed by the server. */
  _grant: string | undefined;
  /** @internal the last position seen. */
  _pos: Position | undefined;
  /** @internal a subscribe command is on its way. */
  _inflight = false;
  /** @internal failed subscribe attempts in a row. */
  _attempts = 0;
  /** @internal */
  _retry: ReturnType<typeof setTimeout> | undefined;
  private _state: SubscriptionState = 'unsubscribed';

  /** @internal */
  constructor(private readonly host: SubscriptionHost, channel: string, opts: SubscriptionOptions = {}) {
    super();
    this.channel = channel;
    this._opts = opts;
  }

  /** The current state. */
  get state(): SubscriptionState {
    return this._state;
  }

  /** Where the subscription stands in its channel, once known. */
  get position(): Position | undefined {
    return this._pos ? { ...this._pos } : undefined;
  }

  /** Subscribes again after unsubscribe(); a no-op otherwise. */
  subscribe(): void {
    if (this._state !== 'unsubscribed') return;
    this._setState('subscribing');
    this.emit('subscribing', { code: Codes.Called, reason: 'subscribe called' });
    this.host._wantSubscribe(this);
  }

  /** Stops the subscription; the server sends leave at once. */
  unsubscribe(): void {
    if (this._state === 'unsubscribed') return;
    const grant = this._grant;
    this._reset();
    this._setState('unsubscribed');
    this.emit('unsubscribed', { code: Codes.Called, reason: 'unsubscribe called' });
    this.host._wantUnsubscribe(this, grant);
  }

  /** Publishes data to the channel (namespace `publish` on). */
  publish(data: unknown): Promise<PublishResult> {
    return this.host._call('publish', this.withGrant({ channel: this.channel, data }));
  }

  /** Who is in the channel now (namespace `presence` on). */
  presence(): Promise<PresenceResult> {
    return this.host._call('presence', this.withGrant({ channel: this.channel }));
  }

  /** How many clients and users are in the channel. */
  presenceStats(): Promise<PresenceStatsResult> {
    return this.host._call('presence_stats', this.withGrant({ channel: this.channel }));
  }

  /** The channel's recent publications, oldest first (newest first with reverse). */
  history<T = unknown>(opts: HistoryOptions = {}): Promise<HistoryResult<T>> {
    return this.host._call('history', this.withGrant({ channel: this.channel, ...opts }));
  }

  private withGrant(p: Record<string, unknown>): Record<string, unknown> {
    if (this._grant) p.grant = this._grant;
    return p;
  }

  /** @internal forgets the grant and the position, and any retry. */
  _reset(): void {
    this._grant = undefined;
    this._pos = undefined;
    this._attempts = 0;
    clearTimeout(this._retry);
    this._retry = undefined;
  }

  /** @internal */
  _setState(s: SubscriptionState): void {
    const old = this._state;
    if (old === s) return;
    this._state = s;
    this.emit('state', { oldState: old, newState: s });
  }

  /** @internal moves a subscribed subscription back to subscribing. */
  _interrupt(r: StateReason): void {
    if (this._state !== 'subscribed') return;
    this._setState('subscribing');
    this.emit('subscribing', r);
  }

  /** @internal handles a `sub` event of the stream. */
  _onSub(d: { epoch: string; offset: number; recovered: boolean }): void {
    this._pos = { epoch: d.epoch, offset: d.offset };
    if (this._state === 'subscribed' && d.recovered) return;
    this._ready(d.recovered);
  }

  /** @internal enters subscribed and tells the app. */
  _ready(recovered: boolean): void {
    if (this._state === 'unsubscribed') return;
    this._attempts = 0;
    this._setState('subscribed');
    const p = this._pos ?? { epoch: '', offset: 0 };
    const ctx: SubscribedContext = { channel: this.channel, recovered, epoch: p.epoch, offset: p.offset };
    this.emit('subscribed', ctx);
    this.emit('ready', ctx);
  }

  /** @internal handles a publication of the stream: drops duplicates. */
  _onPub(p: Publication): boolean {
    if (this._state === 'unsubscribed') return false;
    if (isDuplicate(this._pos, p.offset)) return false;
    if (this._pos) this._pos.offset = p.offset;
    this.emit('publication', p);
    return true;
  }

  /** @internal */
  _onJoinLeave(kind: 'join' | 'leave', e: ClientEvent): void {
    if (this._state !== 'unsubscribed') this.emit(kind, e);
  }

  /** @internal the server ended the subscription (unsub event or a refused subscribe). */
  _end(code: number, reason: string, error?: RotorError): void {
    if (this._state === 'unsubscribed') return;
    this._reset();
    if (error) this.emit('error', { type: 'subscribe', error });
    this._setState('unsubscribed');
    this.emit('unsubscribed', { code, reason });
  }

  /** @internal */
  _emitError(type: 'subscribe' | 'unsubscribe', error: RotorError): void {
    this.emit('error', { type, error });
  }
}
