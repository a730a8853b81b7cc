/**
 * The typed surface of the native addon (native/build/Release/nestbox.node),
 * the one place TypeScript learns what the C++ binding exports. Keep in step
 * with native/src/binding/.
 */
import type { KvmStatus } from '../../common/host-info.ts';

/** How the kernel file is interpreted. 'auto' recognises ELF and bzImage; a raw binary needs 'flat'. */
export type KernelFormat = 'auto' | 'flat' | 'elf' | 'bzimage';

export interface MachineConfig {
  /** A bzImage, an ELF64 x86-64 executable (vmlinux), or a raw 64-bit binary with 'flat'. */
  kernelPath: string;
  kernelFormat?: KernelFormat;
  /** The kernel command line, passed through boot_params. */
  cmdline?: string;
  /** Guest RAM; at least 16 MiB and no more than the host has. */
  memoryMiB: number;
  /** vCPUs; this build runs 1 per machine (SMP arrives with the interrupt controller). */
  cpus: number;
}

export type MachineState = 'created' | 'running' | 'stopped' | 'error';

/** Why a machine left the running state. */
export type StopReason =
  | 'halted' // HLT with interrupts disabled
  | 'powered-off' // powerOff() or close()
  | 'shutdown' // triple fault
  | 'internal-error' // KVM could not continue (e.g. an instruction it cannot emulate)
  | 'entry-failed' // the CPU refused the vCPU state
  | 'unexpected-exit' // a KVM exit the VMM does not handle
  | 'vmm-failure'; // the VMM itself failed

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

/** A vCPU could not continue; followed by a StateEvent with state 'error'. */
export interface ErrorEvent {
  type: 'error';
  message: string;
  /** The failing vCPU's registers, when they could be read. */
  registers?: VcpuRegisters;
}

export type MachineEvent = SerialEvent | StateEvent | ErrorEvent;

export interface MachineStats {
  /** Guest reads/writes of I/O ports no device claims (reads return all ones). */
  unknownPortReads: number;
  unknownPortWrites: number;
  unknownMmioReads: number;
  unknownMmioWrites: number;
  serialBytesOut: number;
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
  | 'INVALID_STATE';

export interface NativeError extends Error {
  code?: NativeErrorCode;
  /** With KVM_UNAVAILABLE: which fix applies, as in KvmStatus. */
  kvmProblem?: Extract<KvmStatus, { ok: false }>['problem'];
}

/**
 * One virtual machine. The constructor validates the config, opens KVM and
 * loads the kernel (throwing a NativeError on any problem); `start()` runs it;
 * events arrive on `onEvent` on the JS thread. Call `close()` when done: it
 * joins the vCPU threads and frees the VM (a started machine keeps the
 * process alive until then).
 */
export interface Machine {
  start(): void;
  /** Asks the machine to stop; a 'state' event follows. Returns at once. */
  powerOff(): void;
  /** Stops if needed, joins threads, closes fds. Idempotent. */
  close(): void;
  readonly state: MachineState;
  stats(): MachineStats;
}

export type MachineConstructor = new (
  config: MachineConfig,
  onEvent: (event: MachineEvent) => void,
) => Machine;

export interface NativeAddon {
  /** Never throws for the expected failures: they come back as `{ ok: false, problem, message }`. */
  probeKvm(devicePath?: string): KvmStatus;
  Machine: MachineConstructor;
  /** The package version the addon was built from. */
  version: string;
}
