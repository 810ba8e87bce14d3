/**
 * /v1/saved-searches — a tenant's named searches (the explorer's, and any API
 * client's): list, save, delete. Needs logs:read, as searching does. The
 * tenant is the credential's, as everywhere.
 *
 * A search is saved only if it would run: `q` must parse (400 `query_syntax`
 * with its position, as a search answers) and the times, levels and services
 * must read as a search reads them. Names are unique per tenant (409
 * `already_exists`); a tenant keeps at most MAX_SAVED_SEARCHES (409
 * `too_many_saved_searches`), checked in the INSERT itself so that concurrent
 * saves cannot pass it.
 */
import { createRoute, OpenAPIHono, z } from '@hono/zod-openapi';
import { and, desc, eq, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/d1';
import { ApiError } from '../../../shared/api-error.ts';
import { requirePrincipal } from '../../../shared/auth.ts';
import { savedSearches } from '../../../shared/control-plane/schema.ts';
import { BEARER_SECURITY, errorResponses, validationHook } from '../../../shared/openapi.ts';
import { parseScope } from '../../../shared/search-scope.ts';
import { credentialName } from '../../../shared/session.ts';
import type { QueryApp } from '../env.ts';

export const MAX_SAVED_SEARCHES = 500;

const SearchParams = z
  .object({
    q: z.string().max(4096).optional().openapi({ description: 'The query language (docs/query-language.md)' }),
    from: z.string().max(64).optional().openapi({ description: 'As search takes it: RFC 3339, Unix epoch, now or now-15m' }),
    to: z.string().max(64).optional(),
    level: z.string().max(256).optional().openapi({ description: 'Comma list of levels' }),
    service: z.string().max(4096).optional().openapi({ description: 'Comma list of services' }),
    columns: z.array(z.string().min(1).max(256)).max(100).optional().openapi({ description: 'The columns the explorer shows (attribute names)' }),
  })
  .strict()
  .openapi('SavedSearchParams');

const SavedSearch = z
  .object({
    id: z.string(),
    name: z.string(),
    params: SearchParams,
    createdAt: z.string().openapi({ format: 'date-time' }),
    createdBy: z.string().openapi({ description: 'The credential that saved it: `key:<id>` or `jwt:<sub>` (through a session too)' }),
  })
  .openapi('SavedSearch');

const CreateSavedSearch = z
  .object({
    name: z.string().trim().min(1).max(200).openapi({ description: '1–200 characters, unique within the tenant' }),
    params: SearchParams,
  })
  .strict()
  .openapi('CreateSavedSearch');

type Params = z.infer<typeof SearchParams>;
type Row = typeof savedSearches.$inferSelect;

const toSavedSearch = (row: Row): z.infer<typeof SavedSearch> => ({
  id: row.id,
  name: row.name,
  params: row.params as Params,
  createdAt: row.createdAt.toISOString(),
  createdBy: row.createdBy,
});

/** The params read as a search would read them; errors name `params.<field>` (and a syntax error keeps its position). */
function checkParams(params: Params, now: number): void {
  const query = new URLSearchParams();
  for (const name of ['q', 'from', 'to', 'level', 'service'] as const) {
    const value = params[name];
    if (value !== undefined && value !== '') query.set(name, value);
  }
  try {
    parseScope(query, now);
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    const field = `params.${String(err.details.parameter ?? 'q')}`;
    if (err.code === 'query_syntax') throw new ApiError(400, 'query_syntax', `params.${err.message}`, { ...err.details, field });
    throw new ApiError(400, 'invalid_request', `params.${err.message}`, { field });
  }
}

export const savedSearchRoutes = new OpenAPIHono<QueryApp>({ defaultHook: validationHook });
savedSearchRoutes.use('*', requirePrincipal('logs:read'));

savedSearchRoutes.openapi(
  createRoute({
    method: 'get',
    path: '/',
    summary: "The tenant's saved searches, newest first (needs logs:read)",
    security: BEARER_SECURITY,
    responses: {
      200: { description: 'Saved searches', content: { 'application/json': { schema: z.object({ savedSearches: z.array(SavedSearch) }) } } },
      ...errorResponses(401, 403),
    },
  }),
  async (c) => {
    const { tenantId } = c.get('principal');
    const rows = await drizzle(c.env.CONTROL_DB)
      .select()
      .from(savedSearches)
      .where(eq(savedSearches.tenantId, tenantId))
      .orderBy(desc(savedSearches.createdAt), desc(sql`rowid`));
    return c.json({ savedSearches: rows.map(toSavedSearch) }, 200);
  },
);

savedSearchRoutes.openapi(
  createRoute({
    method: 'post',
    path: '/',
    summary: 'Save a search (needs logs:read)',
    description: `Names are unique per tenant (409 \`already_exists\`); at most ${MAX_SAVED_SEARCHES} per tenant (409 \`too_many_saved_searches\`). \`q\` must parse (400 \`query_syntax\` with \`position\`).`,
    security: BEARER_SECURITY,
    request: { body: { content: { 'application/json': { schema: CreateSavedSearch } }, required: true } },
    responses: {
      201: { description: 'Saved', content: { 'application/json': { schema: SavedSearch } } },
      ...errorResponses(400, 401, 403, 409),
    },
  }),
  async (c) => {
    const principal = c.get('principal');
    const { name, params } = c.req.valid('json');
    const now = Date.now();
    checkParams(params, now);
    const id = crypto.randomUUID();
    let changes: number;
    try {
      // The count and the insert in one statement: D1 runs it alone, so the cap holds under concurrent saves.
      const result = await c.env.CONTROL_DB.prepare(
        `INSERT INTO saved_searches (id, tenant_id, name, params, created_at, created_by)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE (SELECT count(*) FROM saved_searches WHERE tenant_id = ?2) < ?7`,
      )
        .bind(id, principal.tenantId, name, JSON.stringify(params), now, credentialName(principal.credential), MAX_SAVED_SEARCHES)
        .run();
      changes = result.meta.changes;
    } catch (err) {
      if (/UNIQUE constraint failed/.test((err as Error).message)) {
        throw new ApiError(409, 'already_exists', `a saved search named "${name}" exists`, { field: 'name' });
      }
      throw err;
    }
    if (changes === 0) {
      throw new ApiError(409, 'too_many_saved_searches', `this tenant has ${MAX_SAVED_SEARCHES} saved searches, the most it may keep: delete one first`, {
        limit: MAX_SAVED_SEARCHES,
      });
    }
    const row = (await drizzle(c.env.CONTROL_DB).select().from(savedSearches).where(eq(savedSearches.id, id)).limit(1))[0]!;
    return c.json(toSavedSearch(row), 201);
  },
);

savedSearchRoutes.openapi(
  createRoute({
    method: 'delete',
    path: '/{id}',
    summary: 'Delete a saved search (needs logs:read)',
    security: BEARER_SECURITY,
    request: {
      params: z.object({
        id: z
          .string()
          .max(100)
          .openapi({ param: { name: 'id', in: 'path' } }),
      }),
    },
    responses: { 204: { description: 'Deleted' }, ...errorResponses(401, 403, 404) },
  }),
  async (c) => {
    const { tenantId } = c.get('principal');
    const { id } = c.req.valid('param');
    const deleted = await drizzle(c.env.CONTROL_DB)
      .delete(savedSearches)
      .where(and(eq(savedSearches.id, id), eq(savedSearches.tenantId, tenantId)))
      .run();
    if (deleted.meta.changes === 0) throw new ApiError(404, 'not_found', `no saved search "${id}"`);
    return c.body(null, 204);
  },
);
