#!/usr/bin/env node
// Builds the native addon (native/build/Release/nestbox.node) with node-gyp.
// Run directly it is the package's `install` script and `npm run build:native`;
// scripts/build.mjs imports buildNativeAddon(). `rebuild` the first time
// (configure + build), `build` afterwards so unchanged sources are not recompiled.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const nativeDir = join(root, 'native');
export const addonPath = join(nativeDir, 'build', 'Release', 'nestbox.node');

/** Where node-gyp can be found, best first, each with how we learned of it. */
function nodeGypCandidates() {
  /** @type {{ path: string, via: string }[]} */
  const candidates = [];
  // npm sets this for lifecycle scripts to the node-gyp it bundles.
  if (process.env.npm_config_node_gyp) {
    candidates.push({ path: process.env.npm_config_node_gyp, via: 'npm_config_node_gyp' });
  }
  const npmRoot = spawnSync('npm', ['root', '-g'], { encoding: 'utf8' });
  if (npmRoot.status === 0 && npmRoot.stdout.trim()) {
    candidates.push({
      path: join(npmRoot.stdout.trim(), 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
      via: "npm's bundled node-gyp",
    });
  }
  try {
    const require = createRequire(join(root, 'package.json'));
    candidates.push({
      path: require.resolve('node-gyp/bin/node-gyp.js'),
      via: 'node_modules/node-gyp',
    });
  } catch {
    // Not installed locally; the other candidates may still work.
  }
  return candidates;
}

function findNodeGyp() {
  const candidates = nodeGypCandidates();
  const found = candidates.find((candidate) => existsSync(candidate.path));
  if (!found) {
    const tried = candidates.map((c) => `  ${c.path} (${c.via})`).join('\n') || '  (none)';
    throw new Error(
      `node-gyp not found. Tried:\n${tried}\nInstall npm (which bundles node-gyp) or run ` +
        '`npm install --no-save node-gyp`.',
    );
  }
  return found.path;
}

/**
 * Node's headers for node-gyp. An explicit npm_config_nodedir wins; otherwise
 * use the headers installed next to this node (distribution packages put them
 * in <prefix>/include/node), which saves a download that may be impossible
 * offline. Undefined lets node-gyp fetch the headers itself.
 */
function nodeHeadersDir() {
  if (process.env.npm_config_nodedir) {
    return process.env.npm_config_nodedir;
  }
  const prefix = resolve(dirname(process.execPath), '..');
  return existsSync(join(prefix, 'include', 'node', 'common.gypi')) ? prefix : undefined;
}

/**
 * Runs node-gyp (compiler output goes to this process's stdout/stderr) and
 * resolves to the built addon's path; rejects with an explanation otherwise.
 * @returns {Promise<string>}
 */
export async function buildNativeAddon() {
  if (process.platform !== 'linux') {
    throw new Error('build-native: Nestbox runs on Linux only (it needs /dev/kvm).');
  }
  const nodeGyp = findNodeGyp();
  const configured = existsSync(join(nativeDir, 'build', 'config.gypi'));
  // binding.gyp lists its sources by `find` when it is configured: a source
  // file added or removed since then needs a configure (not a full rebuild).
  const sources = currentSourceList();
  const sourcesRecord = join(nativeDir, 'build', 'configured-sources.txt');
  const sourcesChanged =
    configured && (!existsSync(sourcesRecord) || readFileSync(sourcesRecord, 'utf8') !== sources);
  const commands = !configured ? ['rebuild'] : sourcesChanged ? ['configure', 'build'] : ['build'];
  const headers = nodeHeadersDir();
  for (const command of commands) {
    const args = [nodeGyp, command, '--directory', nativeDir];
    if (command !== 'configure') args.push('-j', 'max');
    if (headers) {
      args.push(`--nodedir=${headers}`);
    }
    console.log(`build-native: node-gyp ${command} in native/`);
    await runNodeGyp(command, args);
  }
  writeFileSync(sourcesRecord, sources);
  if (!existsSync(addonPath)) {
    throw new Error(`build-native: node-gyp succeeded but ${addonPath} is missing`);
  }
  console.log(`build-native: built ${addonPath}`);
  return addonPath;
}

/** The native sources binding.gyp picks up, one per line. */
function currentSourceList() {
  /** @type {string[]} */
  const found = [];
  /** @param {string} dir */
  const walk = (dir) => {
    for (const entry of readdirSync(join(nativeDir, dir), { withFileTypes: true })) {
      const path = `${dir}/${entry.name}`;
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.cc')) found.push(path);
    }
  };
  walk('src');
  return found.sort().join('\n');
}

/**
 * @param {string} command
 * @param {string[]} args
 */
async function runNodeGyp(command, args) {
  /** @type {{ code: number | null, signal: NodeJS.Signals | null }} */
  const exit = await new Promise((resolveExit, rejectExit) => {
    const child = spawn(process.execPath, args, { stdio: 'inherit', cwd: root });
    child.on('error', (error) =>
      rejectExit(new Error(`build-native: could not run node-gyp: ${error.message}`)),
    );
    child.on('exit', (code, signal) => resolveExit({ code, signal }));
  });
  if (exit.code !== 0) {
    throw new Error(
      `build-native: node-gyp ${command} failed (${exit.signal ?? `exit ${exit.code}`}). ` +
        'The compiler output above says why. A C++20 compiler (g++ 12 or clang 14), make and ' +
        'python3 are required: run scripts/setup-system.sh.',
    );
  }
}

const runDirectly = process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
if (runDirectly) {
  buildNativeAddon().catch((error) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = 1;
  });
}
