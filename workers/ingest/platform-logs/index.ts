/**
 * neurallog-platform-logs: the tail worker of NeuralLog's own workers.
 *
 * The gateway, ingest, query and admin workers name it in `tail_consumers`
 * (their wrangler configs), so the runtime hands it each of their invocations
 * — a Durable Object's included, as the ingest worker hosts the actors — once
 * it has ended: its console lines, exceptions and outcome. When
 * NEURALLOG_SELF_LOGS is `1` it ships them into the platform tenant
 * (NEURALLOG_PLATFORM_TENANT), so operators search the platform with the
 * platform (docs/operations.md, "Self-logging"): gathered across tail calls
 * in the isolate (batch.ts) and shipped a batch at a time, at most a second
 * after the oldest was gathered.
 *
 * It is no one's producer (its own config names no tail consumer), so what it
 * logs — a refused shipment, say — is never shipped again; what its shipping
 * makes the platform tenant's actors log is held back by loop-guard.ts.
 * It lives beside the ingest worker because it is a second entry point of the
 * same pipeline (workers/ingest/pipeline.ts), deployed as a worker of its own.
 */
import { logEvent } from '../../../shared/logger.ts';
import { gatherTailEvents, type PlatformLogsEnv } from './ship.ts';

export default {
  async tail(events, env, ctx) {
    try {
      await gatherTailEvents(events, env, (work) => ctx.waitUntil(work), { producer: producerOf(ctx) });
    } catch (err) {
      // Self-logs are best effort: a failure here is said on this worker's own output, never retried into a loop.
      logEvent('error', 'self_logs.failed', { error: err instanceof Error ? err.message : String(err) });
    }
  },
} satisfies ExportedHandler<PlatformLogsEnv>;

/** The producing worker's name when the runtime passes it (the local runtime: scripts/workers-runtime.ts); the edge sets each event's `scriptName` instead. */
function producerOf(ctx: ExecutionContext): string | null {
  const props = (ctx as { props?: unknown }).props;
  const producer = props !== null && typeof props === 'object' && Object.hasOwn(props, 'producer') ? (props as { producer: unknown }).producer : null;
  return typeof producer === 'string' ? producer.slice(0, 128) : null;
}
