/**
 * The actor's pattern book: mines the template of every row it accepts
 * (shared/patterns/, ADR 0013), writes the row's PatternId, keeps the
 * templates in SQLite so a restart mines the same ids, and publishes new
 * templates and aliases to ClickHouse before the rows that use them are
 * flushed, so a stored row's pattern can always be looked up.
 *
 * Why here: patterns are learnt per tenant and service from the order records
 * arrive in, and the actor is where a tenant's records pass one at a time.
 * The worker sends each row's service and message beside its text
 * (Chunk.patternInputs), so the actor still never parses a row; its one edit
 * of a row is to fill in the PatternId the worker serialised empty, as the
 * line's last value (`…,""]` → `…,"<id>"]`; the worker reserved the room in
 * every size limit).
 *
 * Most rows never reach it: matching a message depends only on the set of
 * templates (shared/patterns/miner.ts), so the ingest worker labels every row
 * its copy of the current templates (`snapshot()`) matches, and seals them.
 * The actor mines only what the copy did not know — new messages, and
 * whatever arrives before the worker's copy catches up with `version`.
 */
import type { ClickHouseClient } from '@clickhouse/client-web';
import { logEvent } from '../../shared/logger.ts';
import { PatternMiner, type PatternChange } from '../../shared/patterns/miner.ts';
import { decodeStoredRow, type Chunk } from '../../shared/row-format.ts';

/** Chunks with their rows' PatternIds, and what mining them taught (stored with the batch). */
export interface Labelled {
  chunks: Chunk[];
  /** Ids rows got whose template this actor had not stored yet (`overflow`: past the miner's cap). */
  assigned: Map<string, { service: string; template: string; overflow: boolean }>;
  /** Templates created or generalised (with the ids they replace). */
  changes: PatternChange[];
}

/** What a row gets when mining it failed: no pattern, never a refused batch. */
const NO_PATTERN = '';
/**
 * Templates of records past the miner's cap (the masked message) the actor keeps for lookups. The
 * cap bounds the miner; this bounds what a flood of unique messages can add to the actor's storage.
 */
export const MAX_OVERFLOW_TEMPLATES = 20_000;
const EMPTY_LAST_VALUE = ',""]';

export class PatternBook {
  readonly #sql: SqlStorage;
  /** Restored on first use: an actor that only answers limits or flushes never pays for it. */
  #miner: PatternMiner | null = null;
  /** The template of every id this actor has mined (for live tail's answers). */
  readonly #templates = new Map<string, string>();
  /** Templates of records past the miner's cap kept so far (restored as a count). */
  #overflowKept = 0;
  /** Batches that taught something, counted; and how many of them ClickHouse holds. */
  #learnt = 0;
  #published = 0;
  /** Names this actor's run: a version from before a restart never matches one after it. */
  readonly #run = crypto.randomUUID().slice(0, 8);
  /** Changes to the set of current templates in this run. */
  #changes = 0;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    // Learnt before a restart and not published yet.
    const row = this.#sql
      .exec<{ n: number }>('SELECT (SELECT count(*) FROM patterns WHERE published = 0) + (SELECT count(*) FROM pattern_aliases WHERE published = 0) AS n')
      .one();
    if (row.n > 0) this.#learnt = 1;
  }

  /** What has been learnt so far, as a mark `published` can be compared with. */
  get learnt(): number {
    return this.#learnt;
  }

  /** Up to which mark of `learnt` ClickHouse holds the templates and aliases. */
  get published(): number {
    return this.#published;
  }

  /**
   * The chunks with each row's PatternId written in. Learns from them; what it
   * learnt is returned for `record` to store in the batch's transaction (a
   * batch refused later teaches nothing durable).
   */
  label(chunks: readonly Chunk[]): Labelled {
    const miner = this.#restore();
    // Every id a row gets has its template stored (one superseded within the batch too).
    const assigned = new Map<string, { service: string; template: string; overflow: boolean }>();
    const assign = (service: string, message: string): string => {
      const { patternId, template, overflow } = miner.assign(service, message);
      if (!this.#templates.has(patternId) && !assigned.has(patternId)) {
        // Past the miner's cap the template is the masked message: kept for lookups (not restored),
        // up to MAX_OVERFLOW_TEMPLATES; beyond, the id stays (a pure function) but its text is not kept.
        if (overflow && this.#overflowKept >= MAX_OVERFLOW_TEMPLATES) return patternId;
        if (overflow) this.#overflowKept++;
        assigned.set(patternId, { service, template, overflow: overflow === true });
      }
      return patternId;
    };
    const labelled = chunks.map((chunk) => {
      const lines = chunk.text.split('\n');
      lines.pop(); // the text ends in a newline
      const inputs = chunk.patternInputs;
      let added = 0;
      for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        if (!line.endsWith(EMPTY_LAST_VALUE)) continue; // not a row of this release's worker: left as it is
        let id = NO_PATTERN;
        try {
          if (inputs) id = assign(inputs[2 * i]!, inputs[2 * i + 1]!);
          else {
            const row = decodeStoredRow(line); // a chunk from a worker of an older release: the row's own text says what to mine
            id = assign(row.ServiceName, row.Body);
          }
        } catch (err) {
          logEvent('error', 'patterns.mining_failed', { error: (err as Error).message });
        }
        if (id === NO_PATTERN) continue;
        lines[i] = `${line.slice(0, -2)}${id}"]`;
        added += id.length;
      }
      return { text: `${lines.join('\n')}\n`, rows: chunk.rows, bytes: chunk.bytes + added };
    });
    const changes = miner.takeChanges();
    for (const [id, { template }] of assigned) this.#templates.set(id, template);
    for (const change of changes) this.#templates.set(change.patternId, change.template);
    return { chunks: labelled, assigned, changes };
  }

  /** Names the current set of templates: it changes whenever the set does. */
  get version(): string {
    return `${this.#run}.${this.#changes}`;
  }

  /** The current templates (what the miner matches against), under their version. */
  snapshot(): { version: string; templates: { service: string; template: string }[] } {
    const version = this.version;
    const templates = this.#sql.exec<{ service: string; template: string }>('SELECT service, template FROM patterns WHERE current = 1').toArray();
    return { version, templates };
  }

  /** Stores what `label` learnt (call inside the batch's transaction). */
  record({ assigned, changes }: Labelled, now: number): void {
    if (changes.length > 0 || assigned.size > 0) this.#learnt++;
    if (changes.length > 0 || [...assigned.values()].some((a) => !a.overflow)) this.#changes++;
    for (const [id, { service, template, overflow }] of assigned) {
      this.#sql.exec(
        'INSERT OR IGNORE INTO patterns (pattern_id, service, template, first_seen, current, published) VALUES (?, ?, ?, ?, ?, 0)',
        id,
        service,
        template,
        now,
        overflow ? 0 : 1,
      );
    }
    for (const change of changes) {
      this.#sql.exec(
        'INSERT INTO patterns (pattern_id, service, template, first_seen, current, published) VALUES (?, ?, ?, ?, 1, 0) ON CONFLICT (pattern_id) DO UPDATE SET current = 1, published = 0',
        change.patternId,
        change.service,
        change.template,
        now,
      );
      for (const old of change.replaces) {
        if (old === change.patternId) continue;
        this.#sql.exec('UPDATE patterns SET current = 0 WHERE pattern_id = ?', old);
        this.#sql.exec('INSERT OR IGNORE INTO pattern_aliases (from_id, to_id, at, published) VALUES (?, ?, ?, 0)', old, change.patternId, now);
      }
    }
  }

  /** Templates of the given ids, as far as this actor knows them. */
  templatesOf(ids: Iterable<string>): [string, string][] {
    this.#restore();
    const found: [string, string][] = [];
    for (const id of new Set(ids)) {
      const template = this.#templates.get(id);
      if (template !== undefined) found.push([id, template]);
    }
    return found;
  }

  /**
   * Writes templates and aliases not yet in ClickHouse. Idempotent: a row's
   * content is a function of its key, so writing it twice leaves one.
   */
  async publish(clickhouse: ClickHouseClient, tenantId: string): Promise<void> {
    const upTo = this.#learnt;
    const patterns = this.#sql
      .exec<{ pattern_id: string; service: string; template: string; first_seen: number }>(
        'SELECT pattern_id, service, template, first_seen FROM patterns WHERE published = 0',
      )
      .toArray();
    const aliases = this.#sql
      .exec<{ from_id: string; to_id: string; at: number }>('SELECT from_id, to_id, at FROM pattern_aliases WHERE published = 0')
      .toArray();
    if (patterns.length > 0) {
      await clickhouse.insert({
        table: 'log_patterns',
        format: 'JSONEachRow',
        values: patterns.map((p) => ({ TenantId: tenantId, PatternId: p.pattern_id, ServiceName: p.service, Template: p.template, FirstSeen: p.first_seen })),
      });
    }
    if (aliases.length > 0) {
      await clickhouse.insert({
        table: 'log_pattern_aliases',
        format: 'JSONEachRow',
        values: aliases.map((a) => ({ TenantId: tenantId, FromId: a.from_id, ToId: a.to_id, At: a.at })),
      });
    }
    // Only what was read is marked: a template learnt while the inserts ran is published next time.
    for (const p of patterns) this.#sql.exec('UPDATE patterns SET published = 1 WHERE pattern_id = ?', p.pattern_id);
    for (const a of aliases) this.#sql.exec('UPDATE pattern_aliases SET published = 1 WHERE from_id = ? AND to_id = ?', a.from_id, a.to_id);
    this.#published = Math.max(this.#published, upTo);
  }

  #restore(): PatternMiner {
    if (this.#miner) return this.#miner;
    const rows = this.#sql.exec<{ pattern_id: string; service: string; template: string; current: number }>(
      'SELECT pattern_id, service, template, current FROM patterns',
    );
    const current: { service: string; template: string }[] = [];
    for (const row of rows) {
      this.#templates.set(row.pattern_id, row.template);
      if (row.current === 1) current.push({ service: row.service, template: row.template });
      else this.#overflowKept++; // overflow and replaced templates alike: an upper bound, which is what the cap needs
    }
    this.#miner = PatternMiner.restore(current);
    return this.#miner;
  }
}

/** The SQLite tables of the pattern book (tenant-actor/schema.ts, version 3). */
export const PATTERN_TABLES_V3 = `
  CREATE TABLE patterns (
    pattern_id TEXT    PRIMARY KEY,
    service    TEXT    NOT NULL,
    template   TEXT    NOT NULL,
    first_seen INTEGER NOT NULL,
    current    INTEGER NOT NULL,
    published  INTEGER NOT NULL
  );
  CREATE INDEX patterns_unpublished ON patterns (published) WHERE published = 0;
  CREATE TABLE pattern_aliases (
    from_id   TEXT    NOT NULL,
    to_id     TEXT    NOT NULL,
    at        INTEGER NOT NULL,
    published INTEGER NOT NULL,
    PRIMARY KEY (from_id, to_id)
  );
`;
