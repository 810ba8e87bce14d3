/**
 * The platform watching itself, on the stack as `npm start` starts it:
 * records ingested for the dev tenant show up in `/metrics` (Prometheus text,
 * open under npm start, valid by a parser and by the format's line grammar) as
 * accepted, flushed and inserted, with the actor's buffer back to empty; the
 * admin API serves the same as JSON; `/healthz?verbose=1` is for the platform
 * admin and names ClickHouse, R2, D1, the actors' oldest unflushed record and
 * the version; plain `/healthz` is unchanged; the new routes are in
 * /openapi.json.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../scripts/ports.ts';
import { type RunningStack, startStack } from '../../scripts/stack.ts';
import { METRICS } from '../../shared/platform-metrics/catalog.ts';
import { exposition, type PrometheusFamily, parseExposition } from './prometheus-text.ts';
import { eventually } from '../support/eventually.ts';

let stack: RunningStack;
let dataDir: string;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'neurallog-platform-metrics-'));
  stack = await startStack({
    port: await freePort(),
    dataDir,
    embeddedClickHousePort: await freePort(),
    workerEnv: { NEURALLOG_FLUSH_MAX_AGE_MS: '300', NEURALLOG_METRICS_REPORT_MS: '500' },
    onOutput: () => undefined,
  });
});

afterAll(async () => {
  await stack?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

/** A sample's value in the parsed text: the family's series whose labels include `labels`, summed. */
function sampleValue(families: PrometheusFamily[], name: string, labels: Record<string, string>): number {
  const family = families.find((f) => f.name === name);
  return (family?.metrics ?? []).filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)).reduce((n, m) => n + Number(m.value ?? 0), 0);
}

async function scrape(): Promise<{ text: string; families: PrometheusFamily[] }> {
  const res = await fetch(`${stack.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
  const text = await res.text();
  return { text, families: parseExposition(text) };
}

describe('platform metrics on the running stack', () => {
  it("shows the dev tenant's records accepted, flushed and inserted in /metrics, the buffer back to empty", async () => {
    const tenant = 'dev';
    const before = await scrape();
    const acceptedBefore = sampleValue(before.families, 'neurallog_ingest_records_accepted_total', { tenant });
    const res = await fetch(`${stack.url}/v1/logs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${stack.devApiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(Array.from({ length: 5 }, (_, i) => ({ level: 'info', service: 'metrics-e2e', message: `record ${i}` }))),
    });
    expect(res.status).toBe(202);
    await res.arrayBuffer();

    const flushState = (scraped: typeof before) => ({
      accepted: sampleValue(scraped.families, 'neurallog_ingest_records_accepted_total', { tenant, protocol: 'logs' }) - acceptedBefore,
      flushed: sampleValue(scraped.families, 'neurallog_actor_flushes_total', { tenant, outcome: 'ok' }),
      buffered: sampleValue(scraped.families, 'neurallog_actor_buffer_rows', { tenant }),
    });
    const last = await eventually('the metrics to show the batch flushed', scrape, {
      until: (scraped) => {
        const { accepted, flushed, buffered } = flushState(scraped);
        return accepted === 5 && flushed >= 1 && buffered === 0;
      },
      timeoutMs: 30_000,
      intervalMs: 300,
      describe: (scraped) => JSON.stringify(flushState(scraped)),
    });
    expect(exposition(last.text)).toEqual([]);
    expect(last.families.map((f) => f.name).sort()).toEqual(Object.keys(METRICS).sort());
    expect(sampleValue(last.families, 'neurallog_clickhouse_inserts_total', { outcome: 'ok' })).toBeGreaterThanOrEqual(1);
    expect(
      sampleValue(last.families, 'neurallog_http_requests_total', { worker: 'ingest', route: '/v1/logs', method: 'POST', status: '202' }),
    ).toBeGreaterThanOrEqual(1);
    expect(sampleValue(last.families, 'neurallog_actor_oldest_unflushed_age_seconds', { tenant })).toBe(0);
  });

  it('serves the same metrics as JSON to the platform admin only', async () => {
    expect((await fetch(`${stack.url}/v1/admin/platform/metrics`)).status).toBe(401);
    const res = await fetch(`${stack.url}/v1/admin/platform/metrics`, { headers: { authorization: `Bearer ${stack.platformAdminToken}` } });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { metrics: Record<string, { series: { labels: Record<string, string>; value?: number }[] }> };
    const accepted = body.metrics.neurallog_ingest_records_accepted_total!.series.filter((s) => s.labels.tenant === 'dev');
    expect(accepted.reduce((n, s) => n + (s.value ?? 0), 0)).toBeGreaterThanOrEqual(5);
  });

  it('answers /healthz?verbose=1 to the platform admin with each dependency, the oldest unflushed record and the version', async () => {
    const refused = await fetch(`${stack.url}/healthz?verbose=1`);
    expect(refused.status).toBe(401);
    await refused.arrayBuffer();
    const res = await fetch(`${stack.url}/healthz?verbose=1`, { headers: { authorization: `Bearer ${stack.platformAdminToken}` } });
    const body = (await res.json()) as Record<string, unknown> & { dependencies: Record<string, { status: string; latencyMs: number }> };
    expect(res.status, JSON.stringify(body)).toBe(200);
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(body).toMatchObject({ status: 'ok', down: [], version, components: { ingest: 'ok', query: 'ok', admin: 'ok' } });
    for (const name of ['clickhouse', 'r2', 'd1', 'metrics']) {
      expect(body.dependencies[name]!.status).toBe('ok');
      expect(body.dependencies[name]!.latencyMs).toBeGreaterThanOrEqual(0);
    }
    expect(body.actors).toMatchObject({ oldestUnflushedAgeSeconds: expect.any(Number) });
    const plain = await fetch(`${stack.url}/healthz`);
    expect(plain.status).toBe(200);
    expect(await plain.json()).toEqual({ status: 'ok', ingest: 'ok', query: 'ok', admin: 'ok' });
  });

  it('lists /metrics and the admin platform routes in /openapi.json', async () => {
    const doc = (await (await fetch(`${stack.url}/openapi.json`)).json()) as { paths: Record<string, unknown> };
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/metrics', '/v1/admin/platform/metrics', '/v1/admin/platform/health']));
  });
});
