/**
 * A ClickHouse stand-in that fails on request: it forwards to the real
 * (embedded) endpoint, and in between injects the faults an operator meets.
 *
 * Two ways to drive it:
 * - Rules by text, over HTTP (`/__fault`, `/__stats`), for the Workers tests
 *   (test/support/in-workerd.ts): requests whose body or URL contains a text (a
 *   test's tenant id) fail before reaching ClickHouse ("ClickHouse is down"),
 *   after it ("the insert happened but the answer was lost", the case
 *   deduplication exists for), or are slowed down, a given number of times;
 *   counted per text with the most in flight at once.
 * - Whole-endpoint faults, in process, for the fault suite (scripts/chaos):
 *   ClickHouse gone (every connection dropped), slow (every answer late), every
 *   n-th insert of the log table answered 500, or run with its answer lost; and
 *   a wait for the next insert of the log table (a flush in the middle of its
 *   insert, the moment to kill workerd).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';

interface FaultRule {
  match: string;
  mode: 'fail-before' | 'fail-after' | 'delay';
  remaining: number;
  delayMs: number;
}

interface Counts {
  requests: number;
  inFlight: number;
  maxInFlight: number;
}

/** A fault of the whole endpoint (the fault suite's). Several may be active at once. */
export type ClickHouseFault =
  /** Every request's connection is dropped before anything reaches ClickHouse: the server is gone. */
  | { kind: 'down' }
  /** Every answer arrives `delayMs` late (the query runs first). */
  | { kind: 'slow'; delayMs: number }
  /** Every `every`-th insert into the log table is answered 500 without reaching ClickHouse. */
  | { kind: 'fail-insert'; every: number }
  /** Every `every`-th insert into the log table runs in ClickHouse, then its connection is dropped: the answer is lost. */
  | { kind: 'lose-answer'; every: number };

export interface FaultProxyStats {
  /** Inserts into the log table that reached the proxy. */
  logInserts: number;
  /** Requests the endpoint faults changed, by kind. */
  injected: Record<ClickHouseFault['kind'], number>;
}

export interface FaultProxy {
  url: string;
  /** Starts a fault of the whole endpoint; the function returned ends it. */
  inject(fault: ClickHouseFault): () => void;
  /** Resolves when the next insert into the log table arrives (before it is forwarded). */
  nextLogInsert(): Promise<void>;
  stats(): FaultProxyStats;
  close(): Promise<void>;
}

const SIDE_TABLE_RULE = 'log_pattern:';
const LOG_INSERT = /^INSERT\s+INTO\s+logs\s/;

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const rules: FaultRule[] = [];
  const counts = new Map<string, Counts>();
  const faults = new Set<ClickHouseFault>();
  const insertWaiters: (() => void)[] = [];
  const stats: FaultProxyStats = { logInserts: 0, injected: { down: 0, slow: 0, 'fail-insert': 0, 'lose-answer': 0 } };
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://proxy');
    if (url.pathname === '/__fault') {
      const mode = url.searchParams.get('mode');
      const match = url.searchParams.get('match') ?? '';
      if (mode === 'clear') {
        for (const rule of rules) if (rule.match === match) rule.remaining = 0;
      } else if ((mode === 'fail-before' || mode === 'fail-after' || mode === 'delay') && match) {
        rules.push({ match, mode, remaining: Number(url.searchParams.get('count') ?? '1'), delayMs: Number(url.searchParams.get('ms') ?? '0') });
        counts.set(match, counts.get(match) ?? { requests: 0, inFlight: 0, maxInFlight: 0 });
      }
      res.writeHead(204).end();
      return;
    }
    if (url.pathname === '/__stats') {
      const c = counts.get(url.searchParams.get('match') ?? '') ?? { requests: 0, inFlight: 0, maxInFlight: 0 };
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify(c));
      return;
    }
    if (has('down')) {
      stats.injected.down++;
      req.socket.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    const logInsert = LOG_INSERT.test(url.searchParams.get('query') ?? '');
    // A flush's insert is gzip (shared/gzip.ts): its rows are what rules match. The fault suite's
    // faults need no body text: decompress only when a rule may need it.
    const text =
      rules.some((r) => r.remaining > 0) || counts.size > 0 ? (req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8') : '';
    // A request mentions a text in its body (SQL, rows) or its URL (parameters).
    const haystack = `${text}\n${decodeURIComponent(url.search)}`;
    // The pattern book's writes (log_patterns, log_pattern_aliases) precede a flush's insert: faults and
    // counts are about the log table, so they pass through untouched unless a rule names them.
    const sideTable = /INSERT[+ ]INTO[+ ]log_pattern/.test(haystack);
    const counted = sideTable ? undefined : [...counts.entries()].find(([match]) => haystack.includes(match))?.[1];
    if (counted) {
      counted.requests++;
      counted.maxInFlight = Math.max(counted.maxInFlight, ++counted.inFlight);
    }
    let endpointFault: 'fail-insert' | 'lose-answer' | null = null;
    if (logInsert) {
      stats.logInserts++;
      for (const wake of insertWaiters.splice(0)) wake();
      for (const fault of faults) {
        if ((fault.kind === 'fail-insert' || fault.kind === 'lose-answer') && stats.logInserts % fault.every === 0) endpointFault = fault.kind;
      }
    }
    try {
      if (endpointFault === 'fail-insert') {
        stats.injected['fail-insert']++;
        res.writeHead(500, { 'Content-Type': 'text/plain' }).end('injected failure: ClickHouse answered 500\n');
        return;
      }
      await forward(haystack, body, req, res, endpointFault === 'lose-answer');
    } catch (err) {
      // ClickHouse went away mid-request (e.g. while the tests shut down): answer as a proxy does.
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' }).end(`proxy: ${(err as Error).message}\n`);
      else res.destroy();
    } finally {
      if (counted) counted.inFlight--;
    }
  });

  function has(kind: ClickHouseFault['kind']): ClickHouseFault | undefined {
    for (const fault of faults) if (fault.kind === kind) return fault;
    return undefined;
  }

  async function forward(text: string, body: Buffer, req: IncomingMessage, res: ServerResponse, loseAnswer: boolean) {
    const sideTable = /INSERT[+ ]INTO[+ ]log_pattern/.test(text);
    // A rule `log_pattern:<text>` is about the pattern book's writes that mention <text>; others never touch them.
    const applies = (r: FaultRule) =>
      r.match.startsWith(SIDE_TABLE_RULE) ? sideTable && text.includes(r.match.slice(SIDE_TABLE_RULE.length)) : !sideTable && text.includes(r.match);
    const rule = rules.find((r) => r.remaining > 0 && applies(r));
    if (rule?.mode === 'delay') {
      rule.remaining--;
      await new Promise((r) => setTimeout(r, rule.delayMs));
    }
    if (rule?.mode === 'fail-before') {
      rule.remaining--;
      res.writeHead(503, { 'Content-Type': 'text/plain' }).end('injected failure: ClickHouse unavailable\n');
      return;
    }
    const headers = new Headers();
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && k !== 'host' && k !== 'content-length') headers.set(k, v);
    const upstream = await fetch(`${target}${req.url}`, { method: req.method, headers, body: req.method === 'GET' ? undefined : new Uint8Array(body) });
    const payload = Buffer.from(await upstream.arrayBuffer());
    if (rule?.mode === 'fail-after') {
      rule.remaining--;
      res.writeHead(502, { 'Content-Type': 'text/plain' }).end('injected failure: answer lost after the query ran\n');
      return;
    }
    if (loseAnswer) {
      stats.injected['lose-answer']++;
      req.socket.destroy();
      return;
    }
    const slow = has('slow');
    if (slow?.kind === 'slow') {
      stats.injected.slow++;
      await new Promise((r) => setTimeout(r, slow.delayMs));
    }
    const out: Record<string, string> = {};
    upstream.headers.forEach((v, k) => {
      if (k !== 'content-length' && k !== 'transfer-encoding' && k !== 'content-encoding') out[k] = v;
    });
    res.writeHead(upstream.status, out).end(payload);
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    inject(fault) {
      faults.add(fault);
      return () => void faults.delete(fault);
    },
    nextLogInsert: () => new Promise<void>((resolve) => insertWaiters.push(resolve)),
    stats: () => structuredClone(stats),
    close: () =>
      new Promise<void>((resolve) => {
        faults.clear();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
