/**
 * Configuration: every knob, its default and its meaning, in one table.
 *
 * Workers read it from their bindings (wrangler.toml `[vars]`, secrets, or the
 * process environment under `npm start`); the README's configuration table is
 * checked against this list by a test, so the two cannot drift apart.
 */

export interface VariableSpec {
  default: string;
  doc: string;
  secret?: boolean;
  /** Which components read it. */
  usedBy: string;
}

export const CONFIG_VARIABLES = {
  CLICKHOUSE_URL: {
    default: 'http://127.0.0.1:8123',
    doc: 'ClickHouse HTTP endpoint. Unset under `npm start`: the embedded chDB endpoint is started on this address.',
    usedBy: 'actor, query, npm start',
  },
  CLICKHOUSE_USER: { default: 'default', doc: 'ClickHouse user.', usedBy: 'actor, query, npm start' },
  CLICKHOUSE_PASSWORD: { default: '', doc: 'ClickHouse password.', secret: true, usedBy: 'actor, query, npm start' },
  CLICKHOUSE_DATABASE: { default: 'neurallog', doc: 'Database holding the `logs` table.', usedBy: 'actor, query, npm start' },
  NEURALLOG_DEV_API_KEY: {
    default: '',
    doc: 'API key `npm start` provisions for the dev tenant (an `nlk_` key); it generates one (kept in `.neurallog/dev-api-key`) when unset.',
    secret: true,
    usedBy: 'npm start',
  },
  NEURALLOG_DEV_TENANT: { default: 'dev', doc: 'Tenant `npm start` provisions for the dev key.', usedBy: 'npm start' },
  NEURALLOG_SELF_LOGS: {
    default: '0',
    doc: "`1` ships the platform's own structured logs (every worker's and Durable Object's console output, exceptions and failed invocations) into the platform tenant, through the `neurallog-platform-logs` tail worker (docs/operations.md, Self-logging). `npm start` turns it on unless set to `0`; production configs leave it off until an operator sets it.",
    usedBy: 'platform-logs, npm start',
  },
  NEURALLOG_PLATFORM_TENANT: {
    default: 'platform',
    doc: "The tenant the platform's own logs are shipped into (an ordinary tenant: its plan's limits and retention apply). `npm start` provisions it (plan starter) with a key that reads and sets alerts but cannot write, kept in `.neurallog/platform-api-key`.",
    usedBy: 'platform-logs, npm start',
  },
  NEURALLOG_PLATFORM_ADMIN_TOKEN: {
    default: '',
    doc: "The platform operator's credential for the admin API (≥ 32 characters; manages every tenant). `npm start` generates one into `.neurallog/platform-admin-token` when unset.",
    secret: true,
    usedBy: 'admin, npm start',
  },
  NEURALLOG_KEY_CACHE_TTL_MS: {
    default: '30000',
    doc: 'How long a worker isolate trusts what it read of an API key, tenant or session: the longest a revoked key keeps working. From half this age an entry is re-read from D1 in the background (shared/refresh-ahead-cache.ts).',
    usedBy: 'ingest, query',
  },
  NEURALLOG_JWT_ISSUER: {
    default: '',
    doc: 'Issuer (`iss`) JWTs must carry. JWTs are refused unless this, the audience and a key source are set.',
    usedBy: 'ingest, query',
  },
  NEURALLOG_JWT_AUDIENCE: { default: '', doc: 'Audience (`aud`) JWTs must carry.', usedBy: 'ingest, query' },
  NEURALLOG_JWT_JWKS_URL: { default: '', doc: 'JWKS URL of the identity provider; tokens are then RS256 or ES256 only.', usedBy: 'ingest, query' },
  NEURALLOG_JWT_SECRET: {
    default: '',
    doc: 'Shared HS256 secret (self-hosting), used when no JWKS URL is set; tokens are then HS256 only.',
    secret: true,
    usedBy: 'ingest, query',
  },
  NEURALLOG_JWT_CLOCK_TOLERANCE_S: { default: '30', doc: 'Clock skew allowed on `exp` / `nbf` (seconds).', usedBy: 'ingest, query' },
  NEURALLOG_SESSION_SECRET: {
    default: '',
    doc: "Signs the explorer's session cookies (HS256; ≥ 32 characters, not the JWT secret). Required by every worker that authenticates; `npm start` generates one into `.neurallog/session-secret` when unset. Changing it ends every session.",
    secret: true,
    usedBy: 'ingest, query, admin, npm start',
  },
  NEURALLOG_SECRETS_KEY: {
    default: '',
    doc: 'Root key that encrypts the secrets of alert notification targets at rest (webhook signing secrets, Slack URLs, PagerDuty routing keys; AES-256-GCM, shared/secret-box.ts); ≥ 32 characters, not the JWT secret. When unset, NEURALLOG_SESSION_SECRET is used instead — and rotating the session secret then makes every stored target secret unreadable, so production should set this one. Changing it needs the stored secrets sealed again with the new key.',
    secret: true,
    usedBy: 'ingest',
  },
  NEURALLOG_ALERTS_ALLOW_LOOPBACK: {
    default: '0',
    doc: '`1` lets alert targets be `http://` URLs and loopback hosts (127.0.0.0/8, ::1, `localhost`), for local stacks and tests (`npm start` sets it); `0`: production rules, `https://` to public hosts only. Private and metadata addresses are refused either way.',
    usedBy: 'ingest',
  },
  NEURALLOG_ALERT_EVALUATION_DELAY_S: {
    default: '10',
    doc: "How far behind now a scheduled alert evaluation's window ends (seconds), so records still in the actors' buffers or sent late are counted; the fast path covers the newest seconds for threshold rules.",
    usedBy: 'ingest',
  },
  NEURALLOG_ALERTMANAGER_REPOST_S: {
    default: '60',
    doc: "How often alerts still firing are posted again to Alertmanager targets (seconds); keep it well under the Alertmanagers' `resolve_timeout` (5 min by default), which ends an alert not re-posted.",
    usedBy: 'ingest',
  },
  NEURALLOG_MAIL_API_URL: {
    default: 'https://api.resend.com/emails',
    doc: "The HTTP mail API email alert targets are sent through (Resend's `POST /emails` shape).",
    usedBy: 'ingest',
  },
  NEURALLOG_MAIL_FROM: {
    default: '',
    doc: 'Sender of alert emails (`NeuralLog <alerts@example.com>`, a domain verified with the mail API); email targets are refused delivery while unset.',
    usedBy: 'ingest',
  },
  NEURALLOG_MAIL_API_KEY: {
    default: '',
    doc: "The mail API's key (a secret, optional: without it email targets cannot be delivered and say so in the alert history).",
    secret: true,
    usedBy: 'ingest',
  },
  NEURALLOG_SESSION_TTL_S: {
    default: '28800',
    doc: 'How long a session (`POST /v1/session`) lasts (seconds); never longer than the credential it was opened with.',
    usedBy: 'admin',
  },
  NEURALLOG_MAX_REQUEST_BYTES: {
    default: '10485760',
    doc: 'Largest request body, counted after decompression (bytes). Larger: 413.',
    usedBy: 'ingest',
  },
  NEURALLOG_MAX_RECORDS_PER_REQUEST: { default: '10000', doc: 'Most records in one request. More: 413.', usedBy: 'ingest' },
  NEURALLOG_MAX_RECORD_BYTES: {
    default: '262144',
    doc: 'Largest single record, as stored (bytes). Larger: 413 naming the record.',
    usedBy: 'ingest',
  },
  NEURALLOG_RETENTION_DAYS: { default: '30', doc: "Retention of the dev tenant's rows (days); other tenants have their own.", usedBy: 'npm start' },
  NEURALLOG_BUFFER_MAX_ROWS: {
    default: '5000000',
    doc: 'Most rows one actor buffers while ClickHouse or R2 is away; past it, 503 `buffer_full` with Retry-After.',
    usedBy: 'actor',
  },
  NEURALLOG_BUFFER_MAX_BYTES: { default: '2147483648', doc: 'Most bytes one actor buffers (same 503 past it).', usedBy: 'actor' },
  NEURALLOG_FLUSH_MAX_ROWS: { default: '10000', doc: 'The actor flushes once this many rows are buffered…', usedBy: 'actor' },
  NEURALLOG_FLUSH_MAX_BYTES: { default: '8388608', doc: '…or this many bytes…', usedBy: 'actor' },
  NEURALLOG_FLUSH_MAX_AGE_MS: {
    default: '1000',
    doc: '…or when the oldest buffered row is this old (ms), if at least NEURALLOG_FLUSH_MIN_ROWS rows are buffered.',
    usedBy: 'actor',
  },
  NEURALLOG_FLUSH_MIN_ROWS: {
    default: '1',
    doc: 'Fewer buffered rows than this wait past NEURALLOG_FLUSH_MAX_AGE_MS, up to NEURALLOG_FLUSH_SLOW_MAX_AGE_MS, so slow tenants make fewer, larger inserts (docs/capacity.md, "Many tenants"); 1: every flush at the maximum age.',
    usedBy: 'actor',
  },
  NEURALLOG_FLUSH_SLOW_MAX_AGE_MS: {
    default: '10000',
    doc: 'How long (ms) fewer than NEURALLOG_FLUSH_MIN_ROWS rows may wait. Keep it under NEURALLOG_ALERT_EVALUATION_DELAY_S and NEURALLOG_QUERY_CACHE_HORIZON_MS.',
    usedBy: 'actor',
  },
  NEURALLOG_FLUSH_BATCH_MAX_ROWS: {
    default: '100000',
    doc: 'Most rows in one ClickHouse insert; a backlog drains in inserts this big, not in more of them.',
    usedBy: 'actor',
  },
  NEURALLOG_FLUSH_BATCH_MAX_BYTES: { default: '16777216', doc: 'Most bytes in one ClickHouse insert / R2 object.', usedBy: 'actor' },
  NEURALLOG_FLUSH_CONCURRENCY: {
    default: '2',
    doc: 'Flushes one actor keeps in flight, so that preparing the next overlaps the current ClickHouse insert.',
    usedBy: 'actor',
  },
  NEURALLOG_FLUSH_RETRY_BASE_MS: { default: '1000', doc: 'First retry delay after a failed flush (doubles each time).', usedBy: 'actor' },
  NEURALLOG_FLUSH_RETRY_MAX_MS: { default: '60000', doc: 'Longest retry delay after failed flushes.', usedBy: 'actor' },
  NEURALLOG_TAIL_MAX_RECORDS_PER_S: {
    default: '1000',
    doc: 'Records one live-tail socket may receive per second; past it records are dropped for that socket and it is told how many.',
    usedBy: 'actor',
  },
  NEURALLOG_QUERY_CACHE_HORIZON_MS: {
    default: '60000',
    doc: 'Searches whose range ends at least this long ago (ms) are answered from the edge cache; newer ranges bypass it. Keep it above the flush age plus a retry or two.',
    usedBy: 'query',
  },
  NEURALLOG_QUERY_CACHE_TTL_S: {
    default: '300',
    doc: 'How long a cached search result is kept (s): the longest a record that arrives late (its timestamp already past the horizon) stays out of a cached answer.',
    usedBy: 'query',
  },
  NEURALLOG_SEARCH_MAX_BYTES: {
    default: '8388608',
    doc: "Most bytes of rows (their JSON as ClickHouse sends it) one search page or context answer holds, so that 1,000 large records never fill an isolate's memory; past it the answer ends early with `truncated: true` and a cursor that goes on from its last row.",
    usedBy: 'query',
  },
  NEURALLOG_EXPORT_MAX_ROWS: {
    default: '1000000',
    doc: 'Most records one export (`GET /v1/logs/export`) streams; an NDJSON export cut there ends with a line saying so.',
    usedBy: 'query',
  },
  NEURALLOG_METRICS_REPORT_MS: {
    default: '5000',
    doc: "How often (at most) each isolate sends its platform metrics — counters and histograms summed in memory, the actors' buffer state — to the PlatformMetrics aggregator behind `/metrics` and `GET /v1/admin/platform/metrics` (docs/operations.md); `0` sends none (Analytics Engine data points are written either way when its binding exists).",
    usedBy: 'ingest, query, admin, actor',
  },
  NEURALLOG_METRICS_OPEN: {
    default: '0',
    doc: '`1` serves `GET /metrics` (Prometheus text) without a credential, for a local Prometheus (`npm start` sets it; the stack listens on 127.0.0.1 only); `0`: the platform-admin token as a Bearer credential.',
    usedBy: 'admin, npm start',
  },
} as const satisfies Record<string, VariableSpec>;

export type ConfigVariable = keyof typeof CONFIG_VARIABLES;

/** The bindings every worker may carry (all strings, as vars and secrets are). */
export type ConfigBindings = { [K in ConfigVariable]?: string };

export interface ClickHouseConfig {
  url: string;
  username: string;
  password: string;
  database: string;
}

export interface IngestLimits {
  maxRequestBytes: number;
  maxRecordsPerRequest: number;
  maxRecordBytes: number;
}

export interface FlushPolicy {
  /** Backpressure: the buffer's caps. */
  bufferMaxRows: number;
  bufferMaxBytes: number;
  maxRows: number;
  maxBytes: number;
  maxAgeMs: number;
  /** Small flushes wait (durable-objects/tenant-actor/flush-scheduler.ts). */
  minRows: number;
  slowMaxAgeMs: number;
  batchMaxRows: number;
  batchMaxBytes: number;
  concurrency: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

export interface JwtConfig {
  issuer: string;
  audience: string;
  jwksUrl: string;
  secret: string;
  clockToleranceSeconds: number;
}

export interface Config {
  clickhouse: ClickHouseConfig;
  /** Null when JWTs are not configured (then every JWT is refused). */
  jwt: JwtConfig | null;
  keyCacheTtlMs: number;
  limits: IngestLimits;
  flush: FlushPolicy;
  queryCache: { horizonMs: number; ttlSeconds: number };
  /** Most bytes of row JSON one search page or context answer holds. */
  searchMaxBytes: number;
  tailMaxRecordsPerSecond: number;
  /** The explorer's sessions: the cookie's signing secret (null when unset: read it through sessionSecret) and how long a session lasts. */
  session: { secret: string | null; ttlSeconds: number };
  /** Most records one export streams. */
  exportMaxRows: number;
  /** NEURALLOG_SECRETS_KEY, or null when unset: read the key through secretsKey, which falls back to the session secret. */
  secrets: { key: string | null };
  /** Platform metrics: how often isolates report to the aggregator (0: never), and whether /metrics needs no credential. */
  metrics: { reportIntervalMs: number; open: boolean };
  /** Self-logging: whether the tail worker ships the platform's logs, and into which tenant. */
  selfLogs: { enabled: boolean; tenant: string };
  /** Alerting: whether targets may be http:// and loopback URLs (local stacks and tests only). */
  alerts: {
    allowLoopback: boolean;
    evaluationDelayMs: number;
    alertmanagerRepostMs: number;
    /** The deployment's mail API for email targets; null when no key or sender is configured. */
    mail: { url: string; apiKey: string; from: string } | null;
  };
}

export class ConfigError extends Error {}

const cache = new WeakMap<object, Config>();

export function loadConfig(env: ConfigBindings): Config {
  const cached = cache.get(env);
  if (cached) return cached;
  const get = (name: ConfigVariable): string => env[name] ?? CONFIG_VARIABLES[name].default;
  const int = (name: ConfigVariable, min = 1): number => {
    const raw = get(name);
    const value = Number(raw);
    if (!Number.isSafeInteger(value) || value < min) {
      throw new ConfigError(`${name} must be an integer ≥ ${min}, got "${raw}"`);
    }
    return value;
  };
  const flag = (name: ConfigVariable): boolean => {
    const raw = get(name);
    if (raw === '1' || raw === 'true') return true;
    if (raw === '0' || raw === 'false' || raw === '') return false;
    throw new ConfigError(`${name} must be "1" or "0", got "${raw}"`);
  };
  const database = get('CLICKHOUSE_DATABASE');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(database)) throw new ConfigError(`CLICKHOUSE_DATABASE is not a valid identifier: "${database}"`);
  const config: Config = {
    clickhouse: {
      url: get('CLICKHOUSE_URL'),
      username: get('CLICKHOUSE_USER'),
      password: get('CLICKHOUSE_PASSWORD'),
      database,
    },
    keyCacheTtlMs: int('NEURALLOG_KEY_CACHE_TTL_MS', 0),
    jwt:
      get('NEURALLOG_JWT_ISSUER') && get('NEURALLOG_JWT_AUDIENCE') && (get('NEURALLOG_JWT_JWKS_URL') || get('NEURALLOG_JWT_SECRET'))
        ? {
            issuer: get('NEURALLOG_JWT_ISSUER'),
            audience: get('NEURALLOG_JWT_AUDIENCE'),
            jwksUrl: get('NEURALLOG_JWT_JWKS_URL'),
            secret: get('NEURALLOG_JWT_SECRET'),
            clockToleranceSeconds: int('NEURALLOG_JWT_CLOCK_TOLERANCE_S', 0),
          }
        : null,
    limits: {
      maxRequestBytes: int('NEURALLOG_MAX_REQUEST_BYTES'),
      maxRecordsPerRequest: int('NEURALLOG_MAX_RECORDS_PER_REQUEST'),
      maxRecordBytes: int('NEURALLOG_MAX_RECORD_BYTES'),
    },
    flush: {
      bufferMaxRows: int('NEURALLOG_BUFFER_MAX_ROWS'),
      bufferMaxBytes: int('NEURALLOG_BUFFER_MAX_BYTES'),
      maxRows: int('NEURALLOG_FLUSH_MAX_ROWS'),
      maxBytes: int('NEURALLOG_FLUSH_MAX_BYTES'),
      maxAgeMs: int('NEURALLOG_FLUSH_MAX_AGE_MS'),
      minRows: int('NEURALLOG_FLUSH_MIN_ROWS'),
      slowMaxAgeMs: int('NEURALLOG_FLUSH_SLOW_MAX_AGE_MS'),
      batchMaxRows: int('NEURALLOG_FLUSH_BATCH_MAX_ROWS'),
      batchMaxBytes: int('NEURALLOG_FLUSH_BATCH_MAX_BYTES'),
      concurrency: int('NEURALLOG_FLUSH_CONCURRENCY'),
      retryBaseMs: int('NEURALLOG_FLUSH_RETRY_BASE_MS'),
      retryMaxMs: int('NEURALLOG_FLUSH_RETRY_MAX_MS'),
    },
    queryCache: { horizonMs: int('NEURALLOG_QUERY_CACHE_HORIZON_MS', 0), ttlSeconds: int('NEURALLOG_QUERY_CACHE_TTL_S') },
    searchMaxBytes: int('NEURALLOG_SEARCH_MAX_BYTES'),
    tailMaxRecordsPerSecond: int('NEURALLOG_TAIL_MAX_RECORDS_PER_S'),
    session: { secret: checkSessionSecret(get('NEURALLOG_SESSION_SECRET'), get('NEURALLOG_JWT_SECRET')), ttlSeconds: int('NEURALLOG_SESSION_TTL_S', 60) },
    exportMaxRows: int('NEURALLOG_EXPORT_MAX_ROWS'),
    secrets: { key: checkSecretsKey(get('NEURALLOG_SECRETS_KEY'), get('NEURALLOG_JWT_SECRET')) },
    metrics: { reportIntervalMs: int('NEURALLOG_METRICS_REPORT_MS', 0), open: flag('NEURALLOG_METRICS_OPEN') },
    selfLogs: { enabled: flag('NEURALLOG_SELF_LOGS'), tenant: checkTenantId('NEURALLOG_PLATFORM_TENANT', get('NEURALLOG_PLATFORM_TENANT')) },
    alerts: {
      allowLoopback: flag('NEURALLOG_ALERTS_ALLOW_LOOPBACK'),
      evaluationDelayMs: int('NEURALLOG_ALERT_EVALUATION_DELAY_S', 0) * 1000,
      alertmanagerRepostMs: int('NEURALLOG_ALERTMANAGER_REPOST_S', 1) * 1000,
      mail:
        get('NEURALLOG_MAIL_API_KEY') !== '' && get('NEURALLOG_MAIL_FROM') !== ''
          ? { url: get('NEURALLOG_MAIL_API_URL'), apiKey: get('NEURALLOG_MAIL_API_KEY'), from: get('NEURALLOG_MAIL_FROM') }
          : null,
    },
  };
  cache.set(env, config);
  return config;
}

function checkTenantId(name: ConfigVariable, id: string): string {
  if (!isValidTenantId(id)) throw new ConfigError(`${name} is not a valid tenant id (a-z, 0-9, -; at most 63): "${id}"`);
  return id;
}

/**
 * The session secret, when set: at least 32 characters, and not the tenants'
 * HS256 JWT secret, or a session token and a tenant's JWT could be taken for
 * one another. A worker without it still takes Bearer credentials (its
 * wrangler.toml lists it under [secrets] required, so a deploy cannot miss it).
 */
function checkSessionSecret(secret: string, jwtSecret: string): string | null {
  if (secret === '') return null;
  if (secret.length < 32) throw new ConfigError('NEURALLOG_SESSION_SECRET must be at least 32 characters (it signs the session cookies)');
  if (secret === jwtSecret) throw new ConfigError('NEURALLOG_SESSION_SECRET must differ from NEURALLOG_JWT_SECRET');
  return secret;
}

/** The secret that signs and checks session cookies; a worker asked to use a session without one is misconfigured. */
export function sessionSecret(config: Config): string {
  if (config.session.secret === null) throw new ConfigError('NEURALLOG_SESSION_SECRET is not set: sessions (the session cookie, POST /v1/session) need it');
  return config.session.secret;
}

/**
 * NEURALLOG_SECRETS_KEY, when set: at least 32 characters, and not the HS256
 * JWT secret (whoever mints JWTs with it could then open the stored secrets).
 */
function checkSecretsKey(key: string, jwtSecret: string): string | null {
  if (key === '') return null;
  if (key.length < 32) throw new ConfigError('NEURALLOG_SECRETS_KEY must be at least 32 characters (it encrypts the secrets of alert targets)');
  if (key === jwtSecret) throw new ConfigError('NEURALLOG_SECRETS_KEY must differ from NEURALLOG_JWT_SECRET');
  return key;
}

/**
 * The root secret that seals the secrets of alert targets (shared/secret-box.ts):
 * NEURALLOG_SECRETS_KEY, else NEURALLOG_SESSION_SECRET. With the fallback,
 * rotating the session secret (to end every session) also makes every stored
 * target secret unreadable; a deployment that sets NEURALLOG_SECRETS_KEY keeps
 * the two apart. Switching from the fallback to a key of its own is a rotation
 * too: the stored secrets must be sealed again.
 */
export function secretsKey(config: Config): string {
  const key = config.secrets.key ?? config.session.secret;
  if (key === null) throw new ConfigError('neither NEURALLOG_SECRETS_KEY nor NEURALLOG_SESSION_SECRET is set: the secrets of alert targets need one of them');
  return key;
}

/**
 * Tenant ids appear in R2 keys, Durable Object names and logs: lowercase
 * letters, digits and dashes, starting with a letter or digit, at most 63
 * characters (a DNS label, so a namespace can be named after it later).
 */
export function isValidTenantId(id: string): boolean {
  return /^[a-z0-9][a-z0-9-]{0,62}$/.test(id);
}
