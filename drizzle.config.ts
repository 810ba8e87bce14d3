import { defineConfig } from 'drizzle-kit';

/** `npm run db:generate` writes D1 migrations from the schema. */
export default defineConfig({
  dialect: 'sqlite',
  schema: './shared/control-plane/schema.ts',
  out: './migrations/d1',
});
