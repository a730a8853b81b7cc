import { defineConfig } from 'vitest/config';
import react from '@vitejs/plugin-react';

const rendererRoot = decodeURIComponent(new URL('.', import.meta.url).pathname);

export default defineConfig({
  root: rendererRoot,
  // Keep Vite's caches with the repo's node_modules, not in renderer/.
  cacheDir: '../node_modules/.vite/renderer',
  plugins: [react()],
  test: {
    environment: 'jsdom',
    include: ['src/**/*.test.{ts,tsx}'],
    setupFiles: ['src/test/setup.ts'],
    restoreMocks: true,
    unstubGlobals: true,
  },
});
