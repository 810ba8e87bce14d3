/**
 * Cluster mode of the ClickHouse migrations (docs/deploy.md): the single-node
 * statements of migrations/clickhouse/NNNN_*.sql, rendered for a self-hosted
 * cluster of shards and replicas named in the servers' `remote_servers`.
 *
 * Every migration is written once, for one server; this module rewrites each of
 * its statements mechanically, and refuses a statement it has no rule for
 * rather than guessing (a new kind of statement fails
 * test/node/clickhouse-cluster.test.ts until a rule is added here).
 *
 * - Every table the migrations create becomes `<name>_local`, created
 *   `ON CLUSTER` with the engine's Replicated form, one Keeper path per shard
 *   (`/clickhouse/tables/{shard}/{database}/{table}`, replica `{replica}`);
 *   ClickHouse expands `{database}` and `{table}` when the table is created, so
 *   a later RENAME (0003) keeps the path.
 * - In front of it, `<name>` is a `Distributed` table over the cluster, sharded
 *   by `cityHash64(TenantId)`: the workers' SQL (`INSERT INTO logs`,
 *   `SELECT … FROM logs`, `log_patterns`, `log_pattern_aliases`) is unchanged,
 *   a tenant's rows live on one shard, and a flush (one tenant's batch) reaches
 *   one shard as one block, so the deduplication token and ADR 0011's probe
 *   keep working per shard.
 * - `non_replicated_deduplication_window = N` becomes
 *   `replicated_deduplication_window = N` (the same window, kept in Keeper and
 *   shared by the replicas of a shard).
 * - ALTERs go to the local tables `ON CLUSTER` (a Distributed table has no
 *   indexes, projections, settings or mutations); an ALTER of columns is also
 *   applied to the Distributed table, whose columns must follow.
 * - RENAME renames the local tables and then points a Distributed table at each
 *   new name (CREATE OR REPLACE … AS the local table) and drops the Distributed
 *   tables whose local table is gone: a Distributed table names its local table,
 *   so it does not follow a rename by itself.
 * - DROP drops the Distributed table, then the local one, `SYNC` (the Keeper
 *   path is released at once, not after the Atomic database's delay).
 * - The resumable copy of a rebuild (0003: `INSERT INTO t SELECT * FROM old
 *   WHERE k NOT IN (SELECT k FROM t)`) runs shard by shard: through the
 *   Distributed tables with `parallel_distributed_insert_select = 2`, and the
 *   `NOT IN` reads the shard's own local table — a row goes back to the shard it
 *   came from (same sharding key), so the local check is exact.
 * - The bookkeeping tables (`schema_migrations`, `schema_migration_steps`) are
 *   replicated to every node of the cluster (one Keeper path for all shards),
 *   without a Distributed table: whichever node the migrator reaches reads the
 *   whole record.
 */

export interface ClusterTarget {
  /** A cluster of the servers' `remote_servers`. */
  cluster: string;
  /** The database the migrations run in (validated by the migrator). */
  database: string;
}

export const LOCAL_SUFFIX = '_local';
/** Rows of one tenant go to one shard (docs/deploy.md argues it against rand()). */
export const SHARDING_KEY = 'cityHash64(TenantId)';
export const REPLICA_PATH = '/clickhouse/tables/{shard}/{database}/{table}';
export const REPLICA_NAME = '{replica}';
/** The bookkeeping tables: one replicated table across every shard, so no `{shard}` in the path. */
export const BOOKKEEPING_REPLICA_PATH = '/clickhouse/tables/all/{database}/{table}';
/** Unique across the cluster even where replica macros repeat from shard to shard. */
export const BOOKKEEPING_REPLICA_NAME = '{shard}-{replica}';

const CLUSTER_RE = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
const IDENTIFIER = '[A-Za-z_][A-Za-z0-9_]*';

export class ClusterRenderError extends Error {
  override name = 'ClusterRenderError';
}

export function validateClusterName(cluster: string): void {
  if (!CLUSTER_RE.test(cluster)) throw new ClusterRenderError(`invalid ClickHouse cluster name: ${cluster}`);
}

function onCluster(target: ClusterTarget): string {
  return `ON CLUSTER '${target.cluster}'`;
}

function local(table: string): string {
  return `${table}${LOCAL_SUFFIX}`;
}

function distributedFront(table: string, target: ClusterTarget, modifier: 'IF NOT EXISTS' | 'OR REPLACE'): string {
  const head = modifier === 'OR REPLACE' ? `CREATE OR REPLACE TABLE ${table}` : `CREATE TABLE IF NOT EXISTS ${table}`;
  return (
    `${head} ${onCluster(target)} AS ${local(table)} ` + `ENGINE = Distributed('${target.cluster}', '${target.database}', '${local(table)}', ${SHARDING_KEY})`
  );
}

/** `CREATE DATABASE IF NOT EXISTS <db>` on every node. */
export function clusterCreateDatabase(target: ClusterTarget): string {
  return `CREATE DATABASE IF NOT EXISTS ${target.database} ${onCluster(target)}`;
}

/** The bookkeeping tables' DDL: the single-node statement, replicated to every node, no Distributed table. */
export function renderClusterBookkeeping(statement: string, target: ClusterTarget): string {
  const create = parseCreate(statement);
  return renderLocalCreate(create, create.table, target, BOOKKEEPING_REPLICA_PATH, BOOKKEEPING_REPLICA_NAME);
}

/** A replicated bookkeeping table a run reads first: catch up with what other nodes recorded. */
export function clusterSyncReplica(table: string): string {
  return `SYSTEM SYNC REPLICA ${table}`;
}

/** The cluster statements of a migration's single-node statements (migrate.ts `splitStatements`), in order. */
export function renderClusterStatements(statements: readonly string[], target: ClusterTarget): string[] {
  validateClusterName(target.cluster);
  return statements.flatMap((statement) => renderClusterStatement(statement, target));
}

export function renderClusterStatement(statement: string, target: ClusterTarget): string[] {
  const sql = statement.trim();
  if (/\bON\s+CLUSTER\b/i.test(sql)) throw new ClusterRenderError(`a migration names no cluster itself (the renderer adds it): ${head(sql)}`);
  if (/^CREATE\s+TABLE\b/i.test(sql)) return renderCreate(sql, target);
  if (/^ALTER\s+TABLE\b/i.test(sql)) return renderAlter(sql, target);
  if (/^RENAME\s+TABLE\b/i.test(sql)) return renderRename(sql, target);
  if (/^DROP\s+TABLE\b/i.test(sql)) return renderDrop(sql, target);
  if (/^INSERT\s+INTO\b/i.test(sql)) return renderCopy(sql);
  throw new ClusterRenderError(`no cluster rule for this statement (add one to migrations/clickhouse/cluster.ts): ${head(sql)}`);
}

function head(sql: string): string {
  const line = sql.split('\n')[0]!;
  return line.length > 120 ? `${line.slice(0, 120)}…` : line;
}

interface ParsedCreate {
  table: string;
  ifNotExists: boolean;
  /** From the column list's `(` to the end, with the engine replaced by a marker. */
  body: string;
  engine: string;
  engineArgs: string;
  columns: string;
}

const ENGINE_MARK = '\u0000ENGINE\u0000';

function parseCreate(sql: string): ParsedCreate {
  const m = new RegExp(`^CREATE\\s+TABLE\\s+(IF\\s+NOT\\s+EXISTS\\s+)?(${IDENTIFIER})\\s*(?=\\()`, 'i').exec(sql);
  if (!m) throw new ClusterRenderError(`no cluster rule for this CREATE TABLE (a column list after an unqualified name is expected): ${head(sql)}`);
  const open = m[0].length;
  const close = matchingParen(sql, open);
  const columns = sql.slice(open + 1, close);
  const rest = sql.slice(close + 1);
  const engine = /\bENGINE\s*=\s*([A-Za-z]+)/.exec(rest);
  if (!engine) throw new ClusterRenderError(`CREATE TABLE without an ENGINE: ${head(sql)}`);
  let end = engine.index + engine[0].length;
  let engineArgs = '';
  const args = /^\s*\(/.exec(rest.slice(end));
  if (args) {
    const argsClose = matchingParen(rest, end + args[0].length - 1);
    engineArgs = rest.slice(end + args[0].length, argsClose).trim();
    end = argsClose + 1;
  }
  const body = `${sql.slice(open, close + 1)}${rest.slice(0, engine.index)}${ENGINE_MARK}${rest.slice(end)}`;
  return { table: m[2]!, ifNotExists: m[1] !== undefined, body, engine: engine[1]!, engineArgs, columns };
}

function renderLocalCreate(create: ParsedCreate, name: string, target: ClusterTarget, path: string, replica: string): string {
  if (!/^[A-Za-z]*MergeTree$/.test(create.engine) || create.engine.startsWith('Replicated')) {
    throw new ClusterRenderError(`no cluster rule for engine ${create.engine} (MergeTree family only) in CREATE TABLE ${create.table}`);
  }
  const args = [`'${path}'`, `'${replica}'`, ...(create.engineArgs === '' ? [] : [create.engineArgs])].join(', ');
  const body = create.body
    .replace(ENGINE_MARK, `ENGINE = Replicated${create.engine}(${args})`)
    .replace(/\bnon_replicated_deduplication_window\b/g, 'replicated_deduplication_window');
  return `CREATE TABLE ${create.ifNotExists ? 'IF NOT EXISTS ' : ''}${name} ${onCluster(target)}\n${body}`;
}

function renderCreate(sql: string, target: ClusterTarget): string[] {
  const create = parseCreate(sql);
  if (!/^\s*TenantId\s/m.test(create.columns)) {
    throw new ClusterRenderError(`CREATE TABLE ${create.table} has no TenantId column to shard by: give it a cluster rule`);
  }
  return [
    renderLocalCreate(create, local(create.table), target, REPLICA_PATH, REPLICA_NAME),
    distributedFront(create.table, target, create.ifNotExists ? 'IF NOT EXISTS' : 'OR REPLACE'),
  ];
}

/** Commands that change the column list, which the Distributed table must follow. */
const COLUMN_COMMAND_RE = /^(ADD|DROP|MODIFY|RENAME|COMMENT)\s+COLUMN\b/i;

function renderAlter(sql: string, target: ClusterTarget): string[] {
  const m = new RegExp(`^ALTER\\s+TABLE\\s+(${IDENTIFIER})\\s+([\\s\\S]+)$`, 'i').exec(sql);
  if (!m) throw new ClusterRenderError(`no cluster rule for this ALTER (an unqualified table name is expected): ${head(sql)}`);
  const [, table, commands] = m as unknown as [string, string, string];
  const kinds = splitTopLevel(commands, ',').map((c) => COLUMN_COMMAND_RE.test(c.trim()));
  if (kinds.some((k) => k) && kinds.some((k) => !k)) {
    throw new ClusterRenderError(`an ALTER mixing column and other commands cannot be rendered for a cluster: split it (${head(sql)})`);
  }
  const statements = [`ALTER TABLE ${local(table)} ${onCluster(target)} ${commands}`];
  if (kinds.every((k) => k)) statements.push(`ALTER TABLE ${table} ${onCluster(target)} ${commands}`);
  return statements;
}

function renderRename(sql: string, target: ClusterTarget): string[] {
  const m = /^RENAME\s+TABLE\s+([\s\S]+)$/i.exec(sql)!;
  const pairs = splitTopLevel(m[1]!, ',').map((pair) => {
    const p = new RegExp(`^(${IDENTIFIER})\\s+TO\\s+(${IDENTIFIER})$`, 'i').exec(pair.trim());
    if (!p) throw new ClusterRenderError(`no cluster rule for this RENAME (unqualified \`a TO b\` pairs are expected): ${head(sql)}`);
    return { from: p[1]!, to: p[2]! };
  });
  const targets = new Set(pairs.map((p) => p.to));
  return [
    `RENAME TABLE ${pairs.map((p) => `${local(p.from)} TO ${local(p.to)}`).join(', ')} ${onCluster(target)}`,
    ...pairs.map((p) => distributedFront(p.to, target, 'OR REPLACE')),
    ...pairs.filter((p) => !targets.has(p.from)).map((p) => `DROP TABLE IF EXISTS ${p.from} ${onCluster(target)} SYNC`),
  ];
}

function renderDrop(sql: string, target: ClusterTarget): string[] {
  const m = new RegExp(`^DROP\\s+TABLE\\s+(IF\\s+EXISTS\\s+)?(${IDENTIFIER})$`, 'i').exec(sql);
  if (!m) throw new ClusterRenderError(`no cluster rule for this DROP (one unqualified table is expected): ${head(sql)}`);
  const ifExists = m[1] ? 'IF EXISTS ' : '';
  return [`DROP TABLE ${ifExists}${m[2]} ${onCluster(target)} SYNC`, `DROP TABLE ${ifExists}${local(m[2]!)} ${onCluster(target)} SYNC`];
}

/** The one INSERT the migrations use: a rebuild's resumable copy. */
function renderCopy(sql: string): string[] {
  const m = new RegExp(
    `^INSERT\\s+INTO\\s+(${IDENTIFIER})\\s+SELECT\\s+\\*\\s+FROM\\s+(${IDENTIFIER})\\s+WHERE\\s+(${IDENTIFIER})\\s+NOT\\s+IN\\s+\\(\\s*SELECT\\s+(${IDENTIFIER})\\s+FROM\\s+(${IDENTIFIER})\\s*\\)$`,
    'i',
  ).exec(sql);
  if (!m || m[3] !== m[4] || m[1] !== m[5]) {
    throw new ClusterRenderError(
      `no cluster rule for this INSERT (only the copy \`INSERT INTO t SELECT * FROM old WHERE k NOT IN (SELECT k FROM t)\`): ${head(sql)}`,
    );
  }
  const [, into, from, key] = m as unknown as [string, string, string, string];
  return [`INSERT INTO ${into} SELECT * FROM ${from} WHERE ${key} NOT IN (SELECT ${key} FROM ${local(into)}) SETTINGS parallel_distributed_insert_select = 2`];
}

/** Index of the `)` matching the `(` at `open`, outside quotes. */
function matchingParen(sql: string, open: number): number {
  let depth = 0;
  for (let i = open; i < sql.length; i++) {
    const c = sql[i];
    if (c === "'" || c === '`' || c === '"') i = skipQuoted(sql, i);
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  throw new ClusterRenderError(`unbalanced parentheses: ${head(sql)}`);
}

function skipQuoted(sql: string, start: number): number {
  const quote = sql[start];
  for (let i = start + 1; i < sql.length; i++) {
    if (sql[i] === '\\') i++;
    else if (sql[i] === quote) return i;
  }
  throw new ClusterRenderError(`unterminated quote: ${head(sql)}`);
}

/** Splits on `separator` outside parentheses and quotes. */
function splitTopLevel(text: string, separator: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "'" || c === '`' || c === '"') i = skipQuoted(text, i);
    else if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === separator && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}
