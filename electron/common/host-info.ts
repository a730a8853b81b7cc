/** What the app knows about the machine it runs on; shown by the host check screen. */

/** Why /dev/kvm cannot be used, each with its own fix for the user. */
export type KvmProblem = 'missing' | 'permission' | 'api-version' | 'capability' | 'error';

export type KvmStatus =
  | {
      ok: true;
      devicePath: string;
      /** KVM_GET_API_VERSION; 12 on every Linux since 2.6.22. */
      apiVersion: number;
    }
  | {
      ok: false;
      devicePath: string;
      problem: KvmProblem;
      /** One line a user can act on, e.g. "…permission denied — add your user to the kvm group". */
      message: string;
    };

export interface HostInfo {
  /** `os.hostname()`, so a user of `nestbox serve` over a tunnel sees which machine answers. */
  hostname: string;
  /** Logical CPUs and total memory: the limits offered when creating a VM. */
  cpuCount: number;
  memoryBytes: number;
  kernelRelease: string;
  kvm: KvmStatus;
  /** Versions of the parts a bug report needs. */
  versions: { nestbox: string; node: string; electron: string | null; chrome: string | null };
  /**
   * The demo VM's kernel built with this copy of Nestbox (dist/demo/demo-guest.elf, absolute),
   * or null when there is none; the empty library offers "Try the demo VM" only when set.
   * Optional so that older servers (and fakes) without it read as "no demo".
   */
  demoGuest?: DemoGuest | null;
}

/** A ready-made kernel the library can make a first VM from. */
export interface DemoGuest {
  kernel: string;
  kernelFormat: 'elf';
}
