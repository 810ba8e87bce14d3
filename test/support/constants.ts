/** Values the test projects configure the workers with (vitest.config.ts) and the tests rely on. */
export const TEST_API_KEY = 'nl_test_0123456789abcdefghijklmnop';
export const TEST_TENANT = 'dev';
export const TEST_LIMITS = {
  maxRequestBytes: 65_536,
  maxRecordsPerRequest: 200,
  maxRecordBytes: 4096,
};
export const TEST_FLUSH = {
  maxRows: 50,
  /** Far ahead: alarms fire when a test runs them, or at a row threshold. */
  maxAgeMs: 600_000,
  retryBaseMs: 600_000,
  /** Small, so that a backlog takes several flushes. */
  batchMaxRows: 100,
  concurrency: 2,
};
