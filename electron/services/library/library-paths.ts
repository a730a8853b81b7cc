/**
 * Where the VM library lives on disk.
 *
 * 1. The `vmFolder` setting, when the user chose one in Preferences (an absolute path).
 * 2. `$NESTBOX_HOME/vms` when NESTBOX_HOME is set. NESTBOX_HOME is a whole Nestbox data
 *    home — VMs in `vms/`, preferences in `settings.json` — so one variable gives tests,
 *    demos and a second profile a library (and settings) of their own.
 * 3. `$XDG_DATA_HOME/nestbox/vms`, else `~/.local/share/nestbox/vms`.
 */
import os from 'node:os';
import path from 'node:path';

export const NESTBOX_HOME_VARIABLE = 'NESTBOX_HOME';

/** The NESTBOX_HOME folder (made absolute against the working directory), if set. */
export function nestboxHome(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const home = env[NESTBOX_HOME_VARIABLE];
  return home ? path.resolve(home) : undefined;
}

/** `$XDG_<kind>_HOME` if absolute (the spec says to ignore relative ones), else the default under ~. */
export function xdgBaseDirectory(
  variable: 'XDG_DATA_HOME' | 'XDG_CONFIG_HOME',
  env: NodeJS.ProcessEnv = process.env,
): string {
  const value = env[variable];
  if (value && path.isAbsolute(value)) return value;
  const home = env['HOME'] || os.homedir();
  return variable === 'XDG_DATA_HOME'
    ? path.join(home, '.local', 'share')
    : path.join(home, '.config');
}

/** The default library root, ignoring the user's `vmFolder` choice. */
export function defaultLibraryRoot(env: NodeJS.ProcessEnv = process.env): string {
  const home = nestboxHome(env);
  if (home) return path.join(home, 'vms');
  return path.join(xdgBaseDirectory('XDG_DATA_HOME', env), 'nestbox', 'vms');
}

/** The library root in effect: the `vmFolder` setting if set, else the default. */
export function resolveLibraryRoot(
  env: NodeJS.ProcessEnv = process.env,
  vmFolder: string | null = null,
): string {
  return vmFolder ? path.resolve(vmFolder) : defaultLibraryRoot(env);
}
