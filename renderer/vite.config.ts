import { defineConfig, type Plugin } from 'vite';
import react from '@vitejs/plugin-react';

// Resolve against this file, so the config works from the repo root or from renderer/.
const rendererRoot = decodeURIComponent(new URL('.', import.meta.url).pathname);

/**
 * The built page carries a strict CSP <meta> (see index.html). Vite's dev server needs an
 * inline React Refresh preamble and injects CSS as <style> tags, which that policy rightly
 * blocks, so the dev server alone serves the page without it. Builds are never affected.
 */
function dropCspMetaInDevServer(): Plugin {
  return {
    name: 'nestbox:drop-csp-meta-in-dev-server',
    apply: 'serve',
    transformIndexHtml: {
      order: 'pre',
      handler: (html) =>
        html.replace(
          /<meta\s+http-equiv="Content-Security-Policy"[^>]*>/i,
          '<!-- CSP: build only -->',
        ),
    },
  };
}

export default defineConfig({
  root: rendererRoot,
  // Relative asset URLs: the same build is loaded from app:// in Electron and over HTTP by
  // `nestbox serve`.
  // Keep Vite's caches with the repo's node_modules, not in renderer/.
  cacheDir: '../node_modules/.vite/renderer',
  base: './',
  plugins: [react(), dropCspMetaInDevServer()],
  build: {
    outDir: '../dist/renderer',
    emptyOutDir: true,
    // Electron 45 ships Chromium 142; `nestbox serve` targets a current Chromium.
    target: 'chrome120',
    // Keep every asset a file: img-src allows data:, but nothing needs to rely on it.
    assetsInlineLimit: 0,
    sourcemap: true,
  },
});
