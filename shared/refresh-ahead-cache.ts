/**
 * What authentication read from D1 (API keys, tenants, sessions), kept in the
 * isolate so that a steady sender's requests never wait for D1.
 *
 * - The TTL (NEURALLOG_KEY_CACHE_TTL_MS) bounds staleness exactly: an entry
 *   is answered only while younger than the TTL, its age counted from when
 *   the read that produced it *started*. A key revoked at time r is refused
 *   by every request that starts after r + TTL.
 * - Refresh ahead: once an entry is half the TTL old, a request is still
 *   answered from it and one read in the background (the request's
 *   `waitUntil`) replaces it. A tenant that sends at least once per half TTL
 *   therefore never finds its entry expired, and its acks never wait for D1
 *   (with 1,000 tenants and a 30 s TTL, an expired entry meant ≈ 67 requests
 *   a second waiting for a read: docs/benchmarks.md, "Many tenants").
 * - Single flight: requests that need the same key's record while a read of
 *   it is in flight share that read instead of starting their own. A read
 *   that fails is not kept: its waiters see the error, and the next request
 *   reads again (as before this cache shared anything).
 *
 * Every read is handed to the requesting context's `background`, so that
 * context stays alive until the read settles: in workerd, a request awaiting
 * a promise that another request created is cancelled if the creating
 * request ends first. A read still unsettled after a TTL is presumed lost
 * (its context cancelled) and neither shared nor waited for again.
 */
import { type Background, unattended } from './background.ts';
import { logEvent } from './logger.ts';

/** What a look-up does, given the cached entry and any read in flight. */
export type CacheStep =
  /** Answer from the entry; nothing else. */
  | 'serve'
  /** Answer from the entry, and start a read in the background to replace it. */
  | 'serve-and-refresh'
  /** No usable entry: wait for the read already in flight. */
  | 'join-read'
  /** No usable entry and no usable read: read now and wait for it. */
  | 'read';

/** The part of the TTL after which an entry is refreshed in the background. */
export const REFRESH_AFTER_FRACTION = 0.5;

/**
 * The decision, pure: `entryAge` is how old the cached entry is (ms; null when
 * there is none), `readAge` how long ago the read in flight started (null
 * when there is none), `ttl` the bound on staleness. A TTL of 0 caches
 * nothing and shares nothing.
 */
export function cacheStep(entryAge: number | null, readAge: number | null, ttl: number): CacheStep {
  // A read older than the TTL may never settle, and what it returns would already be too old to answer.
  const readUsable = readAge !== null && readAge < ttl;
  if (entryAge !== null && entryAge < ttl) {
    if (entryAge < ttl * REFRESH_AFTER_FRACTION || readUsable) return 'serve';
    return 'serve-and-refresh';
  }
  return readUsable ? 'join-read' : 'read';
}

export interface LookUp {
  /** The request's time (ms). */
  now: number;
  /** NEURALLOG_KEY_CACHE_TTL_MS. */
  ttl: number;
  /** Keeps a read alive past the response: the request's `waitUntil`. */
  background?: Background;
}

interface Entry<T> {
  value: T;
  /** When the read that produced it started (ms). */
  fetchedAt: number;
}

interface Read<T> {
  promise: Promise<T>;
  startedAt: number;
}

export class RefreshAheadCache<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #reads = new Map<string, Read<T>>();

  /** `name` is what the log calls it (`api_key`, `tenant`, `session`); `maxEntries` bounds both entries and reads in flight. */
  constructor(
    readonly name: string,
    readonly maxEntries: number,
  ) {}

  /** The value for `key`: cached, shared with a read in flight, or read by `read` (see the top of this file). */
  async get(key: string, { now, ttl, background = unattended }: LookUp, read: () => Promise<T>): Promise<T> {
    const entry = this.#entries.get(key);
    const inFlight = this.#reads.get(key);
    switch (cacheStep(entry ? now - entry.fetchedAt : null, inFlight ? now - inFlight.startedAt : null, ttl)) {
      case 'serve':
        return entry!.value;
      case 'serve-and-refresh':
        // Its failure is logged and forgotten: the entry stays until its TTL, and the next request tries again.
        this.#read(key, now, read, background).catch((err: unknown) => {
          logEvent('warn', 'auth.cache_refresh_failed', { cache: this.name, error: err instanceof Error ? err.message : String(err) });
        });
        return entry!.value;
      case 'join-read':
        return inFlight!.promise;
      case 'read':
        return this.#read(key, now, read, background);
    }
  }

  /** Forget what this isolate read of `key`, and any read of it in flight (it just changed here). */
  forget(key: string): void {
    this.#entries.delete(key);
    this.#reads.delete(key);
  }

  /** How many reads are in flight (for tests). */
  get readsInFlight(): number {
    return this.#reads.size;
  }

  #read(key: string, now: number, read: () => Promise<T>, background: Background): Promise<T> {
    const flight: Read<T> = { startedAt: now, promise: Promise.resolve().then(read) };
    // Only the latest read of a key writes its entry: one superseded (presumed lost) or forgotten
    // meanwhile may hold what was true before the change that made it forgotten.
    const isCurrent = () => this.#reads.get(key) === flight;
    flight.promise = flight.promise.then(
      (value) => {
        if (isCurrent()) {
          this.#reads.delete(key);
          this.#remember(key, { value, fetchedAt: now });
        }
        return value;
      },
      (err: unknown) => {
        if (isCurrent()) this.#reads.delete(key);
        throw err;
      },
    );
    this.#reads.delete(key);
    this.#reads.set(key, flight);
    if (this.#reads.size > this.maxEntries) this.#reads.delete(this.#reads.keys().next().value!);
    background(flight.promise.catch(() => undefined));
    return flight.promise;
  }

  #remember(key: string, entry: Entry<T>): void {
    // Re-inserted so the Map's order is the order of reads: the oldest read goes first when full.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    if (this.#entries.size > this.maxEntries) this.#entries.delete(this.#entries.keys().next().value!);
  }
}
