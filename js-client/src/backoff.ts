/**
 * Full-jitter exponential backoff ("Exponential Backoff And Jitter", AWS
 * Architecture Blog, 2015): a uniformly random delay between 0 and
 * min(max, min·2^attempt) milliseconds. Spreading reconnects over the whole
 * window keeps a restarted server from being hit by every client at once.
 */
export function backoff(attempt: number, min: number, max: number, random: () => number = Math.random): number {
  const cap = Math.min(max, min * 2 ** Math.min(Math.max(attempt, 0), 30));
  return Math.floor(random() * cap);
}
