/**
 * One embedded ClickHouse (schema applied) and one fault proxy in front of it,
 * for every Workers test project. chDB allows one engine per process, and the
 * global setups of all projects run in vitest's main process, so they share
 * one instance and the last teardown stops it.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startEmbeddedClickHouse } from '../../embedded-clickhouse/server.ts';
import { migrateClickHouse } from '../../migrations/clickhouse/migrate.ts';
import { startFaultProxy } from '../../scripts/chaos/clickhouse-fault-proxy.ts';
import { startIdentityProvider } from './identity-provider.ts';
import { startStripeStandIn } from './stripe-stand-in.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    clickhouseUrl: string;
    faultProxyUrl: string;
    jwksUrl: string;
    /** The identity provider's signing key (JWK JSON), for tests that mint tokens. */
    jwtPrivateJwk: string;
    /** The local server speaking Stripe's API (test/support/stripe-stand-in.ts), and the secret key it accepts. */
    stripeUrl: string;
    stripeSecretKey: string;
  }
}

interface Shared {
  clickhouseUrl: string;
  faultProxyUrl: string;
  jwksUrl: string;
  jwtPrivateJwk: string;
  stripeUrl: string;
  stripeSecretKey: string;
  users: number;
  close(): Promise<void>;
}

const KEY = Symbol.for('neurallog.test.clickhouse');
type WithShared = typeof globalThis & { [KEY]?: Promise<Shared> };

async function start(): Promise<Shared> {
  const dir = await mkdtemp(join(tmpdir(), 'neurallog-test-ch-'));
  const clickhouse = await startEmbeddedClickHouse({ dataPath: dir, port: 0 });
  await migrateClickHouse({ url: clickhouse.url, username: 'default', password: '', database: 'neurallog' });
  const proxy = await startFaultProxy(clickhouse.url);
  const idp = await startIdentityProvider();
  const stripe = await startStripeStandIn();
  return {
    stripeUrl: stripe.url,
    stripeSecretKey: stripe.secretKey,
    clickhouseUrl: clickhouse.url,
    faultProxyUrl: proxy.url,
    jwksUrl: idp.jwksUrl,
    jwtPrivateJwk: idp.privateJwk,
    users: 0,
    async close() {
      await stripe.close();
      await idp.close();
      await proxy.close();
      await clickhouse.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export default async function setup(project: TestProject) {
  const g = globalThis as WithShared;
  g[KEY] ??= start();
  const shared = await g[KEY];
  shared.users++;
  project.provide('clickhouseUrl', shared.clickhouseUrl);
  project.provide('faultProxyUrl', shared.faultProxyUrl);
  project.provide('jwksUrl', shared.jwksUrl);
  project.provide('jwtPrivateJwk', shared.jwtPrivateJwk);
  project.provide('stripeUrl', shared.stripeUrl);
  project.provide('stripeSecretKey', shared.stripeSecretKey);
  return async () => {
    if (--shared.users === 0) {
      delete g[KEY];
      await shared.close();
    }
  };
}
