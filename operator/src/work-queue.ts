/**
 * The controller's work queue, after client-go's rate-limited queue: keys
 * (Tenant names), not events, so a burst of changes to one tenant is one
 * reconcile; a key is never handed to two workers at once (one added while it
 * is being worked on is held back and handed out once that finishes); a key
 * that failed comes back after a capped exponential delay, which resets when
 * it succeeds.
 */
export interface WorkQueueOptions {
  baseDelayMs: number;
  maxDelayMs: number;
}

export class WorkQueue {
  readonly #queue: string[] = [];
  /** Keys waiting in #queue (deduplication). */
  readonly #queued = new Set<string>();
  /** Keys handed out and not yet done. */
  readonly #processing = new Set<string>();
  /** Keys added again while processing: requeued when done. */
  readonly #dirty = new Set<string>();
  readonly #failures = new Map<string, number>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #waiters: ((key: string | null) => void)[] = [];
  #shuttingDown = false;

  constructor(private readonly options: WorkQueueOptions) {}

  add(key: string): void {
    if (this.#shuttingDown) return;
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    const waiter = this.#waiters.shift();
    if (waiter) {
      this.#processing.add(key);
      waiter(key);
      return;
    }
    this.#queued.add(key);
    this.#queue.push(key);
  }

  /** Adds `key` after `ms` (a requeue for later: retention, resync); an earlier add wins. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    const existing = this.#timers.get(key);
    if (existing) clearTimeout(existing);
    this.#timers.set(
      key,
      setTimeout(() => {
        this.#timers.delete(key);
        this.add(key);
      }, ms),
    );
  }

  /** Adds `key` after its backoff: base × 2^(failures), capped. */
  addRateLimited(key: string): number {
    const failures = this.#failures.get(key) ?? 0;
    this.#failures.set(key, failures + 1);
    const delay = Math.min(this.options.maxDelayMs, this.options.baseDelayMs * 2 ** failures);
    this.addAfter(key, delay);
    return delay;
  }

  /** The key succeeded: its backoff starts over. */
  forget(key: string): void {
    this.#failures.delete(key);
  }

  failures(key: string): number {
    return this.#failures.get(key) ?? 0;
  }

  /** The next key to work on, waiting for one; null once shut down. */
  async get(): Promise<string | null> {
    if (this.#shuttingDown) return null;
    const key = this.#queue.shift();
    if (key !== undefined) {
      this.#queued.delete(key);
      this.#processing.add(key);
      return key;
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Work on `key` is finished; if it changed meanwhile, it goes round again. */
  done(key: string): void {
    this.#processing.delete(key);
    if (this.#dirty.delete(key)) this.add(key);
  }

  get depth(): number {
    return this.#queue.length;
  }

  shutDown(): void {
    this.#shuttingDown = true;
    for (const timer of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
    for (const waiter of this.#waiters.splice(0)) waiter(null);
  }
}
