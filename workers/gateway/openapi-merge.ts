/** Merges the workers' OpenAPI documents into the one the origin serves. */
export interface OpenApiDocument {
  openapi?: string;
  info?: Record<string, unknown>;
  paths?: Record<string, Record<string, unknown>>;
  components?: Record<string, Record<string, unknown>>;
}

export function mergeOpenApi(docs: OpenApiDocument[]): OpenApiDocument {
  const merged: Required<Pick<OpenApiDocument, 'paths' | 'components'>> & OpenApiDocument = {
    openapi: '3.1.0',
    info: {
      title: 'NeuralLog API',
      version: '1',
      description: 'Ingest (`POST /v1/logs`), search (`GET /v1/logs`) and the control plane (`/v1/admin`). Generated from the route definitions.',
    },
    paths: {},
    components: {},
  };
  for (const doc of docs) {
    for (const [path, operations] of Object.entries(doc.paths ?? {})) {
      merged.paths[path] = { ...merged.paths[path], ...operations };
    }
    for (const [kind, entries] of Object.entries(doc.components ?? {})) {
      merged.components[kind] = { ...merged.components[kind], ...entries };
    }
  }
  return merged;
}
