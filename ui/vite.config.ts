/**
 * The explorer's build: Vite, from ui/ into ui/dist, which the gateway serves
 * as Workers Static Assets (wrangler.toml [assets]). Hashed files under
 * /assets/, index.html and ui/public (the _headers of CSP and caching) as they are.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    // One file per chunk of code is fine; no inline scripts (CSP), no sourcemaps shipped.
    assetsInlineLimit: 0,
    sourcemap: false,
  },
});
