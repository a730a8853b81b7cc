/**
 * Builds the host check's `HostInfo`: machine facts from Node plus the native core's KVM probe.
 * Plain Node, so Electron main, `nestbox serve` and the CLI answer `host.info` identically.
 */
import { existsSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DemoGuest, HostInfo, KvmStatus } from '../common/host-info.ts';

const DEMO_GUEST_FILE = 'demo-guest.elf';

/** The directory of the running file, in CommonJS bundles and in ES modules alike. */
function runningFileDir(): string {
  return typeof __dirname === 'string' ? __dirname : dirname(fileURLToPath(import.meta.url));
}

/**
 * Every place scripts/build-demo-guest.mjs's output may be, in the order to try them: under
 * sources run with tsx (electron/services/ → dist/demo/), next to the bundles (dist/cli/,
 * dist/electron/ → dist/demo/), and in a packaged app the unpacked copy before the asar one
 * (the VM host reads the kernel with plain file I/O).
 */
export function demoGuestCandidates(fromDir: string = runningFileDir()): string[] {
  const candidates: string[] = [];
  for (const relative of [
    join('..', '..', 'dist', 'demo', DEMO_GUEST_FILE),
    join('..', 'demo', DEMO_GUEST_FILE),
  ]) {
    const absolute = resolve(fromDir, relative);
    const unpacked = absolute.replace(/([\\/])app\.asar([\\/])/, '$1app.asar.unpacked$2');
    if (unpacked !== absolute) candidates.push(unpacked);
    candidates.push(absolute);
  }
  return [...new Set(candidates)];
}

/** The first candidate that exists, as HostInfo reports it; null when none does. */
export function findDemoGuest(
  candidates: readonly string[] = demoGuestCandidates(),
): DemoGuest | null {
  const kernel = candidates.find((path) => existsSync(path));
  return kernel === undefined ? null : { kernel, kernelFormat: 'elf' };
}

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
  /** Where to look for the demo kernel; demoGuestCandidates() otherwise. Injected in tests. */
  demoGuestCandidates?: readonly string[];
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
    demoGuest: findDemoGuest(options.demoGuestCandidates),
  };
}
