/**
 * The VM host process: `node dist/vm-host/vm-host.mjs --vm-folder DIR [--report-fd N]` (the
 * bundle), or from source `node --import tsx electron/services/vm-host/vm-host-main.ts …`.
 * VmHostRegistry launches it detached, with stdout and stderr appended to the VM's log and a
 * pipe on fd N for the one startup report (a JSON line: running, or why not). Run by hand it
 * prints the report on stdout instead and stays in the foreground; Ctrl-C powers the VM off.
 *
 * Exit status: 0 the VM stopped (powered off, halted), 1 it failed or could not start,
 * 2 bad arguments.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadNativeAddon } from '../native/load-addon.ts';
import { startVmHost } from './vm-host.ts';
import { runVmHostProcess } from './vm-host-process.ts';

/** Replaced by scripts/build.mjs (esbuild `define`); absent when running from source. */
declare const __NESTBOX_VERSION__: string | undefined;

function hostVersion(): string {
  if (typeof __NESTBOX_VERSION__ === 'string') return __NESTBOX_VERSION__;
  try {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
    const manifest = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as {
      version?: unknown;
    };
    return typeof manifest.version === 'string' ? manifest.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

function parseHostArgs(argv: readonly string[]): { folder: string; reportFd?: number } {
  const { values } = parseArgs({
    args: [...argv],
    options: { 'vm-folder': { type: 'string' }, 'report-fd': { type: 'string' } },
    strict: true,
    allowPositionals: false,
  });
  const folder = values['vm-folder'];
  if (!folder) throw new Error('--vm-folder DIR is required');
  const fd = values['report-fd'];
  if (fd !== undefined && !/^\d+$/.test(fd)) throw new Error('--report-fd must be a number');
  return { folder, ...(fd !== undefined ? { reportFd: Number(fd) } : {}) };
}

let args: ReturnType<typeof parseHostArgs>;
try {
  args = parseHostArgs(process.argv.slice(2));
} catch (error) {
  process.stderr.write(
    `nestbox vm-host: ${error instanceof Error ? error.message : String(error)}\n` +
      'Usage: vm-host --vm-folder DIR [--report-fd N]\n',
  );
  process.exit(2);
}

await runVmHostProcess({
  reportFd: args.reportFd,
  start: () =>
    startVmHost({
      folder: args.folder,
      env: process.env,
      loadAddon: () => loadNativeAddon(),
      hostVersion: hostVersion(),
    }),
});
