/**
 * Batcher gathers what is added within one tick (one run of the event loop)
 * and hands it to flush in a single call, so that subscribes made together
 * cost one `/command` request and one `auth_url` call (docs/protocol.md, Private channels). While
 * ready() is false the items wait; kick() retries once it may be true.
 */
export class Batcher<T> {
  private items: T[] = [];
  private scheduled = false;

  constructor(
    private readonly flush: (items: T[]) => void,
    private readonly ready: () => boolean,
    private readonly schedule: (fn: () => void) => void = (fn) => queueMicrotask(fn),
  ) {}

  /** Queues item for the next flush. */
  add(item: T): void {
    this.items.push(item);
    this.kick();
  }

  /** Puts items back at the front of the queue, keeping their order. */
  requeue(items: T[]): void {
    this.items = items.concat(this.items);
    this.kick();
  }

  /** Removes item if it has not been flushed yet. */
  remove(item: T): void {
    const i = this.items.indexOf(item);
    if (i >= 0) this.items.splice(i, 1);
  }

  /** Takes every waiting item out of the queue. */
  drain(): T[] {
    const out = this.items;
    this.items = [];
    return out;
  }

  /** Schedules a flush at the end of this tick if anything waits. */
  kick(): void {
    if (this.scheduled || this.items.length === 0) return;
    this.scheduled = true;
    this.schedule(() => {
      this.scheduled = false;
      if (this.items.length === 0 || !this.ready()) return;
      this.flush(this.drain());
    });
  }
}
