/**
 * The load scripts' HTTP client: node:http with keep-alive and pre-encoded
 * bodies, as scripts/bench.ts sends, because the load generator shares the two
 * cores with the stack and should cost as little as it can.
 */
import { Agent, request } from 'node:http';

export interface Answer {
  status: number;
  /** From writing the request to the end of the answer (ms). */
  ms: number;
  text: string;
  retryAfter: string | null;
}

export interface Sender {
  post(path: string, authorization: string, body: Buffer, contentType?: string): Promise<Answer>;
  close(): void;
}

export function createSender(baseUrl: string, maxSockets = 64): Sender {
  const agent = new Agent({ keepAlive: true, maxSockets });
  const base = new URL(baseUrl);
  return {
    post(path, authorization, body, contentType = 'application/json') {
      return new Promise<Answer>((resolve, reject) => {
        const t0 = performance.now();
        const req = request(
          {
            agent,
            host: base.hostname,
            port: base.port,
            path,
            method: 'POST',
            headers: { authorization, 'content-type': contentType, 'content-length': body.length },
          },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => {
              const retryAfter = res.headers['retry-after'];
              resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0, text, retryAfter: typeof retryAfter === 'string' ? retryAfter : null });
            });
          },
        );
        // A stack that stopped answering must show up as a failure, not hang the run.
        req.setTimeout(120_000, () => req.destroy(new Error('no answer within 120 s')));
        req.on('error', reject);
        req.end(body);
      });
    },
    close: () => agent.destroy(),
  };
}

/** `n` records of `size` words each, as a JSON array body; `tag` lets a check count them afterwards. */
export function recordsBody(n: number, tag: string, seq: number): Buffer {
  const records = Array.from({ length: n }, (_, i) => ({
    level: i % 10 === 0 ? 'error' : 'info',
    service: 'load',
    message: `request ${seq}.${i} served in ${(seq * 7 + i) % 300} ms`,
    run: tag,
  }));
  return Buffer.from(JSON.stringify(records));
}
