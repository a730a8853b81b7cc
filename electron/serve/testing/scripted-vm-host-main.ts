/**
 * For tests on machines without /dev/kvm: the real VM host process (startVmHost: control
 * socket, serial queue, display stream, runtime files, the snapshot tree), launched by
 * VmHostRegistry like the real one, but around a scripted machine instead of the addon's KVM
 * one (scripted-machines.ts). The default is the `echo` machine, which behaves like the echo
 * test guest; `--machine acpi-button` (or NESTBOX_SCRIPTED_MACHINE=acpi-button) like the
 * acpi-button test guest, which shuts down on the ACPI power button; `--machine counting` is a
 * guest that counts on serial and on its disk and saves and continues snapshots. Launch it
 * with scripted-host.ts.
 *
 *   node --import tsx electron/serve/testing/scripted-vm-host-main.ts \
 *     [--machine echo|acpi-button|counting] --vm-folder DIR [--report-fd 3]
 */
import { parseArgs } from 'node:util';
import { loadNativeAddon } from '../../services/native/load-addon.ts';
import type { NativeAddon } from '../../services/native/native-addon.ts';
import { HostStartError, startVmHost } from '../../services/vm-host/vm-host.ts';
import { runVmHostProcess } from '../../services/vm-host/vm-host-process.ts';
import {
  SCRIPTED_MACHINE_VARIABLE,
  scriptedAddon,
  scriptedMachineKinds,
  type ScriptedMachineKind,
} from './scripted-machines.ts';

// Everything but the machine is as in vm-host-main.ts (runVmHostProcess).
const { values } = parseArgs({
  options: {
    machine: { type: 'string' },
    'vm-folder': { type: 'string' },
    'report-fd': { type: 'string' },
  },
});

let real: NativeAddon | undefined;

await runVmHostProcess({
  reportFd: values['report-fd'] === undefined ? undefined : Number(values['report-fd']),
  start: () => {
    const kind = values.machine ?? process.env[SCRIPTED_MACHINE_VARIABLE] ?? 'echo';
    if (!scriptedMachineKinds.includes(kind as ScriptedMachineKind)) {
      throw new HostStartError('bad-arguments', `there is no scripted machine "${kind}"`);
    }
    const addon = scriptedAddon(kind as ScriptedMachineKind, () => (real ??= loadNativeAddon()));
    return startVmHost({
      folder: values['vm-folder'] ?? '',
      env: process.env,
      loadAddon: () => addon,
      hostVersion: 'scripted',
    });
  },
});
