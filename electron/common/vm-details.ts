/**
 * One VM as the UI sees it (its vm.json and its run state) and what the UI sends to create or
 * change one. These mirror the library's own types (electron/services/library/vm-config.ts,
 * vm-patch.ts) field for field; the request handlers return library values as these types,
 * so the compiler keeps the two in step. docs/vm-library.md has the rules for each field.
 */
import type { ValidationIssueData } from './validation-issue.ts';
import type { VmLastExit, VmRunState } from './vm-list.ts';

export type GuestOs = 'linux' | 'other';
export type VmDiskFormat = 'qcow2' | 'raw';
export type VmNetworkMode = 'nat' | 'none';

export interface VmDisk {
  /** Absolute, or relative to the VM's folder. */
  file: string;
  format: VmDiskFormat;
  readOnly?: boolean;
}

export interface VmPortForward {
  protocol: 'tcp' | 'udp';
  hostAddress: string;
  hostPort: number;
  guestPort: number;
}

/** A port forward as the UI gives it: protocol and host address default to tcp, 127.0.0.1. */
export interface VmPortForwardInput {
  protocol?: 'tcp' | 'udp';
  hostAddress?: string;
  hostPort: number;
  guestPort: number;
}

export interface VmDisplay {
  width: number;
  height: number;
  vramMiB: number;
}

export interface VmConfig {
  schemaVersion: 1;
  id: string;
  name: string;
  notes: string;
  guestOs: GuestOs;
  createdAt: string;
  hardware: {
    cpus: number;
    memoryMiB: number;
    disks: VmDisk[];
    network: { mode: VmNetworkMode; macAddress: string; portForwards: VmPortForward[] };
    /** null: headless (serial console only). */
    display: VmDisplay | null;
    serial: true;
  };
  boot: { kind: 'kernel'; kernel: string; initrd?: string; cmdline: string };
}

/** `vms.get` and the answer to every change: the VM's config and whether it runs. */
export interface VmDetails {
  id: string;
  folder: string;
  /** A folder outside the library root, listed in library.json. */
  imported: boolean;
  config: VmConfig;
  state: VmRunState;
  pid?: number;
  detail?: string;
  lastExit?: VmLastExit;
}

/** The inputs of `nestbox create`, plus network and display. Paths must be absolute. */
export interface CreateVmRequest {
  name: string;
  /** bzImage or ELF vmlinux. */
  kernel: string;
  initrd?: string;
  /** The kernel command line. */
  append?: string;
  cpus?: number;
  memoryMiB?: number;
  /** An existing image as /dev/vda; format detected from its header when not given. */
  disk?: { file: string; format?: VmDiskFormat; readOnly?: boolean };
  /** A new empty qcow2 disk in the VM's folder (`disk.qcow2`). Not together with `disk`. */
  newDisk?: { sizeBytes: number };
  /** Default NAT without forwards. */
  network?: { mode: VmNetworkMode; portForwards?: VmPortForwardInput[] };
  /** Default 1024×768 with 16 MiB; null for a headless VM. */
  display?: VmDisplay | null;
  notes?: string;
  guestOs?: GuestOs;
}

/** Names only what changes (docs/vm-library.md, "update"). */
export interface VmPatch {
  name?: string;
  notes?: string;
  guestOs?: GuestOs;
  hardware?: {
    cpus?: number;
    memoryMiB?: number;
    disks?: VmDisk[];
    network?: { mode?: VmNetworkMode; macAddress?: string; portForwards?: VmPortForwardInput[] };
    display?: VmDisplay | null;
  };
  boot?: { kind: 'kernel'; kernel: string; initrd?: string; cmdline: string };
}

/** What a lifecycle request (start, stop, pause, resume, reset) left the VM in. */
export interface VmRunStatus {
  id: string;
  state: VmRunState;
  pid?: number;
  /** `vms.stop` without force: the power button was pressed; the guest decides. */
  shutdownRequested?: boolean;
  lastExit?: VmLastExit;
}

export interface VmDeleteOutcome {
  folder: string;
  /**
   * 'desktop-trash' (restorable from the file manager), 'library-trash' (`<library>/.trash`),
   * 'permanent' (erased), 'unregistered' (an imported folder that was already gone).
   */
  method: 'desktop-trash' | 'library-trash' | 'permanent' | 'unregistered';
  location?: string;
}

/** One input event for the guest's keyboard or pointer (`vms.input`). */
export type VmInputEvent =
  | { type: 'key'; code: string; pressed: boolean }
  | { type: 'pointerMove'; x: number; y: number }
  | { type: 'pointerButton'; button: number; pressed: boolean }
  | { type: 'wheel'; dx: number; dy: number }
  | { type: 'releaseAll' };

export type { ValidationIssueData };
