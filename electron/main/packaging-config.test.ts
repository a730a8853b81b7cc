/**
 * The packaging configuration, checked here because electron-builder cannot run to the end on
 * machines without the Electron download: its own schema validation (the step that runs
 * before any download) must accept the config, and the files it points at must exist.
 */
import assert from 'node:assert/strict';
import { constants } from 'node:fs';
import { access, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Configuration } from 'app-builder-lib';
import { getConfig, validateConfiguration } from 'app-builder-lib/out/util/config/config.js';
import { DebugLogger } from 'builder-util';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const configPath = path.join(root, 'build', 'electron-builder.config.cjs');
// A private copy: electron-builder's loader shares Node's module cache and may modify the object.
const config = structuredClone(createRequire(import.meta.url)(configPath) as Configuration);

test('electron-builder loads the config file and its schema validation accepts it', async () => {
  // getConfig is what the electron-builder CLI runs: it reads the file and package.json.
  const loaded = await getConfig(root, configPath, null);
  await validateConfiguration(loaded, new DebugLogger(false));
  assert.equal(loaded.appId, 'org.nestbox.Nestbox');
});

test('the validation really checks: a misspelt option is refused', async () => {
  const broken = { ...config, linux: { ...config.linux, categroy: 'System' } } as Configuration;
  await assert.rejects(
    validateConfiguration(broken, new DebugLogger(false)),
    /Invalid configuration object[\s\S]*configuration\.linux/,
  );
});

test('builds an AppImage and a deb from dist/, addon unpacked, no native rebuild', () => {
  assert.equal(config.productName, 'Nestbox');
  assert.deepEqual(config.linux?.target, ['AppImage', 'deb']);
  assert.equal(config.directories?.output, 'release');
  assert.ok(Array.isArray(config.files) && config.files.includes('dist/**'));
  assert.ok(config.files.includes('package.json'));
  assert.deepEqual(config.asarUnpack, ['dist/native/*.node', 'dist/demo/*']);
  assert.equal(config.npmRebuild, false);
  assert.equal(config.nodeGypRebuild, false);
});

test('the desktop entry is in System;Emulator; with matching window class and keywords', () => {
  assert.equal(config.linux?.category, 'System;Emulator;');
  const entry = config.linux?.desktop?.entry ?? {};
  assert.equal(entry['StartupWMClass'], 'org.nestbox.Nestbox');
  assert.equal(
    (config.extraMetadata as { desktopName?: string } | undefined)?.desktopName,
    `${entry['StartupWMClass']}.desktop`,
    'Electron takes its window class from desktopName',
  );
  assert.deepEqual(entry['Keywords']?.split(';').filter(Boolean), ['VM', 'virtual machine', 'KVM']);
});

test('the deb desktop entry hands VM folders over as paths, and claims no MIME types', async () => {
  const { LinuxTargetHelper } = await import('app-builder-lib/out/targets/LinuxTargetHelper.js');
  const loaded = await getConfig(root, configPath, null);
  // What electron-builder writes into the .deb's .desktop file, from the deb's options.
  const packager = {
    appInfo: { productName: 'Nestbox', sanitizedProductName: 'Nestbox' },
    executableName: 'nestbox',
    info: { metadata: { desktopName: 'org.nestbox.Nestbox.desktop' } },
    config: loaded,
    platformSpecificBuildOptions: loaded.linux,
    fileAssociations: [],
  };
  const helper = new LinuxTargetHelper(packager as never);
  const entry = await helper.computeDesktopEntry({ ...loaded.linux, ...loaded.deb });
  assert.match(entry, /^Exec=\/opt\/Nestbox\/nestbox %F$/m);
  // inode/directory would make Nestbox the opener of every folder on some desktops.
  assert.doesNotMatch(entry, /^MimeType=/m);
  assert.equal(config.linux?.executableArgs, undefined, 'the AppImage keeps --no-sandbox');
});

test('the icon set has every size the desktop needs', async () => {
  const iconDir = path.join(root, config.linux?.icon ?? 'missing');
  for (const size of [16, 24, 32, 48, 64, 128, 256, 512]) {
    const png = await readFile(path.join(iconDir, `${size}x${size}.png`));
    assert.equal(png.subarray(1, 4).toString('latin1'), 'PNG', `${size}x${size}.png`);
    // IHDR width and height, big-endian, right after the 8-byte signature and chunk header.
    assert.equal(png.readUInt32BE(16), size);
    assert.equal(png.readUInt32BE(20), size);
  }
});

test('the deb post-install script exists, is executable and explains the kvm group', async () => {
  const script = path.join(root, config.deb?.afterInstall ?? 'missing');
  await access(script, constants.X_OK);
  const text = await readFile(script, 'utf8');
  assert.match(text, /sudo usermod -aG kvm \$USER/);
  // electron-builder substitutes ${name} macros and fails the build on unknown ones.
  const macros = new Set([...text.matchAll(/\$\{([a-zA-Z]+)\}/g)].map((match) => match[1]));
  assert.deepEqual([...macros].sort(), ['executable', 'sanitizedProductName']);
  assert.ok(config.deb?.depends?.includes('libgtk-3-0'));
});
