/**
 * TailHub — live tail for one tenant: the Durable Object that holds the
 * tenant's tail WebSockets and fans accepted records out to them.
 *
 * - Clients connect through GET /v1/tail?q=… (workers/ingest/routes/tail.ts);
 *   the hub accepts the socket with the hibernation API, so an idle tail costs
 *   no memory or duration: each socket's query travels in its attachment and
 *   its matcher is rebuilt after a wake-up.
 * - While it has sockets, the hub keeps the tenant's actors (every shard)
 *   publishing: it tells each one "tail until T", and renews that from its
 *   alarm. An actor publishes a batch here only after it stored it, and only
 *   while told to — so without tail clients ingest pays nothing.
 * - Each record is matched with the query language's in-memory evaluator (the
 *   same meaning as search) and sent as JSON, before it reaches ClickHouse.
 * - Slow or flooded clients: a Worker cannot see a socket's send buffer, so
 *   each socket gets a budget (NEURALLOG_TAIL_MAX_RECORDS_PER_S, a token
 *   bucket). Records past it are dropped for that socket, and the client is
 *   told `{"type":"dropped","count":N}` — memory stays bounded
 *   whatever the volume.
 * - Loki's tail (GET /loki/api/v1/tail, workers/ingest/routes/loki-tail.ts)
 *   is a second kind of socket: its LogQL travels as text in the attachment,
 *   records are matched by shared/logql's evaluator and sent as Loki's frames
 *   (shared/logql/tail.ts), the records its budget drops listed in
 *   `dropped_entries`. Same budget, same leases.
 */
import { DurableObject } from 'cloudflare:workers';
import { loadConfig, type ConfigBindings } from '../shared/config.ts';
import { toLogView } from '../shared/log-record.ts';
import { decodeStoredRow } from '../shared/row-format.ts';
import type { QueryNode } from '../shared/query-language/ast.ts';
import { compileMatcher, type MatchableRecord } from '../shared/query-language/evaluate.ts';
import { QuerySyntaxError } from '../shared/query-language/parse.ts';
import { logEvent } from '../shared/logger.ts';
import { LogqlError } from '../shared/logql/ast.ts';
import type { EvalRow } from '../shared/logql/evaluate.ts';
import { compileTailQuery, tailFrames, type TailQuery, toTailRow } from '../shared/logql/tail.ts';
import { shardName } from '../shared/sharding.ts';
import type { TenantActor } from './tenant-actor.ts';

export interface TailHubEnv extends ConfigBindings {
  TENANT_ACTOR: DurableObjectNamespace<TenantActor>;
}

/** How long actors keep publishing after the hub last renewed (ms); renewed at half of it. */
export const TAIL_LEASE_MS = 60_000;

/** What a socket asked for: the query language (GET /v1/tail) or LogQL (Loki's tail). */
type SocketQuery = { kind?: 'native'; query: QueryNode } | { kind: 'loki'; logql: string };

type SocketState = SocketQuery & {
  /** The token bucket of the socket's budget. */
  tokens: number;
  refilledAt: number;
};

type SocketMatcher = { kind: 'native'; matches: (record: MatchableRecord) => boolean } | ({ kind: 'loki' } & TailQuery);

/** A socket's budget: how many of `matching` records it may have now (the state's bucket is spent). */
function spend(state: SocketState, matching: number, now: number, perSecond: number): number {
  state.tokens = Math.min(perSecond, state.tokens + ((now - state.refilledAt) / 1000) * perSecond);
  state.refilledAt = now;
  const sendable = Math.max(0, Math.min(matching, Math.floor(state.tokens)));
  state.tokens -= sendable;
  return sendable;
}

export class TailHub extends DurableObject<TailHubEnv> {
  /** Matchers of the sockets seen since the last wake-up. */
  readonly #matchers = new Map<WebSocket, SocketMatcher>();
  readonly #budgetPerSecond: number;

  constructor(ctx: DurableObjectState, env: TailHubEnv) {
    super(ctx, env);
    this.#budgetPerSecond = loadConfig(env).tailMaxRecordsPerSecond;
  }

  /**
   * A tail client, already authenticated by the worker: `?tenant=&shards=`
   * and either `query` (the parsed query language, JSON) or `logql` (Loki's
   * tail: the LogQL text, checked by the worker).
   */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const tenantId = url.searchParams.get('tenant')!;
    const shards = Number(url.searchParams.get('shards') ?? 1);
    const logql = url.searchParams.get('logql');
    const socketQuery: SocketQuery = logql !== null ? { kind: 'loki', logql } : { query: JSON.parse(url.searchParams.get('query')!) as QueryNode };
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    const state: SocketState = { ...socketQuery, tokens: this.#budgetPerSecond, refilledAt: Date.now() };
    server.serializeAttachment(state);
    await this.ctx.storage.put('tail', { tenantId, shards });
    // Answered only once every actor publishes: a record accepted after the client connected is never missed.
    await this.#renewLeases(tenantId, shards);
    // Loki's tail sends nothing but frames; ours says hello.
    if (socketQuery.kind !== 'loki') server.send(JSON.stringify({ type: 'hello', tenant: tenantId, shards }));
    return new Response(null, { status: 101, webSocket: client });
  }

  /** Rows an actor just stored (JSONCompactEachRow text), and the templates of their patterns. */
  async publish(rows: string, templates: [string, string][] = []): Promise<void> {
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0) return;
    const decoded = rows
      .trimEnd()
      .split('\n')
      .filter((l) => l !== '')
      .map(decodeStoredRow);
    const patterns = new Map(templates.map(([id, template]) => [id, { id, template }]));
    let evalRows: EvalRow[] | null = null; // the rows as LogQL sees them, made once for every Loki socket
    const now = Date.now();
    for (const ws of sockets) {
      const state = ws.deserializeAttachment() as SocketState;
      let frames: string[];
      try {
        const matcher = this.#matcherOf(ws, state);
        if (matcher.kind === 'loki') {
          evalRows ??= decoded.map(toTailRow);
          const matching = evalRows.filter((row) => matcher.matches(row));
          if (matching.length === 0) continue;
          const sendable = spend(state, matching.length, now, this.#budgetPerSecond);
          frames = tailFrames(matcher.query, matching.slice(0, sendable), matching.slice(sendable));
        } else {
          const matching = decoded.filter((row) => matcher.matches(row));
          if (matching.length === 0) continue;
          const sendable = spend(state, matching.length, now, this.#budgetPerSecond);
          const lost = matching.length - sendable;
          frames = [];
          if (sendable > 0) frames.push(JSON.stringify({ type: 'logs', logs: matching.slice(0, sendable).map((row) => toLogView(row, patterns)) }));
          if (lost > 0) frames.push(JSON.stringify({ type: 'dropped', count: lost }));
        }
      } catch (err) {
        // One socket's query must never cost the others their records: this one is told why and closed.
        this.#closeForError(ws, err, state.kind === 'loki');
        continue;
      }
      try {
        for (const frame of frames) ws.send(frame);
      } catch {
        // The socket closed under us; webSocketClose cleans up.
      }
      ws.serializeAttachment(state);
    }
  }

  #closeForError(ws: WebSocket, err: unknown, loki: boolean): void {
    this.#matchers.delete(ws);
    const message = err instanceof QuerySyntaxError || err instanceof LogqlError ? err.message : 'the query could not be evaluated';
    logEvent('warn', 'tail.socket_failed', { error: err instanceof Error ? err.message : String(err) });
    try {
      // Loki's clients read frames only: they get the reason in the close frame (at most 123 bytes).
      if (!loki) ws.send(JSON.stringify({ type: 'error', error: 'query_failed', message }));
      ws.close(1011, loki ? `query failed: ${message}`.slice(0, 120) : 'query failed');
    } catch {
      // already closed
    }
  }

  #matcherOf(ws: WebSocket, state: SocketState): SocketMatcher {
    let matcher = this.#matchers.get(ws);
    if (!matcher) {
      matcher = state.kind === 'loki' ? { kind: 'loki', ...compileTailQuery(state.logql) } : { kind: 'native', matches: compileMatcher(state.query) };
      this.#matchers.set(ws, matcher);
    }
    return matcher;
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    // Loki's tail reads nothing from its clients.
    if (message === 'ping' && (ws.deserializeAttachment() as SocketState).kind !== 'loki') ws.send(JSON.stringify({ type: 'pong' }));
  }

  override async webSocketClose(ws: WebSocket, code: number): Promise<void> {
    this.#matchers.delete(ws);
    try {
      ws.close(code === 1005 ? 1000 : code, 'closed');
    } catch {
      // already closed
    }
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.#matchers.delete(ws);
  }

  /** Keeps the actors publishing while anyone tails. */
  override async alarm(): Promise<void> {
    const tail = await this.ctx.storage.get<{ tenantId: string; shards: number }>('tail');
    if (!tail || this.ctx.getWebSockets().length === 0) return;
    await this.#renewLeases(tail.tenantId, tail.shards);
  }

  async #renewLeases(tenantId: string, shards: number): Promise<void> {
    const until = Date.now() + TAIL_LEASE_MS;
    await Promise.all(
      Array.from({ length: shards }, (_, k) => this.env.TENANT_ACTOR.get(this.env.TENANT_ACTOR.idFromName(shardName(tenantId, k))).tailUntil(tenantId, until)),
    );
    await this.ctx.storage.setAlarm(Date.now() + TAIL_LEASE_MS / 2);
  }
}
