/**
 * `nestbox run`: boots one kernel headless in this process, with the guest's
 * COM1 console on stdin/stdout, like `qemu-system-x86_64 -nographic -kernel`.
 */
import {
  DEFAULT_KVM_DEVICE,
  KVM_DEVICE_VARIABLE,
  kvmDevicePath,
} from '../../services/native/kvm-device.ts';
import { vmLimits } from '../../services/library/vm-config.ts';
import { loadNativeAddon } from '../../services/native/load-addon.ts';
import { MachineSession, type MachineEnding } from '../../services/native/machine-session.ts';
import type {
  ErrorEvent,
  DiskConfig,
  MachineConfig,
  NativeAddon,
  PortForwardConfig,
  NativeError,
  NativeErrorCode,
  VcpuRegisters,
} from '../../services/native/native-addon.ts';
import { ExitCode, UsageError, type CliContext, type Command } from '../command.ts';
import { parseCount, parseOptions, requireFile } from '../parse-options.ts';

export const DEFAULT_MEMORY_MIB = 256;
export const DEFAULT_CPUS = 1;
/**
 * The machine's own limits (native/src/machine/machine_config.h), checked here
 * so the message names the option; the addon still checks the host's KVM limit.
 */
export const MIN_MEMORY_MIB = vmLimits.minMemoryMiB;
export const MAX_MEMORY_MIB = vmLimits.maxMemoryMiB;
export const MAX_CPUS = vmLimits.maxCpus;
/** How long to wait for a stop the VMM was asked for before giving up on it. */
const STOP_GRACE_MS = 5_000;

/** Ctrl-A, the escape key (as in QEMU and screen). */
export const ESCAPE_BYTE = 0x01;

export interface RunOptions {
  kernelPath: string;
  initrdPath?: string;
  cmdline: string;
  cpus: number;
  memoryMiB: number;
  /** Seconds; undefined: no limit. */
  timeoutSeconds?: number;
  noReboot: boolean;
  disks: DiskConfig[];
  /** Undefined: no NIC. */
  network?: { portForwards: PortForwardConfig[] };
}

const USAGE = [
  'Usage: nestbox run --kernel PATH [--initrd PATH] [--append STR] [--cpus N]',
  '                   [--memory MiB] [--disk PATH[,readonly]]... [--net]',
  '                   [--forward tcp|udp:HOSTPORT:GUESTPORT]... [--timeout SECONDS] [--no-reboot]',
  '',
  'Boots a kernel (bzImage, ELF vmlinux) in a headless VM inside this process. The',
  "guest's serial console (COM1) is on stdin/stdout; Nestbox's own messages go to stderr.",
  '',
  'Options:',
  '  --kernel PATH      the kernel to boot (required)',
  '  --initrd PATH      an initial ramdisk, e.g. a cpio archive',
  '  --append STR       the kernel command line',
  `  --cpus N           virtual CPUs, 1 to ${MAX_CPUS} (default ${DEFAULT_CPUS})`,
  `  --memory MiB       guest RAM in MiB, ${MIN_MEMORY_MIB} to ${MAX_MEMORY_MIB} (default ${DEFAULT_MEMORY_MIB})`,
  '  --disk PATH        a raw or qcow2 image as a virtio-blk disk (repeat for more);',
  '                     PATH,readonly gives the guest a read-only disk',
  '  --net              a virtio-net NIC on NAT networking (guest 10.0.2.15 by DHCP;',
  '                     10.0.2.2 reaches the host, its loopback included)',
  '  --forward P:H:G    forward host port H (on 127.0.0.1) to guest port G, P is tcp',
  '                     or udp; implies --net (repeat for more)',
  '  --timeout SECONDS  stop the VM after this long (exit status 124)',
  '  --no-reboot        when the guest resets (triple fault, keyboard-controller or ACPI',
  '                     reset), stop instead of rebooting',
  '  --help             show this help',
  '',
  'Environment:',
  `  ${KVM_DEVICE_VARIABLE}=PATH  the KVM device node to use (default ${DEFAULT_KVM_DEVICE})`,
  '',
  'Console: when stdin is a terminal it is put in raw mode (restored on exit), so every',
  'key, Ctrl-C included, goes to the guest. Escape sequences, as in QEMU:',
  '  Ctrl-A x   power the VM off and quit',
  '  Ctrl-A h   list the escape sequences',
  '  Ctrl-A Ctrl-A   send one Ctrl-A to the guest',
  'When stdin is not a terminal, its end (EOF) does not stop the VM.',
  '',
  'Exit status:',
  '  0    the guest powered off (ACPI S5) or halted with interrupts disabled;',
  '       with --no-reboot also a guest reset ("guest reset (cause)" on stderr);',
  '       also after Ctrl-A x',
  '  1    the VM failed (the message and the vCPU registers are on stderr)',
  '  2    bad arguments or files (missing kernel, not a kernel, sizes out of range,',
  '       a missing or corrupt disk image, a forwarded port in use, no access to the',
  '       KVM device)',
  '  124  --timeout ran out',
  '  130, 143  stopped by SIGINT, SIGTERM',
].join('\n');

/** Validates the command line; throws UsageError (exit status 2) with a one-line reason. */
export function parseRunOptions(args: readonly string[]): RunOptions | 'help' {
  const { values } = parseOptions(args, {
    kernel: { type: 'string' },
    initrd: { type: 'string' },
    append: { type: 'string' },
    cpus: { type: 'string' },
    memory: { type: 'string' },
    timeout: { type: 'string' },
    'no-reboot': { type: 'boolean' },
    disk: { type: 'string', multiple: true },
    net: { type: 'boolean' },
    forward: { type: 'string', multiple: true },
    help: { type: 'boolean' },
  });
  if (values.help) return 'help';
  if (values.kernel === undefined) throw new UsageError('--kernel PATH is required');
  let timeoutSeconds: number | undefined;
  if (values.timeout !== undefined) {
    timeoutSeconds = Number(values.timeout);
    if (
      !/^\d+(\.\d+)?$/.test(values.timeout) ||
      timeoutSeconds <= 0 ||
      timeoutSeconds > 7 * 24 * 3600
    ) {
      throw new UsageError(
        `--timeout must be a positive number of seconds (at most a week), not "${values.timeout}"`,
      );
    }
  }
  const kernelPath = requireFile('kernel', values.kernel) ?? '';
  const initrdPath = requireFile('initrd', values.initrd);
  return {
    kernelPath,
    ...(initrdPath !== undefined ? { initrdPath } : {}),
    cmdline: values.append ?? '',
    cpus: parseCount('cpus', values.cpus, 1, MAX_CPUS) ?? DEFAULT_CPUS,
    memoryMiB:
      parseCount('memory', values.memory, MIN_MEMORY_MIB, MAX_MEMORY_MIB) ?? DEFAULT_MEMORY_MIB,
    ...(timeoutSeconds !== undefined ? { timeoutSeconds } : {}),
    noReboot: values['no-reboot'] ?? false,
    disks: (values.disk ?? []).map(parseDisk),
    ...(values.net || values.forward !== undefined
      ? { network: { portForwards: (values.forward ?? []).map(parseForward) } }
      : {}),
  };
}

function parseDisk(value: string): DiskConfig {
  const readOnly = value.endsWith(',readonly');
  const path = readOnly ? value.slice(0, -',readonly'.length) : value;
  return { path: requireFile('disk', path) ?? '', ...(readOnly ? { readOnly } : {}) };
}

function parseForward(value: string): PortForwardConfig {
  const match = /^(tcp|udp):(\d{1,5}):(\d{1,5})$/.exec(value);
  const hostPort = Number(match?.[2]);
  const guestPort = Number(match?.[3]);
  if (!match || hostPort < 1 || hostPort > 65535 || guestPort < 1 || guestPort > 65535) {
    throw new UsageError(
      `--forward must look like tcp:8080:80 (protocol, host port, guest port), not "${value}"`,
    );
  }
  return { protocol: match[1] as 'tcp' | 'udp', hostPort, guestPort };
}

export type EscapeAction = 'quit' | 'help';

/**
 * Splits console input into bytes for the guest and escape actions. Keeps the
 * pending Ctrl-A across chunks (a terminal may deliver it alone).
 */
export class EscapeFilter {
  #pendingEscape = false;

  feed(chunk: Uint8Array): { forward: Uint8Array; actions: EscapeAction[] } {
    const forward: number[] = [];
    const actions: EscapeAction[] = [];
    for (const byte of chunk) {
      if (this.#pendingEscape) {
        this.#pendingEscape = false;
        if (byte === ESCAPE_BYTE) forward.push(ESCAPE_BYTE);
        else if (byte === 0x78 /* x */ || byte === 0x58 /* X */) actions.push('quit');
        else if (byte === 0x68 /* h */ || byte === 0x3f /* ? */) actions.push('help');
        // Anything else after Ctrl-A is dropped, as QEMU does.
      } else if (byte === ESCAPE_BYTE) {
        this.#pendingEscape = true;
      } else {
        forward.push(byte);
      }
    }
    return { forward: Uint8Array.from(forward), actions };
  }
}

const ESCAPE_HELP = [
  'nestbox run: Ctrl-A x  power off and quit',
  'nestbox run: Ctrl-A h  this help',
  'nestbox run: Ctrl-A Ctrl-A  send Ctrl-A to the guest',
].join('\r\n');

/** Errors from `new Machine()` that mean the arguments or files are wrong: exit status 2. */
const USAGE_ERROR_CODES: ReadonlySet<NativeErrorCode> = new Set([
  'INVALID_CONFIG',
  'KERNEL_NOT_FOUND',
  'KERNEL_UNREADABLE',
  'NOT_A_KERNEL',
  'UNSUPPORTED_KERNEL',
  'KERNEL_TOO_LARGE',
  'KVM_UNAVAILABLE',
  'IMAGE_NOT_FOUND',
  'IMAGE_UNREADABLE',
  'IMAGE_CORRUPT',
  'IMAGE_UNSUPPORTED',
  'IMAGE_READ_ONLY',
  'IMAGE_BACKING_CHAIN',
  'NET_INVALID_CONFIG',
  'NET_HOST_PORT_IN_USE',
  'NET_HOST_PORT_DENIED',
  'NET_HOST_PORT_FAILED',
]);

export function formatRegisters(registers: VcpuRegisters): string[] {
  const hex = (value: bigint) => `0x${value.toString(16).padStart(16, '0')}`;
  const names = Object.keys(registers) as (keyof VcpuRegisters)[];
  const lines: string[] = [];
  for (let i = 0; i < names.length; i += 4) {
    lines.push(
      names
        .slice(i, i + 4)
        .map((name) => `${name.padStart(6)}=${hex(registers[name])}`)
        .join(' '),
    );
  }
  return lines;
}

function describeError(error: ErrorEvent): string[] {
  return [
    `nestbox run: VM error: ${error.message}`,
    ...(error.registers ? formatRegisters(error.registers).map((line) => `  ${line}`) : []),
  ];
}

/** What the process reports for how the machine ended. */
export function exitStatusFor(ending: MachineEnding): ExitCode {
  if (ending.state === 'error') return ExitCode.failure;
  switch (ending.reason) {
    case 'halted':
    case 'powered-off':
    case 'reset':
    case undefined:
      return ExitCode.ok;
    default:
      return ExitCode.failure;
  }
}

/** The addon's config errors name its fields; the user typed options. */
const OPTION_FOR_FIELD: Record<string, string> = { memoryMiB: '--memory', cpus: '--cpus' };

function nameOptions(message: string): string {
  return message.replace(/^(memoryMiB|cpus):/, (_match, field: string) => {
    return `${OPTION_FOR_FIELD[field] ?? field}:`;
  });
}

function machineConfig(options: RunOptions, kvmDevice: string): MachineConfig {
  return {
    kernelPath: options.kernelPath,
    cmdline: options.cmdline,
    memoryMiB: options.memoryMiB,
    cpus: options.cpus,
    ...(options.initrdPath !== undefined ? { initrdPath: options.initrdPath } : {}),
    ...(options.noReboot ? { rebootOnReset: false } : {}),
    ...(kvmDevice !== DEFAULT_KVM_DEVICE ? { kvmDevicePath: kvmDevice } : {}),
    ...(options.disks.length > 0 ? { disks: options.disks } : {}),
    ...(options.network ? { network: options.network } : {}),
  };
}

function openMachine(addon: NativeAddon, options: RunOptions, kvmDevice: string): MachineSession {
  const kvm = addon.probeKvm(kvmDevice);
  if (!kvm.ok) throw new UsageError(kvm.message);
  try {
    return new MachineSession(addon, machineConfig(options, kvmDevice));
  } catch (error) {
    const native = error as NativeError;
    if (native.code !== undefined && USAGE_ERROR_CODES.has(native.code)) {
      throw new UsageError(nameOptions(native.message));
    }
    throw error;
  }
}

/** Console plumbing: raw mode on a TTY, escape handling, and a clean restore. */
class Console {
  readonly #input = process.stdin;
  readonly #rawMode: boolean;
  readonly #escape = new EscapeFilter();
  readonly #onData: (chunk: Buffer) => void;
  #warnedNoInput = false;

  constructor(
    session: MachineSession,
    private readonly stderr: (line: string) => void,
    onQuit: () => void,
  ) {
    this.#rawMode = this.#input.isTTY;
    this.#onData = (chunk) => {
      const { forward, actions } = this.#escape.feed(chunk);
      if (forward.length > 0) {
        try {
          session.sendSerialInput(forward);
        } catch (error) {
          if (!this.#warnedNoInput) {
            this.#warnedNoInput = true;
            this.stderr(`nestbox run: serial input is not available: ${(error as Error).message}`);
          }
        }
      }
      for (const action of actions) {
        if (action === 'quit') onQuit();
        else process.stderr.write(`\r\n${ESCAPE_HELP}\r\n`);
      }
    };
    if (this.#rawMode) this.#input.setRawMode(true);
    this.#input.on('data', this.#onData);
    // EOF on a pipe or file: the guest simply gets no more input.
    this.#input.on('error', () => this.#input.off('data', this.#onData));
    this.#input.resume();
  }

  close(): void {
    this.#input.off('data', this.#onData);
    if (this.#rawMode) this.#input.setRawMode(false);
    this.#input.pause();
    // Without this an open TTY or pipe keeps the process alive after the VM ended.
    this.#input.destroy();
  }
}

async function runMachine(
  session: MachineSession,
  options: RunOptions,
  context: CliContext,
): Promise<ExitCode> {
  let outcome: 'timeout' | 'quit' | 'interrupted' | 'terminated' | undefined;
  // A stop we asked for must not hang the CLI if the VMM cannot deliver it.
  let forceEnd: (ending: MachineEnding) => void = () => undefined;
  const forced = new Promise<MachineEnding>((resolve) => (forceEnd = resolve));
  let graceTimer: NodeJS.Timeout | undefined;
  const stop = (why: NonNullable<typeof outcome>) => {
    if (outcome !== undefined) return;
    outcome = why;
    graceTimer = setTimeout(() => {
      context.stderr(`nestbox run: the VM did not stop within ${STOP_GRACE_MS / 1000} s`);
      forceEnd({ state: 'error', reason: 'vmm-failure' });
    }, STOP_GRACE_MS);
    try {
      void session.powerOff();
    } catch {
      // Already stopping or stopped: the ending arrives anyway.
    }
  };

  let resetCause: string | undefined;
  session.on('serial', (event) => process.stdout.write(event.data));
  session.on('reset', (event) => {
    resetCause = event.cause;
    if (event.reboot) context.stderr(`nestbox run: guest reset (${event.cause}); rebooting`);
  });
  const terminal = new Console(session, context.stderr, () => stop('quit'));
  const onShutdown = () =>
    stop(context.shutdown.reason === 'SIGTERM' ? 'terminated' : 'interrupted');
  context.shutdown.addEventListener('abort', onShutdown, { once: true });
  const timer =
    options.timeoutSeconds !== undefined
      ? setTimeout(() => stop('timeout'), options.timeoutSeconds * 1000)
      : undefined;

  let ending: MachineEnding | undefined;
  try {
    session.start();
    ending = await Promise.race([session.ended, forced]);
  } finally {
    if (timer) clearTimeout(timer);
    if (graceTimer) clearTimeout(graceTimer);
    context.shutdown.removeEventListener('abort', onShutdown);
    terminal.close();
    session.close();
  }

  if (ending.error) for (const line of describeError(ending.error)) context.stderr(line);
  if (ending.reason === 'reset') {
    context.stderr(
      `nestbox run: guest reset (${resetCause ?? 'unknown cause'}); not rebooting (--no-reboot)`,
    );
  }
  switch (outcome) {
    case 'timeout':
      context.stderr(`nestbox run: timed out after ${options.timeoutSeconds} s; VM stopped`);
      return ExitCode.timeout;
    case 'interrupted':
      return ExitCode.interrupted;
    case 'terminated':
      return ExitCode.terminated;
    case 'quit':
      return ExitCode.ok;
    case undefined:
      if (ending.state === 'error' && !ending.error) {
        context.stderr(`nestbox run: the VM failed (${ending.reason ?? 'no reason given'})`);
      } else if (exitStatusFor(ending) !== ExitCode.ok && !ending.error) {
        context.stderr(`nestbox run: the VM stopped: ${ending.reason ?? 'unknown reason'}`);
      }
      return exitStatusFor(ending);
  }
}

export const runCommand: Command = {
  name: 'run',
  summary: 'Boot a kernel in a headless VM with its serial console on this terminal',
  usage: USAGE,

  async run(args, context) {
    const options = parseRunOptions(args);
    if (options === 'help') {
      context.stdout(this.usage);
      return ExitCode.ok;
    }
    const addon = loadNativeAddon();
    const session = openMachine(addon, options, kvmDevicePath(context.env));
    return runMachine(session, options, context);
  },
};

export { KVM_DEVICE_VARIABLE, kvmDevicePath };
