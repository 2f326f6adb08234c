import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

const root = path.dirname(fileURLToPath(import.meta.url));

/** The web app: built into dist/web at the repository root; the server serves /assets/* from there. */
export default defineConfig({
  root,
  base: '/',
  publicDir: false,
  plugins: [react()],
  build: {
    outDir: path.resolve(root, '../../dist/web'),
    emptyOutDir: true,
    assetsDir: 'assets',
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    // `npx vite --config src/web/vite.config.ts` for development against a running server on :3000.
    proxy: { '/api': 'http://127.0.0.1:3000' },
  },
});
