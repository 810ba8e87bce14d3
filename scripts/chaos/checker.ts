/**
 * The checker: reads the canary's records back through the public search
 * API, as a user would (GET /v1/logs, paged by nextCursor, with the tenant's
 * own key), and tallies them against the writer's ledger
 * (scripts/chaos/tally.ts). `countFound` is the cheap probe the schedule
 * polls to see a backlog drain (GET /v1/logs/histogram's total).
 */
import { sleep, type TenantLedger } from './canary-writer.ts';
import { type Tally, tally } from './tally.ts';

export interface CheckScope {
  url: string;
  runId: string;
  /** The run's first record was made after this (ms). */
  since: number;
}

const PAGE = 1000;

/** Every copy of the run's records one tenant's search returns: their canary_seq, in the order read. */
export async function readBack(scope: CheckScope, ledger: TenantLedger): Promise<number[]> {
  const seqs: number[] = [];
  let cursor: string | null = null;
  const from = new Date(scope.since - 60_000).toISOString();
  // One `to` for every page: the cursor walks one fixed range.
  const to = new Date(Date.now() + 60_000).toISOString();
  do {
    const params = new URLSearchParams({ q: scope.runId, from, to, limit: String(PAGE) });
    if (cursor) params.set('cursor', cursor);
    const page = await getJson<{ logs: { attributes: Record<string, string> }[]; nextCursor: string | null }>(
      `${scope.url}/v1/logs?${params}`,
      ledger.tenant.key,
    );
    for (const log of page.logs) {
      if (log.attributes.canary_writer !== `${scope.runId}-${ledger.tenant.id}`) {
        seqs.push(-1); // the run's word in another writer's record: a phantom
        continue;
      }
      seqs.push(Number(log.attributes.canary_seq));
    }
    cursor = page.nextCursor;
  } while (cursor);
  return seqs;
}

export async function check(scope: CheckScope, ledger: TenantLedger): Promise<Tally> {
  return tally(ledger.batches, await readBack(scope, ledger));
}

/** How many of the run's records (copies included) one tenant's search counts now. */
export async function countFound(scope: CheckScope, ledger: TenantLedger): Promise<number> {
  const params = new URLSearchParams({
    q: scope.runId,
    from: new Date(scope.since - 60_000).toISOString(),
    to: new Date(Date.now() + 60_000).toISOString(),
  });
  const body = await getJson<{ total: number }>(`${scope.url}/v1/logs/histogram?${params}`, ledger.tenant.key);
  return body.total;
}

/** GET with the tenant's key; a 5xx or no answer (the stack restarting, ClickHouse away) is asked again, for up to two minutes. */
async function getJson<T>(url: string, key: string): Promise<T> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    let problem: string;
    try {
      const res = await fetch(url, { headers: { authorization: `Bearer ${key}` }, signal: AbortSignal.timeout(30_000) });
      const text = await res.text();
      if (res.ok) return JSON.parse(text) as T;
      if (res.status < 500 && res.status !== 429) throw new Error(`GET ${url}: ${res.status} ${text}`);
      problem = `${res.status} ${text.slice(0, 200)}`;
    } catch (err) {
      if ((err as Error).message.startsWith('GET ')) throw err;
      problem = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`GET ${url}: still failing after two minutes (${problem})`);
    await sleep(500);
  }
}
