/**
 * The VM form as the user types it (text for numbers, so a half-typed value stays visible
 * and gets a message) and its conversions: defaults for a new VM, a config into the form,
 * the form into `vms.create`'s request or a `vms.update` patch naming only what changed.
 */
import type {
  CreateVmRequest,
  GuestOs,
  VmConfig,
  VmDisk,
  VmDiskFormat,
  VmNetworkMode,
  VmPatch,
  VmPortForwardInput,
} from '../../../../../electron/common/vm-details.ts';
import type { ResourceLimits } from './host-limits.ts';
import { defaultDisplay, vramFor } from './vm-limits.ts';

export interface PortForwardDraft {
  /** Stable React key; not sent. */
  key: string;
  protocol: 'tcp' | 'udp';
  hostAddress: string;
  hostPort: string;
  guestPort: string;
}

export interface DiskDraft {
  key: string;
  file: string;
  format: VmDiskFormat;
  readOnly: boolean;
}

export type DiskChoice = 'new' | 'existing' | 'none';
export type SizeUnit = 'GiB' | 'MiB';
/** A disk image given by path: its format read from its header, or named. */
export type ExistingDiskFormat = VmDiskFormat | 'detect';

export interface VmFormValues {
  name: string;
  guestOs: GuestOs;
  notes: string;
  kernel: string;
  initrd: string;
  cmdline: string;
  cpus: string;
  memoryMiB: string;
  /** New VM only: what becomes /dev/vda. */
  diskChoice: DiskChoice;
  newDiskSize: string;
  newDiskUnit: SizeUnit;
  existingDiskPath: string;
  existingDiskFormat: ExistingDiskFormat;
  existingDiskReadOnly: boolean;
  /** Settings only: the VM's disks in order. */
  disks: DiskDraft[];
  networkMode: VmNetworkMode;
  portForwards: PortForwardDraft[];
  displayEnabled: boolean;
  displayWidth: string;
  displayHeight: string;
}

let keyCounter = 0;
export function newKey(prefix: string): string {
  keyCounter += 1;
  return `${prefix}-${keyCounter}`;
}

export function emptyPortForward(): PortForwardDraft {
  return {
    key: newKey('forward'),
    protocol: 'tcp',
    hostAddress: '127.0.0.1',
    hostPort: '',
    guestPort: '',
  };
}

export const DEFAULT_CMDLINE = 'console=ttyS0';
export const DEFAULT_NEW_DISK_GIB = 8;

export function newVmDefaults(limits: ResourceLimits): VmFormValues {
  return {
    name: '',
    guestOs: 'linux',
    notes: '',
    kernel: '',
    initrd: '',
    cmdline: DEFAULT_CMDLINE,
    cpus: String(limits.defaultCpus),
    memoryMiB: String(limits.defaultMemoryMiB),
    diskChoice: 'new',
    newDiskSize: String(DEFAULT_NEW_DISK_GIB),
    newDiskUnit: 'GiB',
    existingDiskPath: '',
    existingDiskFormat: 'detect',
    existingDiskReadOnly: false,
    disks: [],
    networkMode: 'nat',
    portForwards: [],
    displayEnabled: true,
    displayWidth: String(defaultDisplay.width),
    displayHeight: String(defaultDisplay.height),
  };
}

export function formFromConfig(config: VmConfig): VmFormValues {
  const { hardware, boot } = config;
  return {
    name: config.name,
    guestOs: config.guestOs,
    notes: config.notes,
    kernel: boot.kernel,
    initrd: boot.initrd ?? '',
    cmdline: boot.cmdline,
    cpus: String(hardware.cpus),
    memoryMiB: String(hardware.memoryMiB),
    diskChoice: 'none',
    newDiskSize: '',
    newDiskUnit: 'GiB',
    existingDiskPath: '',
    existingDiskFormat: 'detect',
    existingDiskReadOnly: false,
    disks: hardware.disks.map((disk) => ({
      key: newKey('disk'),
      file: disk.file,
      format: disk.format,
      readOnly: disk.readOnly ?? false,
    })),
    networkMode: hardware.network.mode,
    portForwards: hardware.network.portForwards.map((forward) => ({
      key: newKey('forward'),
      protocol: forward.protocol,
      hostAddress: forward.hostAddress,
      hostPort: String(forward.hostPort),
      guestPort: String(forward.guestPort),
    })),
    displayEnabled: hardware.display !== null,
    displayWidth: String(hardware.display?.width ?? defaultDisplay.width),
    displayHeight: String(hardware.display?.height ?? defaultDisplay.height),
  };
}

/** A whole number typed as text, or NaN: "12" → 12; "12.5", "1e3", " " → NaN. */
export function parseWhole(text: string): number {
  const trimmed = text.trim();
  return /^\d{1,12}$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}

/** A size typed as text with up to three decimals: "8", "0.5". */
export function parseSize(text: string): number {
  const trimmed = text.trim();
  return /^\d{1,9}(\.\d{1,3})?$/.test(trimmed) ? Number(trimmed) : Number.NaN;
}

export const unitBytes: Record<SizeUnit, number> = { MiB: 1024 ** 2, GiB: 1024 ** 3 };

export function newDiskBytes(values: Pick<VmFormValues, 'newDiskSize' | 'newDiskUnit'>): number {
  return Math.round(parseSize(values.newDiskSize) * unitBytes[values.newDiskUnit]);
}

function portForwardsOf(values: VmFormValues): VmPortForwardInput[] {
  return values.portForwards.map((forward) => ({
    protocol: forward.protocol,
    hostAddress: forward.hostAddress.trim(),
    hostPort: parseWhole(forward.hostPort),
    guestPort: parseWhole(forward.guestPort),
  }));
}

function displayOf(values: VmFormValues, keepVramMiB?: number) {
  if (!values.displayEnabled) return null;
  const width = parseWhole(values.displayWidth);
  const height = parseWhole(values.displayHeight);
  // Keep the VM's video memory when the new size still fits in it.
  const fits = keepVramMiB !== undefined && width * height * 4 <= keepVramMiB * 1024 * 1024;
  return { width, height, vramMiB: fits ? keepVramMiB : vramFor(width, height) };
}

/** `vms.create`'s request for a validated form. */
export function toCreateRequest(values: VmFormValues): CreateVmRequest {
  const request: CreateVmRequest = {
    name: values.name.trim(),
    guestOs: values.guestOs,
    kernel: values.kernel.trim(),
    append: values.cmdline,
    cpus: parseWhole(values.cpus),
    memoryMiB: parseWhole(values.memoryMiB),
    network:
      values.networkMode === 'nat'
        ? { mode: 'nat', portForwards: portForwardsOf(values) }
        : { mode: 'none' },
    display: displayOf(values),
  };
  if (values.initrd.trim()) request.initrd = values.initrd.trim();
  if (values.notes.trim()) request.notes = values.notes;
  if (values.diskChoice === 'new') request.newDisk = { sizeBytes: newDiskBytes(values) };
  if (values.diskChoice === 'existing') {
    request.disk = {
      file: values.existingDiskPath.trim(),
      ...(values.existingDiskFormat === 'detect' ? {} : { format: values.existingDiskFormat }),
      ...(values.existingDiskReadOnly ? { readOnly: true } : {}),
    };
  }
  return request;
}

function disksOf(values: VmFormValues): VmDisk[] {
  return values.disks.map((disk) => ({
    file: disk.file.trim(),
    format: disk.format,
    ...(disk.readOnly ? { readOnly: true } : {}),
  }));
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * A `vms.update` patch with only what differs from `initial` (so a VM that runs can still get
 * a new name or notes), or null when nothing changed.
 */
export function toPatch(
  config: VmConfig,
  initial: VmFormValues,
  values: VmFormValues,
): VmPatch | null {
  const patch: VmPatch = {};
  const hardware: NonNullable<VmPatch['hardware']> = {};
  if (values.name.trim() !== initial.name.trim()) patch.name = values.name.trim();
  if (values.notes !== initial.notes) patch.notes = values.notes;
  if (values.guestOs !== initial.guestOs) patch.guestOs = values.guestOs;
  if (values.cpus.trim() !== initial.cpus.trim()) hardware.cpus = parseWhole(values.cpus);
  if (values.memoryMiB.trim() !== initial.memoryMiB.trim()) {
    hardware.memoryMiB = parseWhole(values.memoryMiB);
  }
  if (!same(disksOf(values), disksOf(initial))) hardware.disks = disksOf(values);

  const network: NonNullable<NonNullable<VmPatch['hardware']>['network']> = {};
  if (values.networkMode !== initial.networkMode) network.mode = values.networkMode;
  // Forwards are kept while the mode is "none"; only a NAT form edits them.
  if (values.networkMode === 'nat' && !same(portForwardsOf(values), portForwardsOf(initial))) {
    network.portForwards = portForwardsOf(values);
  }
  if (Object.keys(network).length > 0) hardware.network = network;

  const display = displayOf(values, config.hardware.display?.vramMiB);
  const initialDisplay = displayOf(initial, config.hardware.display?.vramMiB);
  if (!same(display, initialDisplay)) hardware.display = display;
  if (Object.keys(hardware).length > 0) patch.hardware = hardware;

  if (
    values.kernel.trim() !== initial.kernel.trim() ||
    values.initrd.trim() !== initial.initrd.trim() ||
    values.cmdline !== initial.cmdline
  ) {
    patch.boot = {
      kind: 'kernel',
      kernel: values.kernel.trim(),
      ...(values.initrd.trim() ? { initrd: values.initrd.trim() } : {}),
      cmdline: values.cmdline,
    };
  }
  return Object.keys(patch).length > 0 ? patch : null;
}
