// rotor-js/server: the Node side of Rotor — tokens, the server API with
// safe retries, webhook signatures and an auth_url handler. Node ≥ 20, no
// dependencies: node:crypto and the global fetch.
import { randomUUID } from 'node:crypto';
import { expiry, signHS256 } from './jwt.js';

export { verifyWebhook, SIGNATURE_HEADER, TIMESTAMP_HEADER } from './webhook.js';
export type { HeadersLike, VerifyWebhookOptions } from './webhook.js';
export { authHandler } from './auth-handler.js';
export type { AuthDecision, AuthHandlerOptions, AuthQuestion, AuthRequest } from './auth-handler.js';

/** Error code of a temporarily unavailable server (engine down): worth a retry. */
export const CODE_UNAVAILABLE = 112;

export interface RotorServerOptions {
  /** Base URL of Rotor, e.g. `https://rotor.example.com`. */
  url: string;
  /** The project's api_key (or the global admin key, with `project`). */
  apiKey: string;
  /** Project id: required with the admin key, optional with a project key. */
  project?: string;
  /** The project secret: needed for tokens only. */
  secret?: string;
  /** Attempts after the first on a network error, HTTP 5xx or error 112. Default 3. */
  retries?: number;
  /** Backoff bounds in ms (full jitter: random(0, min(max, min·2^attempt))). Default 200, 5000. */
  minRetryDelay?: number;
  maxRetryDelay?: number;
  /** Per-attempt timeout in ms. Default 10000. */
  timeout?: number;
  /** Injectable fetch (e.g. to add an agent). Default the global fetch. */
  fetch?: typeof fetch;
}

/** An error answered by the server API, or the last failure after the retries. */
export class RotorApiError extends Error {
  /** Rotor error code (docs/protocol.md §8); 0 for a network failure or a non-JSON answer. */
  readonly code: number;
  /** HTTP status; 0 when there was no answer. */
  readonly status: number;
  /** The network error behind a code-0 failure. */
  readonly cause?: unknown;
  constructor(message: string, code: number, status: number, options?: { cause?: unknown }) {
    super(message);
    this.cause = options?.cause;
    this.name = 'RotorApiError';
    this.code = code;
    this.status = status;
  }
}

export interface Position {
  epoch: string;
  offset: number;
}
export interface ClientInfo {
  client: string;
  user: string;
  info?: Record<string, unknown>;
  chan_info?: Record<string, unknown>;
}
export interface Publication {
  channel: string;
  offset: number;
  data: unknown;
  info?: ClientInfo;
}
export interface ApiError {
  code: number;
  message: string;
}
export interface PublishResult {
  offset: number;
  epoch: string;
}
export interface BroadcastResult {
  results: { channel: string; offset?: number; epoch?: string; error?: ApiError }[];
}
export interface HistoryResult {
  publications: Publication[];
  epoch: string;
  offset: number;
}
export interface PresenceResult {
  clients: Record<string, { user: string; info?: Record<string, unknown>; chan_info?: Record<string, unknown> }>;
}
export interface PresenceStatsResult {
  clients: number;
  users: number;
}
export interface ChannelsResult {
  channels: Record<string, { clients: number }>;
}
export interface NodeInfo {
  id: string;
  version: string;
  uptime: number;
  clients: number;
  subscriptions: number;
  channels: number;
  publications_per_s: number;
}
export interface InfoResult {
  nodes: NodeInfo[];
}
export interface BatchCommand {
  method: string;
  params?: Record<string, unknown>;
}
export interface BatchResult {
  replies: ({ result: unknown } | { error: ApiError })[];
}

export interface PublishOptions {
  /**
   * Makes a repeated publish a no-op on the server. One is generated when
   * absent, and the same key is sent on every retry of the call.
   */
  idempotencyKey?: string;
}

export interface ConnectionTokenOptions {
  /** The user id (`sub`). */
  user: string;
  /** Lifetime in seconds from now, or an absolute expiry (`exp`). No expiry when both are absent. */
  expiresIn?: number;
  expiresAt?: Date | number;
  /** Public info other clients see in presence and publications. */
  info?: Record<string, unknown>;
  /** Channels subscribed at connect. */
  channels?: string[];
}

export interface SubscriptionTokenOptions {
  user: string;
  channel: string;
  expiresIn?: number;
  expiresAt?: Date | number;
  /** The client's chan_info in this channel. */
  info?: Record<string, unknown>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A client of one project's server API. */
export class RotorServer {
  private readonly opts: Required<Omit<RotorServerOptions, 'project' | 'secret'>> & Pick<RotorServerOptions, 'project' | 'secret'>;

  constructor(opts: RotorServerOptions) {
    if (!opts?.url) throw new TypeError('rotor-js/server: url is required');
    if (!opts.apiKey) throw new TypeError('rotor-js/server: apiKey is required');
    this.opts = {
      retries: 3,
      minRetryDelay: 200,
      maxRetryDelay: 5000,
      timeout: 10_000,
      fetch: globalThis.fetch,
      ...opts,
      url: opts.url.replace(/\/+$/, ''),
    };
  }

  /** A connection JWT (HS256 with the project secret) for a browser. */
  connectionToken(o: ConnectionTokenOptions): string {
    if (!o?.user) throw new TypeError('rotor-js/server: connectionToken needs a user');
    const claims: Record<string, unknown> = { sub: o.user };
    const exp = expiry(o.expiresAt, o.expiresIn, Date.now());
    if (exp !== undefined) claims.exp = exp;
    if (o.info) claims.info = o.info;
    if (o.channels?.length) claims.channels = o.channels;
    return signHS256(claims, this.secret());
  }

  /** A subscription JWT for one private channel. */
  subscriptionToken(o: SubscriptionTokenOptions): string {
    if (!o?.channel) throw new TypeError('rotor-js/server: subscriptionToken needs a channel');
    const claims: Record<string, unknown> = { sub: o.user ?? '', channel: o.channel };
    const exp = expiry(o.expiresAt, o.expiresIn, Date.now());
    if (exp !== undefined) claims.exp = exp;
    if (o.info) claims.info = o.info;
    return signHS256(claims, this.secret());
  }

  publish(channel: string, data: unknown, o: PublishOptions = {}): Promise<PublishResult> {
    return this.call('publish', { channel, data, idempotency_key: o.idempotencyKey ?? randomUUID() });
  }
  broadcast(channels: string[], data: unknown, o: PublishOptions = {}): Promise<BroadcastResult> {
    return this.call('broadcast', { channels, data, idempotency_key: o.idempotencyKey ?? randomUUID() });
  }
  history(channel: string, o: { limit?: number; since?: Position; reverse?: boolean } = {}): Promise<HistoryResult> {
    return this.call('history', { channel, ...o });
  }
  historyRemove(channel: string): Promise<Record<string, never>> {
    return this.call('history_remove', { channel });
  }
  presence(channel: string): Promise<PresenceResult> {
    return this.call('presence', { channel });
  }
  presenceStats(channel: string): Promise<PresenceStatsResult> {
    return this.call('presence_stats', { channel });
  }
  channels(pattern?: string): Promise<ChannelsResult> {
    return this.call('channels', pattern ? { pattern } : {});
  }
  info(): Promise<InfoResult> {
    return this.call('info', {});
  }
  unsubscribe(channel: string, user: string): Promise<Record<string, never>> {
    return this.call('unsubscribe', { channel, user });
  }
  disconnect(user: string, o: { reconnect?: boolean } = {}): Promise<Record<string, never>> {
    return this.call('disconnect', { user, reconnect: !!o.reconnect });
  }
  /**
   * Several methods in one request. Each publish and broadcast without an
   * idempotency_key gets one, so retrying the batch publishes nothing twice.
   * Errors of single commands are in the replies, not thrown.
   */
  batch(commands: BatchCommand[]): Promise<BatchResult> {
    const cmds = commands.map((c) =>
      (c.method === 'publish' || c.method === 'broadcast') && c.params?.idempotency_key === undefined
        ? { ...c, params: { ...c.params, idempotency_key: randomUUID() } }
        : c,
    );
    return this.call('batch', { commands: cmds });
  }

  /**
   * Calls any server API method and returns its result. Retries a network
   * error, an HTTP 5xx or error 112 with backoff, sending the same body
   * each time; throws RotorApiError for any other error.
   */
  async call<T = unknown>(method: string, params: Record<string, unknown>): Promise<T> {
    const body = JSON.stringify(this.opts.project ? { project: this.opts.project, ...params } : params);
    const { retries, minRetryDelay, maxRetryDelay } = this.opts;
    for (let attempt = 0; ; attempt++) {
      let err: RotorApiError;
      try {
        return await this.attempt<T>(method, body);
      } catch (e) {
        if (!(e instanceof RotorApiError)) throw e;
        err = e;
      }
      const retriable = err.status === 0 || err.status >= 500 || err.code === CODE_UNAVAILABLE;
      if (!retriable || attempt >= retries) throw err;
      await sleep(Math.random() * Math.min(maxRetryDelay, minRetryDelay * 2 ** attempt));
    }
  }

  private async attempt<T>(method: string, body: string): Promise<T> {
    let res: Response;
    try {
      res = await this.opts.fetch(`${this.opts.url}/api/${encodeURIComponent(method)}`, {
        method: 'POST',
        headers: { Authorization: `apikey ${this.opts.apiKey}`, 'Content-Type': 'application/json' },
        body,
        signal: AbortSignal.timeout(this.opts.timeout),
      });
    } catch (e) {
      throw new RotorApiError(`rotor ${method}: ${(e as Error)?.message ?? e}`, 0, 0, { cause: e });
    }
    const text = await res.text().catch(() => '');
    let reply: { result?: T; error?: ApiError } | undefined;
    try {
      reply = JSON.parse(text);
    } catch {
      throw new RotorApiError(`rotor ${method}: HTTP ${res.status} with a non-JSON answer`, 0, res.status);
    }
    if (reply?.error) throw new RotorApiError(`rotor ${method}: ${reply.error.message}`, reply.error.code, res.status);
    if (res.status !== 200) throw new RotorApiError(`rotor ${method}: HTTP ${res.status}`, 0, res.status);
    return reply?.result as T;
  }

  private secret(): string {
    if (!this.opts.secret) throw new TypeError('rotor-js/server: tokens need the project secret (option secret)');
    return this.opts.secret;
  }
}
