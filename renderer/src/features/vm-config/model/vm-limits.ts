/** The library's own limits and power-off fields (electron/common/vm-rules.ts). */
export { fieldsNeedingPowerOff, vmLimits } from '../../../../../electron/common/vm-rules.ts';
import { fieldsNeedingPowerOff, vmLimits } from '../../../../../electron/common/vm-rules.ts';

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
