/**
 * The ecosystems' own clients against the running stack (started as
 * `npm start` starts it): the OpenTelemetry SDK with both OTLP/HTTP exporters,
 * winston-loki in its protobuf+snappy mode, the official Elasticsearch
 * client's bulk helper, and syslog-ng's http() destination. Each test finds
 * the exact records, with their fields, through GET /v1/logs.
 *
 * syslog-ng comes from Debian (syslog-ng-core, syslog-ng-mod-http; .ci/run
 * installs them). Where it is absent that one test is skipped and says why.
 */
import { context, trace, TraceFlags } from '@opentelemetry/api';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { OTLPLogExporter as OtlpHttpJsonExporter } from '@opentelemetry/exporter-logs-otlp-http';
import { OTLPLogExporter as OtlpProtoExporter } from '@opentelemetry/exporter-logs-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs';
import { Client as EsClient } from '@elastic/elasticsearch';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import winston from 'winston';
import LokiTransport from 'winston-loki';
import { startStack, type RunningStack } from '../../scripts/stack.ts';
import { freePort } from '../../scripts/ports.ts';
import { eventually } from '../support/eventually.ts';

interface FoundLog {
  body: string;
  service: string;
  severityText: string;
  severityNumber: number;
  traceId: string;
  spanId: string;
  timestamp: string;
  attributes: Record<string, string>;
  resource: Record<string, string>;
  scope: { name: string; version: string; attributes: Record<string, string> };
}

let dataDir: string;
let stack: RunningStack;

async function search(query: string, count: number): Promise<FoundLog[]> {
  const logs = await eventually(
    `${count} records for ${query}`,
    async () => {
      const res = await fetch(`${stack.url}/v1/logs?${query}&limit=1000&from=now-2d`, { headers: { authorization: `Bearer ${stack.devApiKey}` } });
      expect(res.status).toBe(200);
      return ((await res.json()) as { logs: FoundLog[] }).logs;
    },
    { until: (found) => found.length >= count, timeoutMs: 30_000, intervalMs: 250, describe: (found) => `${found.length} found` },
  );
  return logs.sort((a, b) => a.body.localeCompare(b.body));
}

const marker = (name: string) => `${name}${Date.now().toString(36)}`;

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'neurallog-shippers-'));
  stack = await startStack({
    port: await freePort(),
    dataDir,
    embeddedClickHousePort: await freePort(),
    workerEnv: { NEURALLOG_FLUSH_MAX_AGE_MS: '300' },
  });
});

afterAll(async () => {
  await stack?.stop();
  await rm(dataDir, { recursive: true, force: true });
});

describe('log shippers, with their own clients', () => {
  for (const [name, Exporter, encoding] of [
    ['exporter-logs-otlp-proto', OtlpProtoExporter, 'protobuf'],
    ['exporter-logs-otlp-http', OtlpHttpJsonExporter, 'JSON'],
  ] as const) {
    it(`takes OTLP/HTTP ${encoding} from the OpenTelemetry SDK (@opentelemetry/${name})`, async () => {
      const tag = marker(encoding === 'JSON' ? 'oteljson' : 'otelproto');
      const exporter = new Exporter({ url: `${stack.url}/otlp/v1/logs`, headers: { Authorization: `Bearer ${stack.devApiKey}` } });
      const provider = new LoggerProvider({
        resource: resourceFromAttributes({ 'service.name': 'checkout', 'deployment.environment': 'e2e' }),
        processors: [new BatchLogRecordProcessor({ exporter })],
      });
      const logger = provider.getLogger('com.acme.checkout', '3.1.4');
      const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
      const spanId = '00f067aa0ba902b7';
      const inSpan = trace.setSpanContext(context.active(), { traceId, spanId, traceFlags: TraceFlags.SAMPLED });
      for (let i = 0; i < 20; i++) {
        logger.emit({
          severityNumber: i % 4 === 0 ? SeverityNumber.ERROR : SeverityNumber.INFO,
          severityText: i % 4 === 0 ? 'ERROR' : 'INFO',
          body: `${tag} order ${String(i).padStart(2, '0')} processed`,
          attributes: { 'order.id': i, 'order.paid': i % 2 === 0, 'http.route': '/orders' },
          context: inSpan,
        });
      }
      await provider.forceFlush();
      await provider.shutdown();

      const found = await search(`q=${tag}`, 20);
      expect(found).toHaveLength(20);
      expect(found[0]).toMatchObject({
        body: `${tag} order 00 processed`,
        service: 'checkout',
        severityText: 'ERROR',
        severityNumber: 17,
        traceId,
        spanId,
        attributes: { 'order.id': '0', 'order.paid': 'true', 'http.route': '/orders' },
        resource: { 'service.name': 'checkout', 'deployment.environment': 'e2e' },
        scope: { name: 'com.acme.checkout', version: '3.1.4' },
      });
      expect((await search(`q=${tag}&level=error`, 5)).map((l) => l.body)).toEqual(
        [0, 4, 8, 12, 16].map((i) => `${tag} order ${String(i).padStart(2, '0')} processed`),
      );
    });
  }

  it('takes Loki pushes from winston-loki in its protobuf + snappy mode (key as the basic-auth password)', async () => {
    const tag = marker('winstonloki');
    const errors: unknown[] = [];
    const transport = new LokiTransport({
      host: stack.url,
      basicAuth: `tenant-ignored:${stack.devApiKey}`,
      labels: { app: 'payments', env: 'e2e' },
      json: false,
      batching: true,
      interval: 0.2, // seconds; flush() below waits for the send
      onConnectionError: (err) => errors.push(err),
    });
    // winston-loki falls back to JSON silently when the snappy binding is missing: make sure it did not.
    expect((transport as unknown as { batcher: { contentType: string } }).batcher.contentType).toBe('application/x-protobuf');
    const logger = winston.createLogger({ transports: [transport] });
    for (let i = 0; i < 10; i++) logger.log(i < 3 ? 'warn' : 'info', `${tag} payment ${i} settled`, { labels: { region: 'eu-west' } });
    await new Promise((r) => setTimeout(r, 50));
    await transport.flush();
    expect(errors).toEqual([]);

    const found = await search(`q=${tag}`, 10);
    expect(found).toHaveLength(10);
    expect(found[0]).toMatchObject({
      body: expect.stringContaining(`${tag} payment 0 settled`),
      service: 'payments',
      severityText: 'warn',
      severityNumber: 13,
      resource: { app: 'payments', env: 'e2e', region: 'eu-west', level: 'warn' },
    });
    expect(await search(`q=${tag}&level=warn`, 3)).toHaveLength(3);
    logger.close();
  });

  it('takes bulk requests from the official Elasticsearch client (bulk helper, key as the Basic-auth password)', async () => {
    const client = new EsClient({ node: `${stack.url}/es`, auth: { username: 'elastic', password: stack.devApiKey } });
    const tag = marker('es');
    const docs = Array.from({ length: 50 }, (_, i) => ({
      '@timestamp': new Date(Date.now() - i).toISOString(),
      message: `${tag} document ${String(i).padStart(2, '0')}`,
      log: { level: 'error' },
      service: { name: 'es-shipper' },
    }));
    const info = await client.info();
    expect(info.version.number).toMatch(/^8\./);
    const result = await client.helpers.bulk({ datasource: docs, onDocument: () => ({ index: { _index: 'app-logs' } }) });
    expect(result).toMatchObject({ total: 50, successful: 50, failed: 0 });
    const found = await search(`q=${tag}&service=es-shipper&level=error`, 50);
    expect(found).toHaveLength(50);
    expect(found[0]).toMatchObject({ body: `${tag} document 00`, attributes: { 'es.index': 'app-logs' } });
    await client.close();
  });

  // The config version syslog-ng speaks, when it and its http() module are installed.
  const syslogNg = (() => {
    try {
      const version = execFileSync('syslog-ng', ['--version'], { encoding: 'utf8' }).match(/Config version: (\d+\.\d+)/)?.[1];
      const modules = execFileSync('syslog-ng', ['--version'], { encoding: 'utf8' }).match(/Available-Modules: (.*)/)?.[1] ?? '';
      return version && modules.split(',').includes('http') ? version : null;
    } catch {
      return null;
    }
  })();
  if (!syslogNg) console.warn('shippers: syslog-ng test skipped — install the Debian packages syslog-ng-core and syslog-ng-mod-http (.ci/run does)');

  it.skipIf(!syslogNg)("takes RFC 5424 messages from syslog-ng's http() destination", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'neurallog-syslog-ng-'));
    const port = await freePort();
    const tag = marker('syslogng');
    // The destination as docs/shipping.md documents it.
    const config = `@version: ${syslogNg}
options { keep-hostname(yes); frac-digits(6); send-time-zone("+00:00"); };
source s_test { syslog(ip("127.0.0.1") port(${port}) transport("tcp")); };
destination d_neurallog {
  http(
    url("${stack.url}/v1/syslog")
    method("POST")
    user("neurallog")
    password("${stack.devApiKey}")
    headers("Content-Type: text/plain")
    body("<\${PRI}>1 \${ISODATE} \${HOST} \${PROGRAM:--} \${PID:--} \${MSGID:--} \${SDATA:--} \${MSG}")
    batch-lines(50)
    batch-timeout(200)
  );
};
log { source(s_test); destination(d_neurallog); };
`;
    await writeFile(join(dir, 'syslog-ng.conf'), config);
    let daemon: ChildProcess | null = null;
    const daemonOutput: string[] = [];
    try {
      daemon = spawn(
        'syslog-ng',
        ['-F', '--no-caps', '-f', join(dir, 'syslog-ng.conf'), '-R', join(dir, 'persist'), '-p', join(dir, 'pid'), '-c', join(dir, 'ctl'), '-e'],
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      daemon.stdout!.on('data', (d) => daemonOutput.push(String(d)));
      daemon.stderr!.on('data', (d) => daemonOutput.push(String(d)));
      // RFC 5424 messages in RFC 5425 octet-counting frames, as syslog() sources read them.
      const base = Math.floor(Date.now() / 60_000) * 60_000 - 60_000; // a whole minute, a minute ago
      const at = (i: number) => new Date(base + i * 1000 + 250).toISOString().replace('Z', '000+00:00');
      const messages = Array.from(
        { length: 12 },
        (_, i) =>
          `<${i < 2 ? 11 : 14}>1 ${at(i)} db-${i % 2} postgres ${1000 + i} QUERY [q@32473 ms="${i * 10}"] ${tag} statement ${String(i).padStart(2, '0')} done`,
      );
      await eventually(
        'syslog-ng to listen (and take the messages)',
        () =>
          new Promise<true>((resolve, reject) => {
            const socket = connect(port, '127.0.0.1', () => {
              socket.end(messages.map((m) => `${Buffer.byteLength(m)} ${m}`).join(''), () => resolve(true));
            });
            socket.on('error', reject);
          }),
        { retryErrors: true, timeoutMs: 15_000, intervalMs: 200, context: () => daemonOutput.join('') },
      );
      const found = await search(`q=${tag}`, 12);
      expect(found, daemonOutput.join('')).toHaveLength(12);
      expect(found[0]).toMatchObject({
        body: `${tag} statement 00 done`,
        service: 'postgres',
        severityText: 'err',
        severityNumber: 17,
        timestamp: new Date(base + 250).toISOString().replace('Z', '000000Z'),
        resource: { 'host.name': 'db-0' },
        attributes: { 'syslog.format': 'rfc5424', 'syslog.facility': 'user', 'syslog.procid': '1000', 'syslog.msgid': 'QUERY', 'q@32473.ms': '0' },
      });
      expect(found[5]).toMatchObject({ severityText: 'info', resource: { 'host.name': 'db-1' } });
    } finally {
      daemon?.kill('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
