/**
 * The release the workers run, for `GET /healthz?verbose=1`: package.json's
 * version (a test keeps the two equal — workers cannot read package.json at
 * run time). A deployment's build is told apart by Cloudflare's version id,
 * shown beside it when the CF_VERSION_METADATA binding is configured.
 */
export const PLATFORM_VERSION = '0.1.0';
