/**
 * The VM config's limits and the fields that need the VM powered off: the library enforces
 * them (electron/services/library/vm-config.ts, vm-patch.ts) and the renderer's forms show
 * them. Plain values only: the renderer imports this file.
 */

/**
 * The machine's own limits (native/src/machine/machine_config.{h,cc}), checked when the
 * file is read so a bad value is reported against its field, not at power-on.
 */
export const vmLimits = {
  minCpus: 1,
  maxCpus: 64,
  minMemoryMiB: 64,
  maxMemoryMiB: 1024 * 1024,
  maxDisks: 16,
  maxPortForwards: 64,
  /** The boot protocol's command-line buffer, less the NUL. */
  maxCmdlineBytes: 0x10000 - 1,
  minDisplay: { width: 320, height: 200 },
  maxDisplay: { width: 8192, height: 8192 },
  maxVramMiB: 256,
  maxNameLength: 128,
  maxNotesLength: 100_000,
  maxPathLength: 4096,
} as const;

/**
 * Fields whose change takes effect only at power-on, so the library refuses them while the
 * VM runs (rather than storing a config that differs from the running machine):
 * the VMM sizes RAM and vCPUs and opens disks, binds forwarded ports and sets up the display
 * when the machine is created, and the boot settings are read at power-on.
 * Name, notes and guest OS type change at any time.
 */
export const fieldsNeedingPowerOff = [
  'hardware.cpus',
  'hardware.memoryMiB',
  'hardware.disks',
  'hardware.network.mode',
  'hardware.network.macAddress',
  'hardware.network.portForwards',
  'hardware.display',
  'boot',
] as const;
