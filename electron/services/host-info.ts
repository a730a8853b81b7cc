/**
 * Builds the host check's `HostInfo`: machine facts from Node plus the native core's KVM probe.
 * Plain Node, so Electron main, `nestbox serve` and the CLI answer `host.info` identically.
 */
import os from 'node:os';
import type { HostInfo, KvmStatus } from '../common/host-info.ts';

/** The part of the native addon the host check needs; the real addon and test fakes fit it. */
export interface KvmProber {
  probeKvm(devicePath?: string): KvmStatus;
}

/** `process.versions`: Electron adds `electron` and `chrome`, plain Node has neither. */
export interface RuntimeVersions {
  readonly node: string;
  readonly [component: string]: string | undefined;
}

export interface HostInfoOptions {
  /** The app's own version (package.json), which the caller knows how to find. */
  appVersion: string;
  /** Defaults to the addon's own default, /dev/kvm. */
  kvmDevicePath?: string;
  /** Injected in tests; `process.versions` otherwise. */
  versions?: RuntimeVersions;
}

export function getHostInfo(addon: KvmProber, options: HostInfoOptions): HostInfo {
  const versions = options.versions ?? process.versions;
  return {
    hostname: os.hostname(),
    // availableParallelism honours CPU affinity (taskset, cgroups), unlike cpus().length.
    cpuCount: os.availableParallelism(),
    memoryBytes: os.totalmem(),
    kernelRelease: os.release(),
    kvm:
      options.kvmDevicePath === undefined
        ? addon.probeKvm()
        : addon.probeKvm(options.kvmDevicePath),
    versions: {
      nestbox: options.appVersion,
      node: versions.node,
      // Present only inside Electron; `nestbox serve` and the CLI run under plain Node.
      electron: versions['electron'] ?? null,
      chrome: versions['chrome'] ?? null,
    },
  };
}
