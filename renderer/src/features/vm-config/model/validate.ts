/**
 * The VM form's rules, the same the library applies to vm.json (docs/vm-library.md), with
 * messages that say what to do. Each problem is keyed by the field it belongs to, so the
 * form shows it next to that field:
 * `name`, `kernel`, `cpus`, `newDiskSize`, `disks.1.file`, `portForwards.0.hostPort`, …
 */
import { MEMORY_WARNING_SHARE, type ResourceLimits } from './host-limits.ts';
import { newDiskBytes, parseSize, parseWhole, type VmFormValues } from './vm-form.ts';
import { vmLimits } from './vm-limits.ts';

export type FormErrors = Record<string, string>;

export interface ValidationContext {
  /** A new VM needs absolute paths; an existing one may keep paths relative to its folder. */
  mode: 'create' | 'edit';
  limits: ResourceLimits;
}

// eslint-disable-next-line no-control-regex -- control characters are what we look for
const controlCharacter = /[\u0000-\u001f\u007f]/;
const ipv4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
/** The largest new disk: 64 TiB, far below qcow2's own limit. */
export const MAX_NEW_DISK_BYTES = 64 * 1024 ** 4;
export const MIN_NEW_DISK_BYTES = 1024 ** 2;

const numberFormat = new Intl.NumberFormat('en');

function checkName(name: string): string | null {
  if (name.trim() === '') return 'Enter a name for the VM.';
  if (name.length > vmLimits.maxNameLength) {
    return `Use at most ${vmLimits.maxNameLength} characters (this is ${name.length}).`;
  }
  if (controlCharacter.test(name)) return 'Use a name without tabs or line breaks.';
  return null;
}

function checkPath(path: string, what: string, ctx: ValidationContext): string | null {
  if (path === '') return `Enter the path of the ${what}.`;
  if (path.trim() !== path) return 'Remove the spaces at the start or end of the path.';
  if (path.length > vmLimits.maxPathLength) {
    return `Paths may be at most ${numberFormat.format(vmLimits.maxPathLength)} characters.`;
  }
  if (path.includes('\0')) return 'Paths cannot contain a NUL character.';
  if (ctx.mode === 'create' && !path.startsWith('/')) {
    return 'Use the full path, starting with / (for example /home/you/vmlinuz).';
  }
  return null;
}

function checkWhole(
  text: string,
  min: number,
  max: number,
  noun: string,
  extra = '',
): string | null {
  const value = parseWhole(text);
  if (text.trim() === '') return `Enter the number of ${noun}.`;
  if (Number.isNaN(value)) return `Enter a whole number of ${noun}.`;
  if (value < min || value > max) {
    return `Choose from ${numberFormat.format(min)} to ${numberFormat.format(max)} ${noun}${extra}.`;
  }
  return null;
}

function checkPort(text: string, which: string): string | null {
  const value = parseWhole(text);
  if (text.trim() === '') return `Enter the ${which} port.`;
  if (Number.isNaN(value) || value < 1 || value > 65535) {
    return 'Ports are whole numbers from 1 to 65535.';
  }
  return null;
}

export function validateVmForm(values: VmFormValues, ctx: ValidationContext): FormErrors {
  const errors: FormErrors = {};
  const set = (field: string, message: string | null) => {
    if (message) errors[field] = message;
  };
  const { limits } = ctx;

  set('name', checkName(values.name));
  if (values.notes.length > vmLimits.maxNotesLength) {
    set(
      'notes',
      `Notes may be at most ${numberFormat.format(vmLimits.maxNotesLength)} characters.`,
    );
  }

  set('kernel', checkPath(values.kernel, 'kernel to boot (a bzImage or vmlinux)', ctx));
  if (values.initrd !== '') set('initrd', checkPath(values.initrd, 'initial ramdisk', ctx));
  if (values.cmdline.includes('\0'))
    set('cmdline', 'The command line cannot contain a NUL character.');
  else {
    const bytes = new TextEncoder().encode(values.cmdline).length;
    if (bytes > vmLimits.maxCmdlineBytes) {
      set(
        'cmdline',
        `The command line is ${numberFormat.format(bytes)} bytes; the limit is ${numberFormat.format(vmLimits.maxCmdlineBytes)}.`,
      );
    }
  }

  const hostCpus =
    limits.hostCpus !== null && limits.maxCpus === Math.min(limits.hostCpus, vmLimits.maxCpus)
      ? ` (this computer has ${limits.hostCpus})`
      : '';
  set('cpus', checkWhole(values.cpus, vmLimits.minCpus, limits.maxCpus, 'processors', hostCpus));
  const hostMemory =
    limits.hostMemoryMiB !== null && limits.maxMemoryMiB === limits.hostMemoryMiB
      ? ', the memory of this computer'
      : '';
  set(
    'memoryMiB',
    checkWhole(values.memoryMiB, vmLimits.minMemoryMiB, limits.maxMemoryMiB, 'MiB', hostMemory),
  );

  if (ctx.mode === 'create') {
    if (values.diskChoice === 'new') {
      const size = parseSize(values.newDiskSize);
      const bytes = newDiskBytes(values);
      if (values.newDiskSize.trim() === '') set('newDiskSize', 'Enter the size of the new disk.');
      else if (Number.isNaN(size))
        set('newDiskSize', 'Enter the size as a number, such as 8 or 0.5.');
      else if (bytes < MIN_NEW_DISK_BYTES) set('newDiskSize', 'A disk needs at least 1 MiB.');
      else if (bytes > MAX_NEW_DISK_BYTES) set('newDiskSize', 'A new disk can be at most 64 TiB.');
    } else if (values.diskChoice === 'existing') {
      set('existingDiskPath', checkPath(values.existingDiskPath, 'disk image', ctx));
    }
  } else {
    if (values.disks.length > vmLimits.maxDisks) {
      set('disks', `A VM can have at most ${vmLimits.maxDisks} disks.`);
    }
    const seen = new Map<string, number>();
    values.disks.forEach((disk, index) => {
      const problem = checkPath(disk.file, 'disk image', ctx);
      if (problem) return set(`disks.${index}.file`, problem);
      const first = seen.get(disk.file);
      if (first !== undefined) {
        set(
          `disks.${index}.file`,
          `This is the same image as disk ${first + 1}; use each image once.`,
        );
      } else {
        seen.set(disk.file, index);
      }
    });
  }

  if (values.networkMode === 'nat') {
    if (values.portForwards.length > vmLimits.maxPortForwards) {
      set('portForwards', `At most ${vmLimits.maxPortForwards} port forwards.`);
    }
    const seen = new Map<string, number>();
    values.portForwards.forEach((forward, index) => {
      const at = `portForwards.${index}`;
      const address = forward.hostAddress.trim();
      if (!ipv4.test(address)) {
        set(`${at}.hostAddress`, 'Enter an IPv4 address such as 127.0.0.1 (this computer only).');
      }
      set(`${at}.hostPort`, checkPort(forward.hostPort, 'host'));
      set(`${at}.guestPort`, checkPort(forward.guestPort, 'guest'));
      if (errors[`${at}.hostAddress`] || errors[`${at}.hostPort`]) return;
      const key = `${forward.protocol} ${address}:${parseWhole(forward.hostPort)}`;
      const first = seen.get(key);
      if (first !== undefined) {
        set(
          `${at}.hostPort`,
          `Rule ${first + 1} already forwards ${forward.protocol.toUpperCase()} ${address}:${parseWhole(forward.hostPort)}.`,
        );
      } else {
        seen.set(key, index);
      }
    });
  }

  if (values.displayEnabled) {
    const { minDisplay, maxDisplay } = vmLimits;
    set(
      'displayWidth',
      checkWhole(values.displayWidth, minDisplay.width, maxDisplay.width, 'pixels'),
    );
    set(
      'displayHeight',
      checkWhole(values.displayHeight, minDisplay.height, maxDisplay.height, 'pixels'),
    );
  }
  return errors;
}

/** Advice that does not block: a VM with most of the host's memory makes the host swap. */
export function memoryWarning(values: VmFormValues, limits: ResourceLimits): string | null {
  const memory = parseWhole(values.memoryMiB);
  if (limits.hostMemoryMiB === null || Number.isNaN(memory)) return null;
  if (memory > limits.hostMemoryMiB * MEMORY_WARNING_SHARE && memory <= limits.maxMemoryMiB) {
    return 'That leaves little memory for this computer; it may slow down while the VM runs.';
  }
  return null;
}

/**
 * The form field a service issue is about, from its path in a `vms.create` request
 * (`cpus`, `disk.file`, `network.portForwards[0].hostPort`) or in vm.json
 * (`hardware.cpus`, `boot.kernel`); null when no field matches.
 */
export function fieldForIssuePath(path: string): string | null {
  const normalized = path
    .replace(/^hardware\./, '')
    .replace(/^boot\./, '')
    .replace(/^network\./, '')
    .replace(/\[(\d+)\]/g, '.$1');
  const direct: Record<string, string> = {
    name: 'name',
    notes: 'notes',
    kernel: 'kernel',
    initrd: 'initrd',
    cmdline: 'cmdline',
    append: 'cmdline',
    cpus: 'cpus',
    memoryMiB: 'memoryMiB',
    'disk.file': 'existingDiskPath',
    'newDisk.sizeBytes': 'newDiskSize',
    newDisk: 'newDiskSize',
    display: 'displayWidth',
    'display.width': 'displayWidth',
    'display.height': 'displayHeight',
    'display.vramMiB': 'displayWidth',
    portForwards: 'portForwards',
    disks: 'disks',
  };
  if (direct[normalized]) return direct[normalized];
  const forward = /^portForwards\.(\d+)(?:\.(hostAddress|hostPort|guestPort|protocol))?$/.exec(
    normalized,
  );
  if (forward)
    return `portForwards.${forward[1]}.${forward[2] === 'protocol' || !forward[2] ? 'hostPort' : forward[2]}`;
  const disk = /^disks\.(\d+)(?:\.\w+)?$/.exec(normalized);
  if (disk) return `disks.${disk[1]}.file`;
  return null;
}
