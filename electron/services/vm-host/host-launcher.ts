/**
 * How to run the VM host process for the layout that is running: the bundle
 * dist/vm-host/vm-host.mjs next to dist/cli/ and dist/electron/, or the TypeScript source
 * under tsx. Under Electron the host runs on Electron's own Node (ELECTRON_RUN_AS_NODE=1), so
 * an installed app needs no separate Node; see docs/vm-host.md for why it is a detached plain
 * Node process rather than a utilityProcess.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface HostLauncher {
  command: string;
  /** Before the host's own arguments (`--vm-folder DIR --report-fd 3`). */
  args: readonly string[];
  /** Added to the environment the host inherits. */
  env?: Readonly<Record<string, string>>;
}

/** Points at another host script (a bundle) than the one for this layout. */
export const HOST_SCRIPT_VARIABLE = 'NESTBOX_VM_HOST';

function runningFile(): string {
  // CommonJS bundles (Electron main) have __filename; ES modules have import.meta.url.
  return typeof __filename === 'string' ? __filename : fileURLToPath(import.meta.url);
}

export function defaultHostLauncher(
  env: NodeJS.ProcessEnv = process.env,
  fromFile: string = runningFile(),
): HostLauncher {
  const electron = process.versions['electron'] !== undefined;
  const runAsNode = electron ? { env: { ELECTRON_RUN_AS_NODE: '1' } } : {};
  const override = env[HOST_SCRIPT_VARIABLE];
  if (override) {
    return { command: process.execPath, args: [path.resolve(override)], ...runAsNode };
  }
  if (fromFile.endsWith('.ts')) {
    // Source: this file is electron/services/vm-host/host-launcher.ts, run under tsx.
    return {
      command: process.execPath,
      args: [
        '--import',
        import.meta.resolve('tsx'),
        path.join(path.dirname(fromFile), 'vm-host-main.ts'),
      ],
      ...runAsNode,
    };
  }
  // Bundles: dist/cli/nestbox.mjs, dist/electron/main.cjs → dist/vm-host/vm-host.mjs.
  return {
    command: process.execPath,
    args: [path.resolve(path.dirname(fromFile), '..', 'vm-host', 'vm-host.mjs')],
    ...runAsNode,
  };
}
