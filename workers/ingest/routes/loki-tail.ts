/**
 * GET /loki/api/v1/tail — Loki's live tail over a WebSocket, what Grafana's
 * Explore opens with its *Live* button (through its data source proxy, with
 * the data source's Basic auth) and what logcli's --tail opens. Served here
 * because the tail is the tenant's TailHub's (durable-objects/tail-hub.ts),
 * which the ingest worker hosts: the same sockets, leases and per-socket
 * budget as GET /v1/tail, the records matched by the LogQL selector and
 * pipeline (shared/logql/evaluate.ts) and sent as Loki's frames
 * (shared/logql/tail.ts), the records the budget drops listed in
 * `dropped_entries`.
 *
 * Authenticated as every /loki read path: the API key as the Basic-auth
 * password (or a Bearer token), the tenant the key's; X-Scope-OrgID is
 * ignored. Everything is checked before the upgrade; errors are Loki's
 * `{"status": "error", "code", "message"}`: a metric query, a bad
 * `delay_for` (over 5 s), `limit` or `start` is a 400.
 *
 * Only records accepted after the socket opened are sent: `start` and `limit`
 * are checked as Loki checks them but no history is replayed (query_range
 * reads the past); `delay_for` is accepted — records reach the hub as their
 * actor stores them, so there are no slow loggers to wait for.
 */
import { Hono } from 'hono';
import { ApiError } from '../../../shared/api-error.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { LogqlError } from '../../../shared/logql/ast.ts';
import { lokiErrorResponse } from '../../../shared/logql/loki-error.ts';
import { compileTailQuery } from '../../../shared/logql/tail.ts';
import { parseLokiTime } from '../../../shared/logql/time.ts';
import type { IngestApp } from '../env.ts';
import { checkSocketOrigin, openTailSocket } from './tail.ts';

/** Loki's maxDelayForInTailing. */
const MAX_DELAY_FOR_S = 5;
/** Loki's max_entries_limit_per_query default. */
const MAX_LIMIT = 5_000;

export const lokiTailRoutes = new Hono<IngestApp>();

lokiTailRoutes.onError((err, c) => lokiErrorResponse(c, err));

lokiTailRoutes.get('/', requirePrincipal('logs:read'), async (c) => {
  const q = new URL(c.req.url).searchParams;
  const text = q.get('query');
  if (text === null || text.trim() === '') throw new LogqlError('the query parameter is required');
  compileTailQuery(text); // a 400 before any upgrade, naming what is not supported
  const delay = q.get('delay_for');
  if (delay !== null && delay !== '') {
    if (!/^\d{1,9}$/.test(delay)) throw new LogqlError(`invalid delay_for "${delay.slice(0, 20)}": whole seconds`);
    if (Number(delay) > MAX_DELAY_FOR_S) throw new LogqlError(`delay_for can't be greater than ${MAX_DELAY_FOR_S}`);
  }
  const limit = q.get('limit');
  if (limit !== null && limit !== '') {
    const n = Number(limit);
    if (!/^\d{1,9}$/.test(limit) || n < 1) throw new LogqlError(`invalid limit "${limit.slice(0, 20)}": a positive integer`);
    if (n > MAX_LIMIT) throw new LogqlError(`max entries limit per query exceeded, limit > max_entries_limit_per_query (${n} > ${MAX_LIMIT})`);
  }
  const start = q.get('start');
  if (start !== null && start !== '') parseLokiTime('start', start);
  if (c.req.header('upgrade')?.toLowerCase() !== 'websocket') {
    throw new ApiError(426, 'upgrade_required', 'the tail is a WebSocket: connect with Upgrade: websocket', {}, { Upgrade: 'websocket' });
  }
  checkSocketOrigin(c);
  return openTailSocket(c, { logql: text });
});
