// The holder portal, built into web/dist and served by `certdesk serve` at `/` (hash routing: the
// server needs no SPA fallback). `npm run build:web` from the repository root.
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { fileURLToPath } from 'node:url';

// For `npx vite web`: the API calls go to a running `certdesk serve`.
const backend = process.env.CERTDESK_URL ?? 'http://127.0.0.1:8080';

export default defineConfig({
  base: '/',
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // antd is large; one vendor chunk is fine for an intranet-style portal served with caching.
    chunkSizeWarningLimit: 2500,
    sourcemap: false,
    // two pages: the holder portal (index.html) and the staff console (staff.html, src/staff/)
    rollupOptions: {
      input: {
        main: fileURLToPath(new URL('./index.html', import.meta.url)),
        staff: fileURLToPath(new URL('./staff.html', import.meta.url)),
      },
    },
  },
  server: {
    proxy: {
      '/api': backend,
      '/sandbox-pay': backend,
      '/pki': backend,
    },
  },
});
