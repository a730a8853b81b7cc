#!/usr/bin/env node
// Renders assets/icon.svg to the PNG set electron-builder and the desktop use:
// build/icons/<size>x<size>.png for each size below, and assets/icon.png at 512.
// Rasterised by Chromium (playwright-core + /usr/bin/chromium) on a transparent background,
// so the output matches what a browser shows. Re-run after editing the SVG; commit the PNGs.
//
// Usage: node scripts/render-icons.mjs [--chromium /path/to/chromium]
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';

const root = fileURLToPath(new URL('..', import.meta.url));
const sizes = [16, 24, 32, 48, 64, 128, 256, 512];

const { values } = parseArgs({
  options: { chromium: { type: 'string', default: '/usr/bin/chromium' } },
});

const svg = await readFile(join(root, 'assets', 'icon.svg'));
const svgUrl = `data:image/svg+xml;base64,${svg.toString('base64')}`;

const browser = await chromium.launch({
  executablePath: values.chromium,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
});
try {
  const page = await browser.newPage({ deviceScaleFactor: 1 });
  await mkdir(join(root, 'build', 'icons'), { recursive: true });
  for (const size of sizes) {
    await page.setViewportSize({ width: size, height: size });
    // An <img> (not inline SVG) so the icon renders exactly as a standalone SVG file would.
    await page.setContent(
      `<!doctype html><html><body style="margin:0;background:transparent">` +
        `<img src="${svgUrl}" width="${size}" height="${size}" style="display:block"></body></html>`,
    );
    await page.locator('img').evaluate((img) => /** @type {HTMLImageElement} */ (img).decode());
    const png = await page.screenshot({
      omitBackground: true,
      clip: { x: 0, y: 0, width: size, height: size },
    });
    await writeFile(join(root, 'build', 'icons', `${size}x${size}.png`), png);
    if (size === 512) await writeFile(join(root, 'assets', 'icon.png'), png);
    console.log(`render-icons: build/icons/${size}x${size}.png`);
  }
} finally {
  await browser.close();
}
