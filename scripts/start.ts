/**
 * `npm start`: the whole stack on this machine, nothing else to install.
 * Ctrl-C stops it; state stays in .neurallog/ for the next start.
 */
import { startStack } from './stack.ts';

const env = process.env;
const port = Number(env.NEURALLOG_PORT ?? 8787);
const clickhousePort = Number(env.NEURALLOG_CLICKHOUSE_PORT ?? 8123);
const dataDir = env.NEURALLOG_DATA_DIR ?? '.neurallog';

/** Every NEURALLOG_* / CLICKHOUSE_* variable is handed to the workers. */
const workerEnv = Object.fromEntries(Object.entries(env).filter(([k, v]) => v !== undefined && /^(NEURALLOG_|CLICKHOUSE_)/.test(k))) as Record<string, string>;

console.log('NeuralLog: starting…');
const stack = await startStack({
  port,
  dataDir,
  clickhouseUrl: env.CLICKHOUSE_URL,
  clickhouseUser: env.CLICKHOUSE_USER,
  clickhousePassword: env.CLICKHOUSE_PASSWORD,
  clickhouseDatabase: env.CLICKHOUSE_DATABASE,
  embeddedClickHousePort: clickhousePort,
  devApiKey: env.NEURALLOG_DEV_API_KEY,
  platformAdminToken: env.NEURALLOG_PLATFORM_ADMIN_TOKEN,
  devTenant: env.NEURALLOG_DEV_TENANT,
  devRetentionDays: env.NEURALLOG_RETENTION_DAYS ? Number(env.NEURALLOG_RETENTION_DAYS) : undefined,
  workerEnv,
}).catch((err: Error) => {
  console.error(`NeuralLog: could not start: ${err.message}`);
  process.exit(1);
});

console.log(`
NeuralLog is running.

  Explorer               ${stack.url}/  (sign in with the dev tenant's key below)
  API (ingest + search)  ${stack.url}
  Health                 ${stack.url}/healthz
  ClickHouse             ${stack.clickhouseUrl}${stack.embeddedClickHouse ? `  (embedded chDB, data in ${dataDir}/clickhouse)` : ''}

  Dev tenant API key     ${stack.devApiKey}${stack.devApiKeyGenerated ? `  (new; kept in ${dataDir}/dev-api-key)` : ''}

  Admin API              ${stack.url}/v1/admin  (platform-admin token in ${dataDir}/platform-admin-token; npm run admin -- help)
  Platform's own logs    tenant "${stack.platformTenant}", key in ${dataDir}/platform-api-key (reads, cannot write; NEURALLOG_SELF_LOGS=0 turns shipping off)
  OpenAPI                ${stack.url}/openapi.json

Send a log, then find it (rows are searchable about a second later):

  curl -sS -X POST ${stack.url}/v1/logs \\
    -H "Authorization: Bearer ${stack.devApiKey}" \\
    -H "Content-Type: application/json" \\
    -d '{"level":"error","service":"checkout","message":"connection reset by peer"}'

  curl -sS "${stack.url}/v1/logs?q=connection+reset&level=error" \\
    -H "Authorization: Bearer ${stack.devApiKey}"

Search the platform's own logs (every worker's and actor's; sign in to the explorer with the platform key):

  curl -sS "${stack.url}/v1/logs?q=flush.done&from=now-15m" \\
    -H "Authorization: Bearer $(cat ${dataDir}/platform-api-key)"

Ctrl-C stops everything.
`);

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\nNeuralLog: ${signal}, stopping…`);
  await stack.stop();
  console.log('NeuralLog: stopped.');
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
