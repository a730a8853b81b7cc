/**
 * The typed surface of the native addon (native/build/Release/nestbox.node),
 * the one place TypeScript learns what the C++ binding exports. Keep in step
 * with native/src/binding/.
 */
import type { KvmStatus } from '../../common/host-info.ts';
import type { DiskImageAddon } from './disk-image.ts';

/** How the kernel file is interpreted. 'auto' recognises ELF and bzImage; a raw binary needs 'flat'. */
export type KernelFormat = 'auto' | 'flat' | 'elf' | 'bzimage';

export interface MachineConfig {
  /** A bzImage, an ELF64 x86-64 executable (vmlinux), or a raw 64-bit binary with 'flat'. */
  kernelPath: string;
  kernelFormat?: KernelFormat;
  /** The kernel command line, passed through boot_params. */
  cmdline?: string;
  /** An initial ramdisk (e.g. a cpio archive), loaded as Linux's initrd. */
  initrdPath?: string;
  /** Guest RAM in MiB: 64 MiB up to 1 TiB (RAM is allocated lazily, so more than the host has is allowed). */
  memoryMiB: number;
  /** vCPUs: 1 to 64 (and no more than the host's KVM allows). */
  cpus: number;
  /**
   * What a guest-initiated reset (triple fault, 0xFE to the keyboard controller,
   * the ACPI reset register) does: true (the default) reboots the machine — a
   * `reset` event, then the kernel boots afresh; false stops it with reason 'reset'
   * (`nestbox run --no-reboot`).
   */
  rebootOnReset?: boolean;
  /**
   * The KVM device node to open (default '/dev/kvm'), e.g. another node with the
   * same ABI; `nestbox run` takes it from NESTBOX_KVM_DEVICE. A node that is
   * missing or may not be opened makes the constructor throw KVM_UNAVAILABLE.
   */
  kvmDevicePath?: string;
  /**
   * virtio-blk disks, in PCI slot order (00:04.0 onwards), at most 16. Each image
   * is opened (format detected, backing chain followed) when the machine is
   * created: a missing, corrupt or truncated image throws an IMAGE_* error that
   * names the file, and the file is left untouched.
   */
  disks?: DiskConfig[];
  /** A virtio-net NIC (00:02.0) on user-mode networking; absent: no network. */
  network?: NetworkConfig;
  /** virtio-rng (00:03.0) fed from the host's getrandom; default true. */
  entropy?: boolean;
  /**
   * The display (bochs-display at 00:01.0, with a virtio keyboard and tablet at 00:14.0 and
   * 00:15.0); null for a headless machine. Default: 16 MiB of video memory, 1024×768.
   */
  display?: DisplayConfig | null;
  /**
   * Continue a snapshot instead of booting: its machine-state file and RAM file, as written
   * by `saveSnapshot`. The rest of the config must describe the same hardware (memory,
   * vCPUs, disks, display, network); disks may be other files of the same size (new
   * overlays). A snapshot that cannot be used throws SNAPSHOT_UNUSABLE with
   * `snapshotProblem` saying why; nothing is written. The machine starts with start().
   */
  restore?: SnapshotFiles;
}

/** A snapshot's two files: CPU and device state, and guest RAM (sparse, mapped on restore). */
export interface SnapshotFiles {
  stateFile: string;
  ramFile: string;
}

export interface SnapshotSaveResult {
  /** Guest RAM size. */
  ramBytes: number;
  /** Non-zero pages written to the RAM file (the rest are holes). */
  ramBytesWritten: number;
  stateBytes: number;
}

/** Why a snapshot could not be used (the error's `snapshotProblem`). */
export type SnapshotProblem =
  | 'io'
  | 'not-a-snapshot'
  | 'newer-format'
  | 'older-format'
  | 'truncated'
  | 'bad-checksum'
  | 'duplicate-section'
  | 'missing-section'
  | 'unsupported-section'
  | 'malformed'
  | 'mismatch';

export interface DisplayConfig {
  /** Video memory in MiB: a power of two from 1 to 256 (default 16). */
  vramMiB?: number;
  /** The monitor's preferred mode, also the mode a directly booted kernel starts in. */
  width?: number;
  height?: number;
}

export interface DiskConfig {
  /** A raw or qcow2 image. */
  path: string;
  /** The guest sees a read-only disk (virtio-blk RO) and the file is opened read-only. */
  readOnly?: boolean;
  /** The disk's ID as the guest reads it (at most 20 bytes); default derived from the slot. */
  serial?: string;
}

/**
 * NAT networking (libslirp): the guest gets 10.0.2.15 by DHCP, 10.0.2.2 is the
 * host (its loopback services included), 10.0.2.3 the DNS forwarder.
 */
export interface NetworkConfig {
  /** 'aa:bb:cc:dd:ee:ff'; default derived from `vmId`, so it is stable per VM. */
  macAddress?: string;
  /** The VM's id, which the default MAC is derived from. */
  vmId?: string;
  /** Host-to-guest forwards; each host port is bound when the machine is created. */
  portForwards?: PortForwardConfig[];
  /** The guest reaches nothing outside; only port forwards connect in. */
  isolated?: boolean;
}

export interface PortForwardConfig {
  protocol?: 'tcp' | 'udp';
  /** Default '127.0.0.1' (loopback only); '0.0.0.0' exposes the guest to the LAN. */
  hostAddress?: string;
  hostPort: number;
  guestPort: number;
}

/**
 * 'paused': every vCPU is out of the guest (pause() completed); resume() continues.
 * 'stopped' and 'error' are final.
 */
export type MachineState = 'created' | 'running' | 'paused' | 'stopped' | 'error';

/** Why a machine left the running state. */
export type StopReason =
  | 'halted' // every vCPU halted with interrupts disabled (or never started)
  | 'powered-off' // powerOff(), close(), or the guest's ACPI S5 (soft-off) request
  | 'reset' // the guest reset the machine and rebootOnReset is false
  | 'reset-loop' // the guest kept resetting (repeated triple faults) even with reboots on
  | 'internal-error' // KVM could not continue (e.g. an instruction it cannot emulate)
  | 'entry-failed' // the CPU refused the vCPU state
  | 'unexpected-exit' // a KVM exit the VMM does not handle
  | 'vmm-failure'; // the VMM itself failed

/** What reset the machine. */
export type ResetCause =
  | 'triple-fault' // a CPU shutdown (an exception that could not be delivered)
  | 'keyboard-controller' // 0xFE written to the i8042 command port (0x64)
  | 'acpi' // the FADT's reset register
  | 'host'; // Machine.reset()

export type VcpuRegisterName =
  | 'rax'
  | 'rbx'
  | 'rcx'
  | 'rdx'
  | 'rsi'
  | 'rdi'
  | 'rsp'
  | 'rbp'
  | 'r8'
  | 'r9'
  | 'r10'
  | 'r11'
  | 'r12'
  | 'r13'
  | 'r14'
  | 'r15'
  | 'rip'
  | 'rflags'
  | 'cr0'
  | 'cr2'
  | 'cr3'
  | 'cr4'
  | 'efer'
  | 'cs'
  | 'ss';

/** 64-bit register values, exact. */
export type VcpuRegisters = Record<VcpuRegisterName, bigint>;

/** Bytes the guest wrote to COM1, batched: one event carries every byte written since the last. */
export interface SerialEvent {
  type: 'serial';
  data: Uint8Array;
}

export interface StateEvent {
  type: 'state';
  state: MachineState;
  /** Present when the machine stopped or failed. */
  reason?: StopReason;
}

/**
 * The machine was reset. With `reboot` true the kernel boots again at once (RAM
 * cleared, every vCPU and device back to power-on state; the state stays
 * 'running'); otherwise a StateEvent 'stopped' with reason 'reset' follows.
 */
export interface ResetEvent {
  type: 'reset';
  cause: ResetCause;
  reboot: boolean;
}

/** A vCPU could not continue; followed by a StateEvent with state 'error'. */
export interface ErrorEvent {
  type: 'error';
  message: string;
  /** The failing vCPU's registers, when they could be read. */
  registers?: VcpuRegisters;
}

/** A device's notice for the VM's log (guest driver error, disk I/O failure, network problem). */
export interface LogEvent {
  type: 'log';
  message: string;
}

/** The display mode changed: at start, on a guest mode set, blank or reboot; null = nothing visible. */
export interface DisplayModeEvent {
  type: 'display-mode';
  mode: DisplayMode | null;
}

/** While streaming: rectangles that changed, as x, y, width, height quadruples. */
export interface DisplayDamageEvent {
  type: 'display-damage';
  /** The mode the rectangles are in: a 'display-mode' event may overtake them; then ignore them. */
  mode: DisplayMode;
  rects: Uint32Array;
}

export type MachineEvent =
  | SerialEvent
  | StateEvent
  | ResetEvent
  | ErrorEvent
  | LogEvent
  | DisplayModeEvent
  | DisplayDamageEvent;

export interface MachineStats {
  /** Guest reads/writes of I/O ports no device claims (reads return all ones). */
  unknownPortReads: number;
  unknownPortWrites: number;
  unknownMmioReads: number;
  unknownMmioWrites: number;
  serialBytesOut: number;
  /** Resets so far (each ResetEvent). */
  resets: number;
}

/** Codes on errors thrown by `new Machine()` and `start()` (`error.code`). */
export type NativeErrorCode =
  | 'INVALID_CONFIG'
  | 'KERNEL_NOT_FOUND'
  | 'KERNEL_UNREADABLE'
  | 'NOT_A_KERNEL'
  | 'UNSUPPORTED_KERNEL'
  | 'KERNEL_TOO_LARGE'
  | 'GUEST_MEMORY'
  | 'KVM_UNAVAILABLE'
  | 'KVM_FAILURE'
  | 'INVALID_STATE'
  /** A snapshot's files cannot be used (`snapshotProblem` says why); nothing was changed. */
  | 'SNAPSHOT_UNUSABLE'
  /** A disk image could not be opened: the message names the file and the problem. */
  | 'IMAGE_NOT_FOUND'
  | 'IMAGE_UNREADABLE'
  | 'IMAGE_CORRUPT'
  | 'IMAGE_UNSUPPORTED'
  | 'IMAGE_READ_ONLY'
  | 'IMAGE_BACKING_CHAIN'
  | 'IMAGE_IO_ERROR'
  /** The network could not be set up: a port forward's host port is taken, needs privileges, or the config is wrong. */
  | 'NET_INVALID_CONFIG'
  | 'NET_HOST_PORT_IN_USE'
  | 'NET_HOST_PORT_DENIED'
  | 'NET_HOST_PORT_FAILED'
  | 'NET_BACKEND_FAILED';

export interface NativeError extends Error {
  code?: NativeErrorCode;
  /** With KVM_UNAVAILABLE: which fix applies, as in KvmStatus. */
  kvmProblem?: Extract<KvmStatus, { ok: false }>['problem'];
  /** With SNAPSHOT_UNUSABLE: why. */
  snapshotProblem?: SnapshotProblem;
}

/**
 * One virtual machine. The constructor validates the config, opens KVM and
 * loads the kernel (throwing a NativeError on any problem); `start()` runs it;
 * events arrive on `onEvent` on the JS thread. Call `close()` when done: it
 * joins the vCPU threads and frees the VM (a started machine keeps the
 * process alive until then). No method blocks for long: requests that take
 * time complete with an event.
 */
export interface Machine {
  /** created → running. Throws INVALID_STATE from any other state. */
  start(): void;
  /**
   * Asks every vCPU to leave the guest; returns at once. When all have (within
   * milliseconds), `state` becomes 'paused' and a StateEvent 'paused' follows.
   * Serial input sent while paused is kept for the guest. Throws INVALID_STATE
   * unless running; a second pause() while pausing is ignored.
   */
  pause(): void;
  /** paused → running (a StateEvent 'running' follows). Throws INVALID_STATE unless paused or pausing. */
  resume(): void;
  /**
   * A host reset, like the reset button: a ResetEvent with cause 'host', then a
   * reboot (or a stop with reason 'reset' when rebootOnReset is false). Throws
   * INVALID_STATE unless running or paused.
   */
  reset(): void;
  /** Presses the ACPI power button (an SCI the guest OS sees); the guest decides what to do. */
  powerButton(): void;
  /** Asks the machine to stop; a 'state' event follows. Returns at once. */
  powerOff(): void;
  /**
   * Bytes for the guest's COM1 receive FIFO (raising its receive interrupt).
   * Returns how many were accepted: the rest did not fit the buffer.
   */
  sendSerialInput(data: Uint8Array): number;
  /** Stops if needed, joins threads, closes fds. Idempotent. */
  close(): void;
  readonly state: MachineState;
  stats(): MachineStats;

  /**
   * Turns the display stream on or off: while on, 'display-damage' events say which
   * rectangles of the visible frame changed, at most once per refresh (60 Hz; 10 Hz after
   * a second without change). Off, nothing is compared and nothing is sent.
   */
  setDisplayStreaming(on: boolean): void;
  /** The next 'display-damage' event covers the whole frame (a viewer connected). */
  requestFullDisplayFrame(): void;
  /** A copy of the visible frame, or null when the display is off (or there is none). */
  readDisplayFrame(): DisplayFrame | null;
  /**
   * Copies rectangles (x, y, width, height quadruples) of the visible frame into `target`,
   * which holds the whole frame in DisplayFrame's layout — so a copy kept by the caller is
   * brought up to date with only what changed. False, copying nothing, when `target` does
   * not have the current mode's size or nothing is visible.
   */
  copyDisplayRects(target: Uint8Array, rects: Uint32Array): boolean;
  /** The visible frame as a PNG file's bytes, or null when there is nothing to show. */
  screenshot(): Uint8Array | null;

  /**
   * A key by its DOM `KeyboardEvent.code`, to the virtio keyboard once the guest's driver
   * runs and to the PS/2 keyboard before. False for an unknown code or no listening device.
   */
  sendKey(code: string, pressed: boolean): boolean;
  /** Presses the keys in order and releases them in reverse, as one action (Ctrl+Alt+Del). */
  sendKeyCombo(codes: readonly string[]): boolean;
  /** The pointer at framebuffer pixel (x, y) on the absolute tablet (no grab needed). */
  pointerMove(x: number, y: number): boolean;
  /** `button` as in MouseEvent.button: 0 main, 1 middle, 2 secondary, 3 back, 4 forward. */
  pointerButton(button: number, pressed: boolean): boolean;
  /** Wheel detents; dy > 0 scrolls down, dx > 0 right (as WheelEvent). */
  wheel(dx: number, dy: number): boolean;
  /** Releases every key and button still held (the window lost focus). */
  releaseAllInput(): void;
  /**
   * Writes the whole machine state (vCPUs, interrupt controllers, devices, video memory) and
   * guest RAM to `files`; only while paused. Each file appears complete or not at all.
   * `onProgress` gets RAM bytes dealt with out of the total.
   */
  saveSnapshot(
    files: SnapshotFiles,
    onProgress?: (done: number, total: number) => void,
  ): Promise<SnapshotSaveResult>;
  /**
   * Continues a snapshot in this machine in place of what runs now (running or paused; it
   * stays so): vCPUs, devices and video memory from `files.stateFile`, guest RAM from
   * `files.ramFile` — or, without it, RAM as it is (taking a snapshot switches disks this
   * way) — and `disks` (same count and sizes: new overlays). A snapshot that cannot be used
   * rejects with SNAPSHOT_UNUSABLE before anything changes.
   */
  restoreSnapshot(
    files: { stateFile: string; ramFile?: string },
    disks: DiskConfig[],
  ): Promise<void>;
}

/** The guest display's visible mode. */
export interface DisplayMode {
  width: number;
  height: number;
  /** Of the guest's framebuffer (16, 24 or 32); frames read through the addon are always 32. */
  bitsPerPixel: number;
}

export interface DisplayFrame {
  mode: DisplayMode;
  /** width × height pixels of 4 bytes: blue, green, red, unused (little-endian XRGB8888). */
  pixels: Uint8Array;
}

export type MachineConstructor = new (
  config: MachineConfig,
  onEvent: (event: MachineEvent) => void,
) => Machine;

/** What `imageMergeLayer` did. */
export interface LayerMergeResult {
  /** Guest bytes the child took over from the layer (data and zero ranges). */
  bytesCopied: number;
  /** Child clusters that became allocated doing so. */
  clustersCopied: number;
  /** The child already used the layer's backing file (an earlier run finished): nothing was done. */
  alreadyMerged: boolean;
}

/** How `imageMergeLayer` runs. */
export interface LayerMergeOptions {
  /**
   * Bytes of the child's virtual disk dealt with so far, of its virtual size: from (0, total)
   * to (total, total) on success, never decreasing, throttled (at most every 4 MiB, and one
   * call queued at a time). Never called after the promise settles.
   */
  onProgress?: (done: number, total: number) => void;
  /**
   * Stops the merge between two ranges (at most 4 MiB apart): the promise rejects with an
   * AbortError (`code` 'ABORT_ERR', `cause` the signal's reason). The child then still uses
   * the layer and reads as before, with some of the layer's ranges already its own; the layer
   * is untouched; running the merge again finishes it. Already aborted: nothing is done.
   */
  signal?: AbortSignal;
  /**
   * Copy the layer's ranges into the child but leave the child backed by the layer (no
   * rebase): the long part of a merge, done before the caller commits to it. A later full
   * merge then only rebases.
   */
  copyOnly?: boolean;
}

/** The rejection of a merge stopped by its signal. */
export interface MergeAbortError extends Error {
  name: 'AbortError';
  code: 'ABORT_ERR';
}

export interface NativeAddon extends DiskImageAddon {
  /**
   * Deleting a snapshot layer: fills every range of `childPath` (a qcow2 image whose backing
   * file is `layerPath`) that the child does not define itself with what the layer defines
   * there, then makes the layer's own backing file the child's (or none). The child reads the
   * same before, during and after, even if interrupted or cancelled; run it again to finish.
   * The layer is not modified. Runs on the image I/O thread; rejects with an Error with an
   * IMAGE_* `code` (IMAGE_BACKING_CHAIN when the child does not use the layer), or with an
   * AbortError (ABORT_ERR) when `options.signal` stopped it.
   */
  imageMergeLayer(
    layerPath: string,
    childPath: string,
    options?: LayerMergeOptions,
  ): Promise<LayerMergeResult>;
  /**
   * Points a qcow2 image at another backing file (stored as given, relative to the image's
   * folder) or at none, without touching its content (`qemu-img rebase -u`). Synchronous.
   */
  imageRebase(childPath: string, backingPath: string | null): void;

  /** Never throws for the expected failures: they come back as `{ ok: false, problem, message }`. */
  probeKvm(devicePath?: string): KvmStatus;
  Machine: MachineConstructor;
  /** The package version the addon was built from. */
  version: string;
  /** Every `KeyboardEvent.code` `sendKey` understands. */
  keyCodeNames(): string[];
  /**
   * Reads and checks a snapshot's files completely without a machine (what a restore would
   * read), so a revert can refuse an unusable snapshot before changing anything. Throws
   * SNAPSHOT_UNUSABLE with `snapshotProblem`.
   */
  describeSnapshot(files: SnapshotFiles): SnapshotDescription;
}

export interface SnapshotDescription {
  formatVersion: number;
  vcpus: number;
  ramBytes: number;
  /** 0: the snapshot is of a headless machine. */
  vramBytes: number;
  /** The device records it holds ("com1", "virtio 00:04.0", …). */
  devices: string[];
}
