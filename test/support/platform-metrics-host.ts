/**
 * The PlatformMetrics aggregator as the query and admin test projects reach
 * it: each Workers test project runs one worker, and those two bind the
 * aggregator in the ingest worker (script_name "neurallog-ingest"), so
 * vitest.config.ts bundles this file as an auxiliary worker of that name
 * hosting the real class.
 */
export { PlatformMetrics } from '../../durable-objects/platform-metrics.ts';

export default {
  fetch(): Response {
    return new Response('the platform metrics host of the test projects', { status: 404 });
  },
};
