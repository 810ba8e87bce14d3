/**
 * The online template miner: every record of a tenant's services gets the
 * pattern (template) of its message, learnt as records arrive.
 *
 * How (docs/adr/0013-pattern-mining.md):
 * 1. The message is tokenised and its values masked by shape (tokens.ts).
 * 2. Its bucket is (service, number of tokens). A cluster *matches* when each
 *    of its template's tokens is `<*>` or equal to the message's; the most
 *    specific match wins (fewest wildcards, then the smaller text), so the
 *    answer depends only on the set of templates — not on history, not on the
 *    shard. Known masked messages are answered from a per-bucket cache;
 *    others look only at the clusters filed under one of their tokens.
 * 3. No match: the message becomes a cluster of its own. It takes the
 *    wildcards of its nearest cluster (one token apart): a position that
 *    varies in a message of the same shape varies in this one.
 * 4. Clusters that are equal but for one position are *siblings*. When a
 *    position has taken VARIABLE_AFTER distinct values among siblings that
 *    share MIN_CONTEXT_WORDS words, it is
 *    a variable: the siblings merge into one template with `<*>` there (the
 *    online form of Brain's "a position with many distinct words is a
 *    variable"). Two or three alternatives (`opened`/`closed`) stay apart:
 *    they are usually different statements in the code.
 *
 * Templates only ever generalise: a merge gives a new template (new id) that
 * `replaces` the old ones — an alias old → new for records already stored.
 * Past `maxTemplates` no cluster is created: an unmatched record gets its
 * shape-masked message as template (not learnt) — the cap rule.
 *
 * Services and tokens are untrusted strings: they are only ever Map keys.
 */
import { templateToId } from './pattern-id.ts';
import { templateText, tokenize, WILDCARD } from './tokens.ts';

export { templateToId } from './pattern-id.ts';

export interface PatternAssignment {
  patternId: string;
  template: string;
  /** Past the cap: the shape-masked message, not learnt (the miner will not restore or generalise it). */
  overflow?: true;
}

export interface PatternChange {
  service: string;
  patternId: string;
  template: string;
  /** Ids this template replaces: earlier templates of the same cluster that it generalised (an alias old → new). */
  replaces: string[];
}

export interface MinerOptions {
  /** Live templates per miner (per tenant shard), all services together; default DEFAULT_MAX_TEMPLATES. */
  maxTemplates?: number;
}

export const DEFAULT_MAX_TEMPLATES = 5000;

/** Distinct values at one position among siblings that make it a variable. */
export const VARIABLE_AFTER = 4;

/**
 * Words (constant tokens with two letters or more) the rest of a template
 * must keep for a position to become a variable: without context, "siblings"
 * are just different one-word messages (`running`, `blocked`, `suspendAutohide`).
 */
export const MIN_CONTEXT_WORDS = 2;

/** Messages longer than this are not cached (a cache key must not keep a huge record alive). */
const CACHE_MAX_MESSAGE_CHARS = 1024;
/** Cached masked messages per bucket and per miner; past them a cache starts again empty. */
const CACHE_MAX_PER_BUCKET = 2048;
const CACHE_MAX_TOTAL = 16384;

class Cluster {
  alive = true;
  /** Sibling key per position (see siblingKeys); NaN where the template has `<*>`. */
  readonly keys: number[];
  readonly wildcards: number;
  /** Whether the template has a word (two letters or more) outside wildcards; a template without matches only itself. */
  readonly worded: boolean;
  /**
   * Where the bucket's index files this cluster: its two longest constant
   * tokens (long words are the rarest). A template that matches a message,
   * or differs from it in one token, shares at least one of them with it.
   */
  readonly anchors: number[];
  /** scanBucket's visit mark. */
  seen = 0;

  constructor(
    readonly tokens: readonly string[],
    readonly template: string,
    readonly id: string,
  ) {
    this.keys = siblingKeys(tokens);
    let wildcards = 0;
    for (const t of tokens) if (t === WILDCARD) wildcards++;
    this.wildcards = wildcards;
    this.worded = contextWords(tokens, -1) > 0;
    this.anchors = this.worded ? anchorPositions(tokens) : [];
  }

  assignment(): PatternAssignment {
    return { patternId: this.id, template: this.template };
  }
}

/** Siblings: live clusters equal but for `position`, by the value they have there. */
interface SiblingGroup {
  position: number;
  byValue: Map<string, Cluster>;
}

class Bucket {
  clusters: Cluster[] = [];
  readonly byText = new Map<string, Cluster>();
  /** Sibling groups by key; a key only one cluster has maps to that cluster. */
  readonly groups = new Map<number, SiblingGroup | Cluster>();
  cache = new Map<string, Cluster>();
  /** Worded clusters by (anchor position, token there): a scan looks only at those sharing an anchor with the message. */
  readonly index: Map<string, Cluster[]>[] = [];

  file(cluster: Cluster): void {
    for (const p of cluster.anchors) {
      let byToken = this.index[p];
      if (!byToken) {
        byToken = new Map();
        this.index[p] = byToken;
      }
      const list = byToken.get(cluster.tokens[p]!);
      if (list) list.push(cluster);
      else byToken.set(cluster.tokens[p]!, [cluster]);
    }
  }

  unfile(cluster: Cluster): void {
    for (const p of cluster.anchors) {
      const byToken = this.index[p];
      const list = byToken?.get(cluster.tokens[p]!);
      if (!byToken || !list) continue;
      const at = list.indexOf(cluster);
      if (at >= 0) list.splice(at, 1);
      if (list.length === 0) byToken.delete(cluster.tokens[p]!);
    }
  }
}

/** Buckets by token count. */
type ServiceState = Map<number, Bucket>;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export class PatternMiner {
  private readonly services = new Map<string, ServiceState>();
  private readonly pending = new Map<string, PatternChange>();
  private readonly maxTemplates: number;
  private live = 0;
  private cached = 0;

  constructor(options: MinerOptions = {}) {
    this.maxTemplates = Math.max(0, Math.floor(options.maxTemplates ?? DEFAULT_MAX_TEMPLATES));
  }

  /** Live templates (all services). */
  get size(): number {
    return this.live;
  }

  /** The pattern of one message of one service, learning from it. */
  /**
   * The template the message matches, or null where `assign` would learn one
   * (or answer past the cap). Learns nothing: matching depends only on the set
   * of templates, so a copy of a tenant's templates — the ingest worker's
   * (workers/ingest/pattern-snapshots.ts) — answers as the actor's miner
   * would for every record it does not have to learn from.
   */
  match(service: string, message: string): PatternAssignment | null {
    const tokens = tokenize(message);
    const bucket = this.services.get(service)?.get(tokens.length);
    if (!bucket) return null;
    const text = templateText(tokens);
    const hit = bucket.cache.get(text);
    if (hit) return hit.assignment();
    const scan = scanBucket(bucket, tokens, text);
    if (!scan.match) return null;
    if (message.length <= CACHE_MAX_MESSAGE_CHARS) this.remember(bucket, text, scan.match);
    return scan.match.assignment();
  }

  assign(service: string, message: string): PatternAssignment {
    const tokens = tokenize(message);
    const text = templateText(tokens);
    const bucket = this.services.get(service)?.get(tokens.length);
    let nearest: Cluster | null = null;
    if (bucket) {
      const hit = bucket.cache.get(text);
      if (hit) return hit.assignment();
      const scan = scanBucket(bucket, tokens, text);
      if (scan.match) {
        if (message.length <= CACHE_MAX_MESSAGE_CHARS) this.remember(bucket, text, scan.match);
        return scan.match.assignment();
      }
      nearest = scan.nearest;
    }
    if (this.live >= this.maxTemplates) return { patternId: templateToId(service, text), template: text, overflow: true };
    const created = this.learn(service, tokens, nearest);
    return created.assignment();
  }

  /** Templates created or generalised since the last call (for the actor to persist and publish). */
  takeChanges(): PatternChange[] {
    const changes = [...this.pending.values()];
    this.pending.clear();
    return changes;
  }

  /** The live templates, e.g. to persist them all at once. */
  *templates(): IterableIterator<{ service: string; patternId: string; template: string }> {
    for (const [service, buckets] of this.services) {
      for (const bucket of buckets.values()) for (const c of bucket.clusters) yield { service, patternId: c.id, template: c.template };
    }
  }

  /**
   * Rebuild from persisted templates (after a restart): the same messages then
   * get the same ids. Templates another one covers (earlier, replaced ones)
   * are folded into it; the changes that folding makes are pending as usual.
   */
  static restore(templates: Iterable<{ service: string; template: string }>, options?: MinerOptions): PatternMiner {
    const miner = new PatternMiner(options);
    for (const { service, template } of templates) {
      if (miner.live >= miner.maxTemplates) break;
      // A template's tokens are separated by single spaces and contain none.
      const tokens = template === '' ? [] : template.split(' ');
      const bucket = miner.services.get(service)?.get(tokens.length);
      if (bucket?.byText.has(template)) continue;
      miner.insert(service, tokens, false);
    }
    return miner;
  }

  private remember(bucket: Bucket, text: string, cluster: Cluster): void {
    if (bucket.cache.size >= CACHE_MAX_PER_BUCKET || this.cached >= CACHE_MAX_TOTAL) {
      if (this.cached >= CACHE_MAX_TOTAL) this.clearCaches();
      else {
        this.cached -= bucket.cache.size;
        bucket.cache = new Map();
      }
    }
    bucket.cache.set(text, cluster);
    this.cached++;
  }

  private clearCaches(): void {
    for (const buckets of this.services.values()) for (const bucket of buckets.values()) bucket.cache = new Map();
    this.cached = 0;
  }

  private invalidate(bucket: Bucket): void {
    if (bucket.cache.size === 0) return;
    this.cached -= bucket.cache.size;
    bucket.cache = new Map();
  }

  /** A new cluster for an unmatched message; returns the cluster that holds it once merges settle. */
  private learn(service: string, tokens: string[], nearest: Cluster | null): Cluster {
    const template = tokens.slice();
    if (nearest) for (let i = 0; i < template.length; i++) if (nearest.tokens[i] === WILDCARD) template[i] = WILDCARD;
    let cluster = this.insert(service, template, true);
    for (let next = this.replacedBy.get(cluster); !cluster.alive && next; next = this.replacedBy.get(cluster)) cluster = next;
    return cluster;
  }

  /** Where each dead cluster went (only for the duration of one insert). */
  private replacedBy = new Map<Cluster, Cluster>();
  /** The cluster being inserted: folded before its id was ever given out, it needs no alias. */
  private fresh: Cluster | null = null;

  /** Adds a template, then folds and merges until the bucket is settled. */
  private insert(service: string, tokens: readonly string[], announce: boolean): Cluster {
    let buckets = this.services.get(service);
    if (!buckets) {
      buckets = new Map();
      this.services.set(service, buckets);
    }
    let bucket = buckets.get(tokens.length);
    if (!bucket) {
      bucket = new Bucket();
      buckets.set(tokens.length, bucket);
    }
    this.replacedBy.clear();
    const first = this.add(service, bucket, tokens, announce);
    this.fresh = first;
    const work: Cluster[] = [first];
    while (work.length > 0) {
      const cluster = work.pop()!;
      if (!cluster.alive) continue;
      const merged = this.settle(service, bucket, cluster);
      if (merged) work.push(merged);
    }
    this.invalidate(bucket);
    this.fresh = null;
    return first;
  }

  private add(service: string, bucket: Bucket, tokens: readonly string[], announce: boolean): Cluster {
    // A fresh copy of the text: tokens may be slices of a large record, which must not stay alive with the template.
    const template = decoder.decode(encoder.encode(templateText(tokens)));
    const cluster = new Cluster(template === '' ? [] : template.split(' '), template, templateToId(service, template));
    bucket.clusters.push(cluster);
    bucket.file(cluster);
    bucket.byText.set(template, cluster);
    this.live++;
    if (announce) this.pending.set(cluster.id, { service, patternId: cluster.id, template, replaces: [] });
    return cluster;
  }

  /**
   * Folds into `cluster` the clusters it covers, registers it among its
   * siblings, and merges a sibling group that reached VARIABLE_AFTER values.
   * Returns the merged cluster to settle next, if any.
   */
  private settle(service: string, bucket: Bucket, cluster: Cluster): Cluster | null {
    // A template without words matches only itself (scanBucket), so it covers nothing.
    if (cluster.worded)
      for (const other of bucket.clusters) if (other !== cluster && covers(cluster.tokens, other.tokens)) this.fold(service, bucket, other, cluster);
    if (bucket.clusters.length !== 0) bucket.clusters = bucket.clusters.filter((c) => c.alive);
    const tokens = cluster.tokens;
    for (let p = 0; p < tokens.length; p++) {
      const key = cluster.keys[p]!;
      if (Number.isNaN(key)) continue;
      // Most positions never meet a sibling: the entry is the lone cluster itself until a second one comes.
      const entry = bucket.groups.get(key);
      if (entry === undefined || entry === cluster) {
        bucket.groups.set(key, cluster);
        continue;
      }
      let group: SiblingGroup;
      if (entry instanceof Cluster) {
        if (entry.keys.indexOf(key) !== p) continue; // a hash collision: this cluster stays out
        group = { position: p, byValue: new Map([[entry.tokens[p]!, entry]]) };
        bucket.groups.set(key, group);
      } else group = entry;
      if (group.position !== p) continue;
      group.byValue.set(tokens[p]!, cluster);
      if (group.byValue.size < VARIABLE_AFTER || contextWords(tokens, p) < MIN_CONTEXT_WORDS) continue;
      const members = [...group.byValue.values()].filter((m) => m.alive && equalBut(m.tokens, tokens, p));
      if (members.length < VARIABLE_AFTER) continue;
      const general = tokens.slice();
      general[p] = WILDCARD;
      const text = templateText(general);
      const target = bucket.byText.get(text) ?? this.add(service, bucket, general, true);
      for (const m of members) this.fold(service, bucket, m, target);
      bucket.clusters = bucket.clusters.filter((c) => c.alive);
      return target;
    }
    return null;
  }

  /** `from` is replaced by `into`: an alias for the records that already carry `from`'s id. */
  private fold(service: string, bucket: Bucket, from: Cluster, into: Cluster): void {
    if (!from.alive) return;
    from.alive = false;
    this.replacedBy.set(from, into);
    bucket.byText.delete(from.template);
    bucket.unfile(from);
    for (let p = 0; p < from.tokens.length; p++) {
      const key = from.keys[p]!;
      if (Number.isNaN(key)) continue;
      const entry = bucket.groups.get(key);
      if (entry === from) bucket.groups.delete(key);
      else if (entry !== undefined && !(entry instanceof Cluster) && entry.byValue.get(from.tokens[p]!) === from) {
        entry.byValue.delete(from.tokens[p]!);
        if (entry.byValue.size === 0) bucket.groups.delete(key);
      }
    }
    this.live--;
    let change = this.pending.get(into.id);
    if (!change) {
      change = { service, patternId: into.id, template: into.template, replaces: [] };
      this.pending.set(into.id, change);
    }
    const earlier = this.pending.get(from.id);
    if (earlier) {
      // Created (or generalised) since the last takeChanges: never published, but records may carry its id.
      this.pending.delete(from.id);
      change.replaces.push(...earlier.replaces);
    }
    if (from !== this.fresh) change.replaces.push(from.id);
  }
}

let scanMark = 0;

/**
 * The best matching cluster, and the nearest one (one constant token apart)
 * when none matches. Only clusters filed under one of the message's tokens
 * are looked at, so a bucket of thousands of templates costs a few Map
 * lookups; a template without words matches only its own text.
 */
function scanBucket(bucket: Bucket, tokens: readonly string[], text: string): { match: Cluster | null; nearest: Cluster | null } {
  const exact = bucket.byText.get(text);
  let match: Cluster | null = exact && !exact.worded ? exact : null;
  let nearest: Cluster | null = null;
  const n = tokens.length;
  const mark = ++scanMark;
  for (let p = 0; p < n; p++) {
    const list = bucket.index[p]?.get(tokens[p]!);
    if (!list) continue;
    for (const c of list) {
      if (c.seen === mark) continue;
      c.seen = mark;
      const t = c.tokens;
      let mismatches = 0;
      for (let i = 0; i < n; i++) {
        const x = t[i]!;
        if (x !== WILDCARD && x !== tokens[i] && ++mismatches > 1) break;
      }
      if (mismatches === 0) {
        if (!match || c.wildcards < match.wildcards || (c.wildcards === match.wildcards && c.template < match.template)) match = c;
      } else if (mismatches === 1 && !match) {
        if (!nearest || c.wildcards > nearest.wildcards || (c.wildcards === nearest.wildcards && c.template < nearest.template)) nearest = c;
      }
    }
  }
  return { match, nearest: match ? null : nearest };
}

/** The (at most two) constant positions with the longest tokens, earlier first on ties. */
function anchorPositions(tokens: readonly string[]): number[] {
  let first = -1;
  let second = -1;
  for (let p = 0; p < tokens.length; p++) {
    const t = tokens[p]!;
    if (t === WILDCARD) continue;
    if (first < 0 || t.length > tokens[first]!.length) {
      second = first;
      first = p;
    } else if (second < 0 || t.length > tokens[second]!.length) second = p;
  }
  return second < 0 ? [first] : [first, second];
}

/** Whether template `a` matches every message `b` matches (and is not `b`). */
function covers(a: readonly string[], b: readonly string[]): boolean {
  let differs = false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === b[i]) continue;
    if (a[i] !== WILDCARD) return false;
    differs = true;
  }
  return differs;
}

function contextWords(tokens: readonly string[], p: number): number {
  let words = 0;
  for (let i = 0; i < tokens.length; i++) {
    if (i === p) continue;
    const t = tokens[i]!;
    let letters = 0;
    for (let j = 0; j < t.length && letters < 2; j++) {
      const c = t.charCodeAt(j) | 0x20;
      if (c >= 97 && c <= 122) letters++;
    }
    if (letters >= 2) words++;
  }
  return words;
}

function equalBut(a: readonly string[], b: readonly string[], p: number): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (i !== p && a[i] !== b[i]) return false;
  return true;
}

/**
 * For each constant position p, a 53-bit hash of (length, p, every token but
 * the one at p): clusters with the same key at p are siblings at p. Two
 * independent 32-bit polynomial hashes; a collision is caught by equalBut.
 */
function siblingKeys(tokens: readonly string[]): number[] {
  const n = tokens.length;
  const ha = new Array<number>(n);
  const hb = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const t = tokens[i]!;
    let a = 0x811c9dc5;
    let b = 0x01000193 ^ i;
    for (let j = 0; j < t.length; j++) {
      const c = t.charCodeAt(j);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
    }
    ha[i] = Math.imul(a ^ i, 0x9e3779b1) >>> 0;
    hb[i] = Math.imul(b ^ (i * 0x85ebca6b), 0xc2b2ae35) >>> 0;
  }
  const keys = new Array<number>(n);
  for (let p = 0; p < n; p++) {
    if (tokens[p] === WILDCARD) {
      keys[p] = Number.NaN;
      continue;
    }
    let a = Math.imul(n, 0x27d4eb2f) ^ p;
    let b = Math.imul(p + 1, 0x165667b1) ^ n;
    for (let i = 0; i < n; i++) {
      if (i === p) continue;
      a = (Math.imul(a, 31) + ha[i]!) | 0;
      b = (Math.imul(b ^ hb[i]!, 0x85ebca6b) + (b >>> 13)) | 0;
    }
    keys[p] = (a >>> 0) * 0x200000 + ((b >>> 0) & 0x1fffff);
  }
  return keys;
}
