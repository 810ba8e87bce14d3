import type { IngestEnv } from '../../workers/ingest/env.ts';
import type { QueryEnv } from '../../workers/query/env.ts';

declare global {
  namespace Cloudflare {
    /** Bindings of the Workers test projects (vitest.config.ts). */
    interface Env extends IngestEnv, QueryEnv {
      TEST_CLICKHOUSE_URL: string;
      TEST_FAULT_PROXY_URL: string;
      TEST_D1_MIGRATIONS: import('cloudflare:test').D1Migration[];
      TEST_JWT_PRIVATE_JWK: string;
    }
    /** Each Workers test project's main module exports a Hono app as `default`. */
    interface GlobalProps {
      mainModule: typeof import('../../workers/ingest/index.ts');
    }
  }
}
