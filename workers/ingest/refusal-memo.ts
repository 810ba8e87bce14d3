/**
 * The refusal memo (issue 20, docs/capacity.md "Abuse"): each ingest isolate
 * remembers, per actor — a tenant's, or one shard's of a sharded tenant — the
 * 429 that actor last gave (over the rate or the quota, until the Retry-After
 * it stated) and refuses the next requests bound for that actor with the same
 * answer after authentication and *before the body is read*. A tenant flooding
 * at 100× its rate then costs a map look-up per refused request instead of a
 * read, a parse and a gzip (7.6 ms of CPU).
 *
 * Why it refuses only what the actor would refuse:
 * - the horizon is the actor's own Retry-After, counted from the moment the
 *   batch was handed to the actor (before the actor's clock read it), so it
 *   never outlasts what the actor said; a token bucket only refills with time,
 *   and other requests only drain it, so a request as large as the refused
 *   one cannot fit before then. A *smaller* request might (the rate's
 *   Retry-After is for the refused request's cost): it is refused too, which
 *   is what Retry-After told the client anyway ("do not send before t");
 * - a sharded tenant: the entry is the shard's, never the tenant's. Each shard
 *   holds 1/N of the rate and its own quota reservation, so one shard's
 *   refusal says nothing of another shard. The request's shard is therefore
 *   chosen here, before the body is read, exactly as the pipeline would choose
 *   it (shared/sharding.ts `pickShard`: the Idempotency-Key's hash, else at
 *   random), and the pipeline sends the request to that shard
 *   (`Submit.shard`): a request is refused only when the shard it goes to is
 *   remembered as refusing. A shard's quota refusal comes from the tenant's
 *   QuotaCoordinator (nothing left beyond every shard's claim) and is held
 *   like an unsharded one, at most MAX_HOLD_MS; volume another shard frees
 *   meanwhile (its object reset) is the one thing it can miss for that long;
 * - the plan's limits (shard count included) are part of the entry: a tenant
 *   whose plan changed (a new key cache entry) is asked of the actor again;
 * - at most MAX_HOLD_MS: a quota refusal's Retry-After runs to the end of the
 *   UTC day, and an operator may raise the quota meanwhile; once a minute per
 *   isolate the actor decides again, which costs one full request.
 *
 * An Idempotency-Key replay of a batch already accepted is refused like any
 * request inside the window (the body is not read, so it cannot be recognised
 * without a look-up); after the window the actor answers it from its ledger as
 * accepted, stored once. The memo is advisory for the stated window only.
 *
 * Keyed by the actor's name built from the verified tenant id (never request
 * text), bounded by MAX_TENANTS entries with least-recently-used eviction, per
 * isolate: nothing is shared, so each isolate pays one full refusal per actor
 * and window to learn it.
 */
import type { MiddlewareHandler } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { ApiError, type ErrorDetails } from '../../shared/api-error.ts';
import type { Plan } from '../../shared/plans.ts';
import { ingestPolicy } from '../../shared/rate-limit-headers.ts';
import { pickShard, shardName } from '../../shared/sharding.ts';
import { idempotencyKeyOf } from './idempotency-key.ts';

declare module 'hono' {
  interface ContextVariableMap {
    /** The tenant's shard the request goes to (shared/sharding.ts), chosen before its body is read. */
    shard: number;
  }
}

/** How many actors (tenants, or shards of sharded tenants) an isolate remembers a refusal for; the least recently used goes first. */
export const MAX_TENANTS = 10_000;
/** The longest an entry holds, whatever Retry-After said: the actor is asked again at least this often. */
export const MAX_HOLD_MS = 60_000;

/** The codes whose refusal depends on the tenant's state only, never on the request's content (413 and 400 do). */
const REMEMBERED = new Set(['rate_limited', 'quota_exceeded']);

/** An actor's refusal as the pipeline returns it. */
export interface ActorRefusal {
  status: ContentfulStatusCode;
  code: string;
  message: string;
  details: ErrorDetails;
  /** The answer's headers: RateLimit-Policy, RateLimit, Retry-After. */
  headers: Record<string, string>;
  retryAfterSeconds?: number | undefined;
}

export interface MemoEntry {
  refusal: ActorRefusal;
  /** The plan's limits the refusal was given under. */
  policy: string;
  /** Epoch ms until which the tenant is refused without asking the actor. */
  until: number;
  /** Epoch ms the actor said to retry at (later than `until` when MAX_HOLD_MS cut the hold): the Retry-After answered. */
  retryAt: number;
  /** Epoch ms the refusal was handed in (for the RateLimit reset the answer states). */
  since: number;
}

/** The limits an entry is valid for: a plan change makes it stale. */
export function policyKey(plan: Plan): string {
  return JSON.stringify(ingestPolicy(plan));
}

/**
 * Whether an actor's answer is remembered, and until when: `askedAt` is when
 * the batch was handed to the actor, before it read its clock.
 */
export function memoUntil(refusal: ActorRefusal, askedAt: number): number | null {
  if (refusal.status !== 429 || !REMEMBERED.has(refusal.code)) return null;
  if (refusal.retryAfterSeconds === undefined || refusal.retryAfterSeconds <= 0) return null;
  return askedAt + Math.min(refusal.retryAfterSeconds * 1000, MAX_HOLD_MS);
}

/** What happens to a request of a tenant with (or without) an entry: refused now, or the actor asked. */
export function memoDecision(entry: MemoEntry | undefined, plan: Plan, now: number): 'refuse' | 'ask_actor' {
  if (!entry) return 'ask_actor';
  if (now >= entry.until) return 'ask_actor';
  if (entry.policy !== policyKey(plan)) return 'ask_actor';
  return 'refuse';
}

export class RefusalMemo {
  /** Insertion order is recency: a hit moves the tenant to the end, eviction takes the first. */
  readonly #entries = new Map<string, MemoEntry>();

  constructor(private readonly capacity = MAX_TENANTS) {}

  get size(): number {
    return this.#entries.size;
  }

  /**
   * Records an actor's refusal for the tenant, if it is one worth remembering.
   * Nothing else clears an entry: answers to concurrent requests come back in
   * any order, so an acceptance arriving after a refusal may have been decided
   * before it; the entry simply runs out. Of two refusals, the later horizon
   * stands (each is the actor's own statement).
   */
  remember(actorName: string, plan: Plan, refusal: ActorRefusal, askedAt: number): void {
    const until = memoUntil(refusal, askedAt);
    if (until === null) return;
    const held = this.#entries.get(actorName);
    if (held && held.until >= until && held.policy === policyKey(plan)) return;
    this.#entries.delete(actorName);
    const retryAt = askedAt + (refusal.retryAfterSeconds ?? 0) * 1000;
    this.#entries.set(actorName, { refusal, policy: policyKey(plan), until, retryAt, since: askedAt });
    if (this.#entries.size > this.capacity) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  /** The refusal to answer now without reading the body, or null: ask the actor. */
  refusalFor(actorName: string, plan: Plan, now: number): ApiError | null {
    const entry = this.#entries.get(actorName);
    if (memoDecision(entry, plan, now) === 'ask_actor') {
      if (entry) this.#entries.delete(actorName);
      return null;
    }
    const held = entry!;
    this.#entries.delete(actorName);
    this.#entries.set(actorName, held);
    return new ApiError(held.refusal.status, held.refusal.code, held.refusal.message, held.refusal.details, answerHeaders(held, now));
  }
}

/** The actor's headers with the time left: Retry-After (≥ 1 s) and each RateLimit reset moved on by the time passed. */
function answerHeaders(entry: MemoEntry, now: number): Record<string, string> {
  const headers: Record<string, string> = { ...entry.refusal.headers, 'Retry-After': String(Math.max(1, Math.ceil((entry.retryAt - now) / 1000))) };
  const elapsed = Math.floor((now - entry.since) / 1000);
  if (headers.RateLimit !== undefined && elapsed > 0) {
    headers.RateLimit = headers.RateLimit.replace(/;t=(\d+)/g, (_: string, t: string) => `;t=${Math.max(0, Number(t) - elapsed)}`);
  }
  return headers;
}

/** This isolate's memo (module state lives as long as the isolate). */
export const refusalMemo = new RefusalMemo();

/**
 * Route middleware, after authentication and before the handler reads the
 * body: chooses the request's shard (`c.get('shard')`, which the route hands to
 * the pipeline), then answers a remembered refusal of that shard's actor
 * (thrown, so each protocol's error seam renders it in its own shape), or lets
 * the request on to the actor.
 */
export function refuseWhileRemembered(memo: RefusalMemo = refusalMemo): MiddlewareHandler {
  return async function refuseWhileRemembered(c, next) {
    const { tenantId, plan } = c.get('principal');
    const shard = pickShard(plan.shardCount, idempotencyKeyOf(c.req.header('idempotency-key')));
    c.set('shard', shard);
    const refusal = memo.refusalFor(shardName(tenantId, shard), plan, Date.now());
    if (refusal) throw refusal;
    await next();
  };
}
