/** Limits of {@link DeliveryWatch}, ms. */
export interface DeliveryLimits {
  /** The server's heartbeat interval: it writes something at least this often. */
  ping: number;
  /** How much later than the stream's best delivery a ping event may arrive. */
  lateLimit: number;
}

/**
 * Judges, over a stream's whole life, whether its events arrive in time.
 * A stream opened with `clock=1` carries `ping` events with the server's
 * time: while events flow at most every 500 ms, and alone at least every
 * `ping`. Two signals mean that something on the way holds the stream:
 *
 * - lateness: arrival time minus server time is the clocks' difference
 *   plus the path's delay. Its smallest value over the last minute is the
 *   path at its best; a ping that arrived more than `lateLimit` later than
 *   that waited in a buffer (the clocks' difference cancels out).
 * - a missing trailing ping: the server follows every other event with a
 *   ping within 500 ms; an event and then nothing for longer means the
 *   rest of the stream, ping included, waits in a buffer (the tail of a
 *   burst that a proxy holds until more traffic pushes it out).
 * - silence: nothing at all for longer than the ping interval allows,
 *   while this server is known to send pings (one arrived): a proxy holds
 *   what was written since.
 */
export class DeliveryWatch {
  /** Recent pings: arrival minus server time, and arrival, oldest first. */
  private offsets: { offset: number; at: number }[] = [];
  private last: number;
  private clocked = false;
  /** An event other than a ping arrived last: its trailing ping is due. */
  private awaiting = false;

  constructor(private readonly lim: DeliveryLimits, now: number) {
    this.last = now;
  }

  /** An event other than a ping arrived at `now`. */
  seen(now: number): void {
    this.last = now;
    this.awaiting = true;
  }

  /** A ping with the server's time `serverTime` arrived at `now`; returns why the stream looks held, if it does. */
  clock(serverTime: number, now: number): string | null {
    this.last = now;
    this.awaiting = false;
    if (!Number.isFinite(serverTime)) return null;
    this.clocked = true;
    // Compare within a minute only: over hours the two clocks drift apart
    // by more than the limit, over a minute by milliseconds.
    while (this.offsets.length > 0 && now - this.offsets[0].at > windowMs) this.offsets.shift();
    this.offsets.push({ offset: now - serverTime, at: now });
    // A ping that arrives with later ones in one burst looks prompt on
    // arrival; the later ones show it was not. So the spread of the
    // window counts, not only the newest ping.
    let best = Infinity;
    let worst = -Infinity;
    for (const o of this.offsets) {
      best = Math.min(best, o.offset);
      worst = Math.max(worst, o.offset);
    }
    const late = worst - best;
    if (late > this.lim.lateLimit) return `events arrive ${Math.round(late)} ms late: a proxy buffers the stream`;
    return null;
  }

  /** The longest silence that is not suspect, ms. */
  silenceLimit(): number {
    return this.lim.ping * 1.25 + 2000;
  }

  /** How long after another event its trailing ping may come, ms. */
  trailLimit(): number {
    return trailMs + 2000;
  }

  /** Called from time to time; returns why the stream looks held, if it does. */
  check(now: number): string | null {
    if (!this.clocked) return null;
    const quiet = now - this.last;
    if (this.awaiting && quiet > this.trailLimit()) return `no ping for ${Math.round(quiet)} ms after an event: a proxy holds the stream`;
    if (quiet > this.silenceLimit()) return `nothing for ${Math.round(quiet)} ms although the server pings every ${this.lim.ping} ms: a proxy holds the stream`;
    return null;
  }
}

/** The server's bound on the time from an event to the ping after it, ms. */
const trailMs = 500;

/** How far back pings are compared, ms. */
const windowMs = 60_000;

/**
 * When to try SSE again after falling back to long polling: the n-th
 * fallback in a row (from 1) waits base·2^(n-1), at most max, with ±20 %
 * jitter so that the clients of one proxy do not retry together.
 */
export function sseRetryDelay(n: number, base: number, max: number, rnd: () => number = Math.random): number {
  const d = Math.min(max, base * 2 ** Math.max(0, n - 1));
  return d * (0.8 + 0.4 * rnd());
}
