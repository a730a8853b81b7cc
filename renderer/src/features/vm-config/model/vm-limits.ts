/**
 * The VM config's limits and the fields that need the VM off, as the library enforces them.
 *
 * MIRRORED from electron/services/library/vm-config.ts (`vmLimits`) and vm-patch.ts
 * (`fieldsNeedingPowerOff`): the renderer may not import services code (it uses node:crypto
 * and node:path). Keep in step until these move to electron/common. The services validate
 * again on every request, so a drift shows as a service error, never as a bad vm.json.
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

/** What the library refuses to change while the VM runs (vm-patch.ts). */
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

export type PowerOffField = (typeof fieldsNeedingPowerOff)[number];

export function needsPowerOff(field: PowerOffField): boolean {
  return (fieldsNeedingPowerOff as readonly string[]).includes(field);
}

export const defaultDisplay = { width: 1024, height: 768, vramMiB: 16 } as const;

/** Video memory for a resolution: a power of two holding width × height × 4 bytes, at least 16 MiB. */
export function vramFor(width: number, height: number): number {
  const neededMiB = Math.ceil((width * height * 4) / (1024 * 1024));
  let vram = 16;
  while (vram < neededMiB) vram *= 2;
  return Math.min(vram, vmLimits.maxVramMiB);
}
