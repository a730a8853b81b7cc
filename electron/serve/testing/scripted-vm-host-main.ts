/**
 * For tests on machines without /dev/kvm: the real VM host process (startVmHost: control
 * socket, serial queue, display stream, runtime files, the snapshot tree), launched by
 * VmHostRegistry like the real one, but around a scripted machine instead of the addon's KVM
 * one (scripted-machines.ts). The default is the `echo` machine, which behaves like the echo
 * test guest; `--machine counting` (or NESTBOX_SCRIPTED_MACHINE=counting) is a guest that
 * counts on serial and on its disk and saves and continues snapshots.
 *
 *   node --import tsx electron/serve/testing/scripted-vm-host-main.ts \
 *     [--machine echo|counting] --vm-folder DIR --report-fd 3
 */
import { closeSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadNativeAddon } from '../../services/native/load-addon.ts';
import type { NativeAddon } from '../../services/native/native-addon.ts';
import { HostStartError, startVmHost, type StartupReport } from '../../services/vm-host/vm-host.ts';
import {
  SCRIPTED_MACHINE_VARIABLE,
  scriptedAddon,
  scriptedMachineKinds,
  type ScriptedMachineKind,
} from './scripted-machines.ts';

const { values } = parseArgs({
  options: {
    machine: { type: 'string' },
    'vm-folder': { type: 'string' },
    'report-fd': { type: 'string' },
  },
});
const reportFd = Number(values['report-fd'] ?? 1);
function report(message: StartupReport): void {
  writeSync(reportFd, `${JSON.stringify(message)}\n`);
  if (reportFd !== 1) closeSync(reportFd);
}

let real: NativeAddon | undefined;

try {
  const kind = values.machine ?? process.env[SCRIPTED_MACHINE_VARIABLE] ?? 'echo';
  if (!scriptedMachineKinds.includes(kind as ScriptedMachineKind)) {
    throw new HostStartError('bad-arguments', `there is no scripted machine "${kind}"`);
  }
  const addon = scriptedAddon(kind as ScriptedMachineKind, () => (real ??= loadNativeAddon()));
  const host = await startVmHost({
    folder: values['vm-folder'] ?? '',
    loadAddon: () => addon,
    hostVersion: 'scripted',
  });
  report({ ok: true, pid: process.pid, socketPath: host.socketPath, state: 'running' });
  const exit = await host.finished;
  process.exit(exit.state === 'stopped' ? 0 : 1);
} catch (error) {
  const code = error instanceof HostStartError ? error.code : 'start-failed';
  report({ ok: false, error: { code, message: String(error) } });
  process.exit(1);
}
