/**
 * A ClickHouse stand-in that can fail on request: it forwards to the real
 * (embedded) endpoint, except that requests whose body contains a chosen text
 * (a test's tenant id) can be made to fail — before reaching ClickHouse
 * ("ClickHouse is down") or after it ("the insert happened but the answer was
 * lost", the case deduplication exists for), or slowed down; and it counts,
 * per text, the requests and the most that were in flight at once. Tests set
 * the rules and read the counts over HTTP.
 */
import { createServer, type Server } from 'node:http';
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

export interface FaultProxy {
  url: string;
  close(): Promise<void>;
}

const SIDE_TABLE_RULE = 'log_pattern:';

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const rules: FaultRule[] = [];
  const counts = new Map<string, Counts>();
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
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    // A flush's insert is gzip (shared/gzip.ts): its rows are what rules match.
    const text = (req.headers['content-encoding'] === 'gzip' ? gunzipSync(body) : body).toString('utf8');
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
    try {
      await forward(haystack, body, req, res);
    } catch (err) {
      // ClickHouse went away mid-request (e.g. while the tests shut down): answer as a proxy does.
      if (!res.headersSent) res.writeHead(502, { 'Content-Type': 'text/plain' }).end(`proxy: ${(err as Error).message}\n`);
      else res.destroy();
    } finally {
      if (counted) counted.inFlight--;
    }
  });

  async function forward(text: string, body: Buffer, req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) {
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
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
