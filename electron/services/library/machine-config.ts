/**
 * From a library VM to the MachineConfig the native VMM takes: relative paths resolved
 * against the VM's folder, the stored MAC (and the VM id, from which the VMM would derive
 * one), no NIC for network mode 'none'.
 */
import path from 'node:path';
import type { MachineConfig } from '../native/native-addon.ts';
import type { VmConfig } from './vm-config.ts';

export interface MachineConfigSource {
  /** The VM's folder (absolute). */
  folder: string;
  config: VmConfig;
}

export interface MachineConfigOptions {
  /** Another KVM device node than /dev/kvm (NESTBOX_KVM_DEVICE). */
  kvmDevicePath?: string;
}

/** A file named in vm.json, as an absolute path: relative ones are relative to the VM folder. */
export function resolveVmPath(folder: string, file: string): string {
  return path.resolve(folder, file);
}

export function toMachineConfig(
  vm: MachineConfigSource,
  options: MachineConfigOptions = {},
): MachineConfig {
  const { folder, config } = vm;
  const { hardware, boot } = config;
  const machine: MachineConfig = {
    kernelPath: resolveVmPath(folder, boot.kernel),
    cmdline: boot.cmdline,
    memoryMiB: hardware.memoryMiB,
    cpus: hardware.cpus,
    disks: hardware.disks.map((disk) => ({
      path: resolveVmPath(folder, disk.file),
      readOnly: disk.readOnly ?? false,
    })),
    entropy: true,
    display: hardware.display && { ...hardware.display },
  };
  if (boot.initrd !== undefined) machine.initrdPath = resolveVmPath(folder, boot.initrd);
  if (hardware.network.mode === 'nat') {
    machine.network = {
      macAddress: hardware.network.macAddress,
      vmId: config.id,
      portForwards: hardware.network.portForwards.map((forward) => ({ ...forward })),
    };
  }
  if (options.kvmDevicePath !== undefined) machine.kvmDevicePath = options.kvmDevicePath;
  return machine;
}
