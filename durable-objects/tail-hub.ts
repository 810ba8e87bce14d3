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
 */
import { DurableObject } from 'cloudflare:workers';
import { loadConfig, type ConfigBindings } from '../shared/config.ts';
import { toLogView, type StoredLog } from '../shared/log-record.ts';
import { decodeStoredRow } from '../shared/row-format.ts';
import type { QueryNode } from '../shared/query-language/ast.ts';
import { compileMatcher, type MatchableRecord } from '../shared/query-language/evaluate.ts';
import { QuerySyntaxError } from '../shared/query-language/parse.ts';
import { logEvent } from '../shared/logger.ts';
import { shardName } from '../shared/sharding.ts';
import type { TenantActor } from './tenant-actor.ts';

export interface TailHubEnv extends ConfigBindings {
  TENANT_ACTOR: DurableObjectNamespace<TenantActor>;
}

/** How long actors keep publishing after the hub last renewed (ms); renewed at half of it. */
export const TAIL_LEASE_MS = 60_000;

interface SocketState {
  query: QueryNode;
  /** The token bucket of the socket's budget. */
  tokens: number;
  refilledAt: number;
}

export class TailHub extends DurableObject<TailHubEnv> {
  /** Matchers of the sockets seen since the last wake-up. */
  readonly #matchers = new Map<WebSocket, (record: MatchableRecord) => boolean>();
  readonly #budgetPerSecond: number;

  constructor(ctx: DurableObjectState, env: TailHubEnv) {
    super(ctx, env);
    this.#budgetPerSecond = loadConfig(env).tailMaxRecordsPerSecond;
  }

  /** A tail client, already authenticated by the worker: `?tenant=&shards=` and the parsed query in the body. */
  override async fetch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const tenantId = url.searchParams.get('tenant')!;
    const shards = Number(url.searchParams.get('shards') ?? 1);
    const query = JSON.parse(url.searchParams.get('query')!) as QueryNode;
    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    const state: SocketState = { query, tokens: this.#budgetPerSecond, refilledAt: Date.now() };
    server.serializeAttachment(state);
    await this.ctx.storage.put('tail', { tenantId, shards });
    // Hello only once every actor publishes: a record accepted after the client saw it is never missed.
    await this.#renewLeases(tenantId, shards);
    server.send(JSON.stringify({ type: 'hello', tenant: tenantId, shards }));
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
    const now = Date.now();
    for (const ws of sockets) {
      const state = ws.deserializeAttachment() as SocketState;
      let matching: StoredLog[];
      try {
        const matcher = this.#matcherOf(ws, state);
        matching = decoded.filter((row) => matcher(row));
      } catch (err) {
        // One socket's query must never cost the others their records: this one is told why and closed.
        this.#closeForError(ws, err);
        continue;
      }
      if (matching.length === 0) continue;
      // Refill the socket's budget, then spend it.
      state.tokens = Math.min(this.#budgetPerSecond, state.tokens + ((now - state.refilledAt) / 1000) * this.#budgetPerSecond);
      state.refilledAt = now;
      const sendable = Math.max(0, Math.min(matching.length, Math.floor(state.tokens)));
      state.tokens -= sendable;
      const lost = matching.length - sendable;
      try {
        if (sendable > 0) ws.send(JSON.stringify({ type: 'logs', logs: matching.slice(0, sendable).map((row) => toLogView(row, patterns)) }));
        if (lost > 0) ws.send(JSON.stringify({ type: 'dropped', count: lost }));
      } catch {
        // The socket closed under us; webSocketClose cleans up.
      }
      ws.serializeAttachment(state);
    }
  }

  #closeForError(ws: WebSocket, err: unknown): void {
    this.#matchers.delete(ws);
    const message = err instanceof QuerySyntaxError ? err.message : 'the query could not be evaluated';
    logEvent('warn', 'tail.socket_failed', { error: err instanceof Error ? err.message : String(err) });
    try {
      ws.send(JSON.stringify({ type: 'error', error: 'query_failed', message }));
      ws.close(1011, 'query failed');
    } catch {
      // already closed
    }
  }

  #matcherOf(ws: WebSocket, state: SocketState): (record: MatchableRecord) => boolean {
    let matcher = this.#matchers.get(ws);
    if (!matcher) {
      matcher = compileMatcher(state.query);
      this.#matchers.set(ws, matcher);
    }
    return matcher;
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer): Promise<void> {
    if (message === 'ping') ws.send(JSON.stringify({ type: 'pong' }));
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
