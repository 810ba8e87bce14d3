/**
 * `node --import tsx operator/src/main.ts` — the operator process (in the
 * cluster: operator/deploy/; outside it: with KUBECONFIG).
 *
 * Environment: POD_NAME (the lease identity; default the hostname),
 * POD_NAMESPACE (where the lease lives; default neurallog-system),
 * HEALTH_PORT (default 8080), NEURALLOG_INGEST_IMAGE / NEURALLOG_CLICKHOUSE_IMAGE
 * (the dedicated stack's images), and for the optional control-plane sync
 * NEURALLOG_ADMIN_URL + NEURALLOG_PLATFORM_ADMIN_TOKEN (+ NEURALLOG_SYNC_INTERVAL_S).
 */
import { KubeConfig } from '@kubernetes/client-node';
import { hostname } from 'node:os';
import { DEFAULT_IMAGES } from './desired-state.ts';
import { Operator } from './operator.ts';
import { SYSTEM_NAMESPACE } from './tenant.ts';

function log(event: string, fields: Record<string, unknown> = {}): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg: event, ...fields })}\n`);
}

const kubeconfig = new KubeConfig();
kubeconfig.loadFromDefault(); // in the cluster: the pod's service account; outside: KUBECONFIG or ~/.kube/config
const env = process.env;
const operator = new Operator(kubeconfig, {
  identity: env.POD_NAME ?? hostname(),
  leaseNamespace: env.POD_NAMESPACE ?? SYSTEM_NAMESPACE,
  healthPort: Number(env.HEALTH_PORT ?? 8080),
  controller: {
    images: { ingest: env.NEURALLOG_INGEST_IMAGE ?? DEFAULT_IMAGES.ingest, clickhouse: env.NEURALLOG_CLICKHOUSE_IMAGE ?? DEFAULT_IMAGES.clickhouse },
  },
  ...(env.NEURALLOG_ADMIN_URL && env.NEURALLOG_PLATFORM_ADMIN_TOKEN
    ? { sync: { adminUrl: env.NEURALLOG_ADMIN_URL, token: env.NEURALLOG_PLATFORM_ADMIN_TOKEN, intervalMs: Number(env.NEURALLOG_SYNC_INTERVAL_S ?? 60) * 1000 } }
    : {}),
  log,
});
await operator.start();
log('operator.started', { healthPort: operator.healthPort });
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log('operator.stopping', { signal });
    operator.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
