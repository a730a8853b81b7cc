import type { HostInfo } from '../../../client/contract.ts';
import { vmLimits } from './vm-limits.ts';

/** How much a VM may get on this computer, and what a new one gets by default. */
export interface ResourceLimits {
  maxCpus: number;
  maxMemoryMiB: number;
  defaultCpus: number;
  defaultMemoryMiB: number;
  /** The host's own figures, for hints; null when host.info did not answer. */
  hostCpus: number | null;
  hostMemoryMiB: number | null;
}

const MiB = 1024 * 1024;

/**
 * A VM gets at most the host's logical CPUs and memory (and the VMM's own limits). New VMs
 * default to 2 CPUs and a quarter of the host's memory, between 256 MiB and 2 GiB: enough for
 * a small Linux, and it leaves the host room.
 */
export function resourceLimits(
  host: Pick<HostInfo, 'cpuCount' | 'memoryBytes'> | null,
): ResourceLimits {
  if (!host || !(host.cpuCount > 0) || !(host.memoryBytes > 0)) {
    return {
      maxCpus: vmLimits.maxCpus,
      maxMemoryMiB: vmLimits.maxMemoryMiB,
      defaultCpus: 2,
      defaultMemoryMiB: 1024,
      hostCpus: null,
      hostMemoryMiB: null,
    };
  }
  const hostMemoryMiB = Math.floor(host.memoryBytes / MiB);
  const maxCpus = Math.max(vmLimits.minCpus, Math.min(vmLimits.maxCpus, host.cpuCount));
  const maxMemoryMiB = Math.max(
    vmLimits.minMemoryMiB,
    Math.min(vmLimits.maxMemoryMiB, hostMemoryMiB),
  );
  const quarter = Math.floor(hostMemoryMiB / 4 / 64) * 64;
  return {
    maxCpus,
    maxMemoryMiB,
    defaultCpus: Math.min(2, maxCpus),
    defaultMemoryMiB: Math.min(maxMemoryMiB, Math.max(256, Math.min(2048, quarter))),
    hostCpus: host.cpuCount,
    hostMemoryMiB,
  };
}

/** Above this share of the host's memory the form warns (it is allowed, but the host may swap). */
export const MEMORY_WARNING_SHARE = 0.75;
