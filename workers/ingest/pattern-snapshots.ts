/**
 * The ingest worker's copies of its tenants' templates, so that rows are
 * labelled here — where the work scales out — and the tenant's actor, the one
 * serial point, stores them without reading them (shared/row-format.ts
 * SealedChunk).
 *
 * Matching a message depends only on the set of templates
 * (shared/patterns/miner.ts), so a copy of an actor's current templates gives
 * every row it matches the id the actor's miner would. A row the copy does
 * not match goes to the actor as before, which mines (and may learn from) it.
 * A stale copy is therefore never wrong, only less useful: a template the
 * actor has since generalised still has an alias to the new one, as for the
 * rows stored before the change.
 *
 * Each answer of the actor names the version of its templates; a copy of
 * another version is fetched again (one RPC), at most once per REFRESH_MS per
 * actor — while a tenant is learning, its version moves with every batch —
 * and in the background: requests go on with the copy they have. The first
 * request for an actor in this isolate waits for its copy.
 */
import type { PatternSnapshot, TenantActor } from '../../durable-objects/tenant-actor.ts';
import { logEvent } from '../../shared/logger.ts';
import { PatternMiner } from '../../shared/patterns/miner.ts';

/**
 * Actors whose copies one isolate keeps (least recently used out first). A
 * miss costs the request an RPC to its actor before anything else, so this
 * must cover every tenant an isolate serves in turn: at 256, 1,000 tenants
 * sending in rotation missed on every request, and each ack waited for a
 * snapshot (docs/benchmarks.md, "Many tenants"). A copy of a few templates
 * costs about 5 KiB (measured with PatternMiner.restore in Node), so 2,048
 * copies cost about 10 MiB beside the templates themselves, which
 * MAX_TEMPLATES_HELD bounds.
 */
export const MAX_COPIES = 2_048;
/**
 * Templates all copies together may hold: an isolate has 128 MB, and a
 * template costs its miner a few hundred bytes (tokens, keys, index entries).
 * A tenant with more templates than this is labelled by its actor.
 */
export const MAX_TEMPLATES_HELD = 50_000;
/** The shortest time between two fetches of one actor's copy. */
export const REFRESH_MS = 1_000;

interface Copy {
  version: string;
  /** Templates held (0 when the actor has too many to copy). */
  templates: number;
  /** Null when the actor has more templates than an isolate may hold: its rows go to it unlabelled. */
  miner: PatternMiner | null;
  /** When this copy was last asked for again (or fetched): a failed refresh waits REFRESH_MS too. */
  askedAt: number;
  refreshing: Promise<void> | null;
}

export type PatternLookup = (service: string, message: string) => string | null;

export class PatternSnapshots {
  /** By actor name; a Map's order is its use order (re-inserted on use). */
  readonly #copies = new Map<string, Copy>();
  readonly #first = new Map<string, Promise<Copy | null>>();
  #templatesHeld = 0;

  /** A lookup with the actor's templates, or null when no copy could be had (the actor then labels every row). */
  async lookup(name: string, actor: DurableObjectStub<TenantActor>): Promise<PatternLookup | null> {
    let copy = this.#copies.get(name) ?? null;
    if (copy) {
      // Most recently used last.
      this.#copies.delete(name);
      this.#copies.set(name, copy);
    } else {
      copy = await this.#fetchFirst(name, actor);
    }
    const miner = copy?.miner;
    if (!miner) return null;
    return (service, message) => miner.match(service, message)?.patternId ?? null;
  }

  /** The actor answered with its templates' version: a copy of another one is refreshed (background, rate-limited). */
  seen(name: string, actor: DurableObjectStub<TenantActor>, version: string | undefined, now = Date.now()): Promise<void> | null {
    const copy = this.#copies.get(name);
    if (!copy || version === undefined || version === copy.version) return null;
    if (copy.refreshing || now - copy.askedAt < REFRESH_MS) return null;
    copy.askedAt = now;
    copy.refreshing = fetchSnapshot(actor)
      .then((snapshot) => {
        if (snapshot) this.#store(name, snapshot);
      })
      .finally(() => {
        copy.refreshing = null;
      });
    return copy.refreshing;
  }

  async #fetchFirst(name: string, actor: DurableObjectStub<TenantActor>): Promise<Copy | null> {
    let pending = this.#first.get(name);
    if (!pending) {
      pending = fetchSnapshot(actor)
        .then((snapshot) => (snapshot ? this.#store(name, snapshot) : null))
        .finally(() => this.#first.delete(name));
      this.#first.set(name, pending);
    }
    return pending;
  }

  #store(name: string, snapshot: PatternSnapshot): Copy {
    this.#drop(name);
    const fits = snapshot.templates.length <= MAX_TEMPLATES_HELD;
    const copy: Copy = {
      version: snapshot.version,
      templates: fits ? snapshot.templates.length : 0,
      miner: fits ? PatternMiner.restore(snapshot.templates) : null,
      askedAt: Date.now(),
      refreshing: null,
    };
    this.#copies.set(name, copy);
    this.#templatesHeld += copy.templates;
    while (this.#copies.size > MAX_COPIES || this.#templatesHeld > MAX_TEMPLATES_HELD) this.#drop(this.#copies.keys().next().value!);
    return copy;
  }

  #drop(name: string): void {
    const copy = this.#copies.get(name);
    if (!copy) return;
    this.#copies.delete(name);
    this.#templatesHeld -= copy.templates;
  }
}

async function fetchSnapshot(actor: DurableObjectStub<TenantActor>): Promise<PatternSnapshot | null> {
  try {
    return await actor.patternSnapshot();
  } catch (err) {
    // Labelling here is an optimisation: without a copy, the actor labels the rows.
    logEvent('warn', 'patterns.snapshot_failed', { error: (err as Error).message });
    return null;
  }
}

/** One per isolate: the copies outlive requests. */
export const patternSnapshots = new PatternSnapshots();
