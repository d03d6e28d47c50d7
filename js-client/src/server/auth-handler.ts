// An auth_url endpoint for Express-style frameworks (and plain node:http):
// checks Rotor's signature, asks the application about each private
// channel and answers in the shape Rotor expects.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { verifyWebhook, type VerifyWebhookOptions } from './webhook.js';

/** What Rotor asks auth_url: may this client subscribe to channel? */
export interface AuthQuestion {
  client: string;
  user: string;
  channel: string;
}

/** true/false, or allow with `info` (the client's chan_info in that channel, an object ≤ 1 KiB). */
export type AuthDecision = boolean | { allow: boolean; info?: Record<string, unknown> };

export interface AuthHandlerOptions extends VerifyWebhookOptions {
  /** The project secret Rotor signs with. */
  secret: string;
  /** Decides on one channel; a throw denies it. Called for every channel of a call, concurrently. */
  authorize: (q: AuthQuestion) => AuthDecision | Promise<AuthDecision>;
}

/** A request as Express or node:http gives it; a body parser may have set body or rawBody. */
export type AuthRequest = IncomingMessage & { body?: unknown; rawBody?: Buffer | string };

async function rawBody(req: AuthRequest): Promise<Buffer> {
  if (req.rawBody !== undefined) return Buffer.from(req.rawBody);
  if (typeof req.body === 'string' || Buffer.isBuffer(req.body)) return Buffer.from(req.body);
  if (req.body !== undefined && req.readableEnded) {
    throw new Error('rotor-js/server: the body was parsed before the signature could be checked; mount the handler with express.raw({ type: "application/json" })');
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const c of req) {
    size += c.length;
    if (size > 1 << 20) throw new Error('rotor-js/server: auth_url body larger than 1 MiB');
    chunks.push(Buffer.from(c));
  }
  return Buffer.concat(chunks);
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json');
  res.setHeader('Cache-Control', 'no-store');
  res.end(JSON.stringify(body));
}

/**
 * Returns a `(req, res)` handler for the project's auth_url. A call with a
 * bad signature gets 401 (Rotor then denies every channel); otherwise the
 * answer is `{"channels": {name: {allow, info?}}}`.
 */
export function authHandler(opts: AuthHandlerOptions): (req: AuthRequest, res: ServerResponse, next?: (err?: unknown) => void) => Promise<void> {
  if (!opts.secret) throw new TypeError('rotor-js/server: authHandler needs the project secret');
  return async (req, res, next) => {
    let body: Buffer;
    try {
      body = await rawBody(req);
    } catch (err) {
      if (next) return next(err);
      return reply(res, 400, { error: String(err) });
    }
    if (!verifyWebhook(req.headers, body, opts.secret, opts)) return reply(res, 401, { error: 'bad signature' });
    let call: { client?: unknown; user?: unknown; channels?: unknown };
    try {
      call = JSON.parse(body.toString('utf8'));
    } catch {
      return reply(res, 400, { error: 'malformed JSON' });
    }
    const channels = Array.isArray(call.channels) ? call.channels.filter((c): c is string => typeof c === 'string') : [];
    const client = String(call.client ?? '');
    const user = String(call.user ?? '');
    const answers = await Promise.all(
      channels.map(async (channel) => {
        try {
          const d = await opts.authorize({ client, user, channel });
          return typeof d === 'boolean' ? { allow: d } : { allow: !!d?.allow, ...(d?.info ? { info: d.info } : {}) };
        } catch {
          return { allow: false };
        }
      }),
    );
    reply(res, 200, { channels: Object.fromEntries(channels.map((c, i) => [c, answers[i]])) });
  };
}
