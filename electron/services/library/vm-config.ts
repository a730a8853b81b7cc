/**
 * vm.json, schema version 1: what a VM is, as stored in its folder (docs/vm-library.md).
 * `validateVmConfig` checks an untrusted value field by field and returns either the typed
 * config or every problem with the path of the field; `serializeVmConfig` writes the fields
 * in one fixed order so diffs of hand-edited files stay small.
 *
 * Any new field bumps `schemaVersion`: unknown fields are refused (they are usually typos),
 * and a file from a newer Nestbox is reported as such rather than misread.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import {
  IssueList,
  describeValue,
  joinPath,
  readBoolean,
  readChoice,
  readInteger,
  readList,
  readObject,
  readString,
  type Validated,
} from './validation.ts';

export const VM_SCHEMA_VERSION = 1;

export const guestOsTypes = ['linux', 'other'] as const;
export type GuestOs = (typeof guestOsTypes)[number];

export const diskFormats = ['qcow2', 'raw'] as const;
export type VmDiskFormat = (typeof diskFormats)[number];

export const networkModes = ['nat', 'none'] as const;
export type VmNetworkMode = (typeof networkModes)[number];

export { vmLimits } from '../../common/vm-rules.ts';
import { vmLimits } from '../../common/vm-rules.ts';

export interface VmDisk {
  /** The image file: relative to the VM's folder, or absolute. */
  file: string;
  format: VmDiskFormat;
  /** The guest sees a read-only disk and the file is opened read-only. Default false. */
  readOnly?: boolean;
}

export interface VmPortForward {
  protocol: 'tcp' | 'udp';
  /** IPv4; '127.0.0.1' (the default) keeps the port private to this computer. */
  hostAddress: string;
  hostPort: number;
  guestPort: number;
}

export interface VmNetwork {
  /** 'nat': a virtio-net NIC behind user-mode NAT; 'none': no NIC at all. */
  mode: VmNetworkMode;
  /** Generated once when the VM is made, then kept, so the guest's DHCP lease and udev names stay. */
  macAddress: string;
  /** Kept (and ignored) while mode is 'none', so switching back restores them. */
  portForwards: VmPortForward[];
}

export interface VmDisplay {
  width: number;
  height: number;
  /** A power of two from 1 to 256; width × height × 4 bytes must fit. */
  vramMiB: number;
}

export interface VmHardware {
  cpus: number;
  memoryMiB: number;
  /** virtio-blk disks in PCI order: the first is the guest's /dev/vda. */
  disks: VmDisk[];
  network: VmNetwork;
  /** null: a headless VM (serial console only). */
  display: VmDisplay | null;
  /** COM1 is always present (the console); the field keeps room for more ports later. */
  serial: true;
}

/** Direct kernel boot. `iso` and `firmware` boot are planned as further kinds. */
export interface VmKernelBoot {
  kind: 'kernel';
  /** bzImage or ELF vmlinux: relative to the VM's folder, or absolute. */
  kernel: string;
  initrd?: string;
  cmdline: string;
}

export type VmBoot = VmKernelBoot;
export const bootKinds = ['kernel'] as const;
/** Kinds a later Nestbox will write; reported as "not supported yet" rather than as typos. */
const plannedBootKinds = ['iso', 'firmware'];

export interface VmConfig {
  schemaVersion: typeof VM_SCHEMA_VERSION;
  /** A UUID, made once and never changed: what every other part of Nestbox refers to. */
  id: string;
  name: string;
  notes: string;
  guestOs: GuestOs;
  /** ISO 8601, UTC. */
  createdAt: string;
  hardware: VmHardware;
  boot: VmBoot;
}

export const defaultDisplay: VmDisplay = { width: 1024, height: 768, vramMiB: 16 };

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const macPattern = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/i;
const isoDatePattern = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})$/;
const ipv4Pattern =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** A random locally administered unicast MAC (02:xx:…), as the VMM's derived ones are. */
export function generateMacAddress(random: (size: number) => Uint8Array = randomBytes): string {
  const bytes = Array.from(random(6));
  bytes[0] = ((bytes[0] ?? 0) & 0xfc) | 0x02;
  return bytes.map((byte) => byte.toString(16).padStart(2, '0')).join(':');
}

/** The schema version a parsed document claims, when it claims a sensible one. */
export function claimedSchemaVersion(raw: unknown): number | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const version = (raw as Record<string, unknown>)['schemaVersion'];
  return typeof version === 'number' && Number.isInteger(version) ? version : undefined;
}

export function validateVmConfig(raw: unknown): Validated<VmConfig> {
  const issues = new IssueList();
  const record = readObject(issues, raw, '', {
    required: ['schemaVersion', 'id', 'name', 'notes', 'guestOs', 'createdAt', 'hardware', 'boot'],
  });
  if (!record) return { ok: false, issues: issues.issues };

  if (Object.hasOwn(record, 'schemaVersion') && record['schemaVersion'] !== VM_SCHEMA_VERSION) {
    issues.add(
      'schemaVersion',
      `must be ${VM_SCHEMA_VERSION}, not ${describeValue(record['schemaVersion'])}`,
    );
  }
  const id = field(record, 'id', (value) => {
    const text = readString(issues, value, 'id');
    if (text !== undefined && !uuidPattern.test(text)) {
      issues.add('id', `must be a UUID such as 3f2b8c1e-…, not ${describeValue(text)}`);
    }
    return text?.toLowerCase();
  });
  const name = field(record, 'name', (value) => readVmName(issues, value, 'name'));
  const notes = field(record, 'notes', (value) =>
    readString(issues, value, 'notes', { maxLength: vmLimits.maxNotesLength, allowControl: true }),
  );
  const guestOs = field(record, 'guestOs', (value) =>
    readChoice(issues, value, 'guestOs', guestOsTypes),
  );
  const createdAt = field(record, 'createdAt', (value) => {
    const text = readString(issues, value, 'createdAt');
    if (text !== undefined && (!isoDatePattern.test(text) || Number.isNaN(Date.parse(text)))) {
      issues.add(
        'createdAt',
        `must be a date such as 2025-01-31T12:00:00Z, not ${describeValue(text)}`,
      );
      return undefined;
    }
    return text;
  });
  const hardware = field(record, 'hardware', (value) => readHardware(issues, value, 'hardware'));
  const boot = field(record, 'boot', (value) => readBoot(issues, value, 'boot'));

  if (
    !issues.empty ||
    id === undefined ||
    name === undefined ||
    notes === undefined ||
    guestOs === undefined ||
    createdAt === undefined ||
    hardware === undefined ||
    boot === undefined
  ) {
    return { ok: false, issues: issues.issues };
  }
  return {
    ok: true,
    value: {
      schemaVersion: VM_SCHEMA_VERSION,
      id,
      name,
      notes,
      guestOs,
      createdAt,
      hardware,
      boot,
    },
  };
}

/** Reads a field only when present (its absence was reported by readObject). */
function field<T>(
  record: Record<string, unknown>,
  key: string,
  read: (value: unknown) => T | undefined,
): T | undefined {
  return Object.hasOwn(record, key) ? read(record[key]) : undefined;
}

export function readVmName(issues: IssueList, value: unknown, at: string): string | undefined {
  return readString(issues, value, at, {
    minLength: 1,
    trim: true,
    maxLength: vmLimits.maxNameLength,
  });
}

function readFilePath(issues: IssueList, value: unknown, at: string): string | undefined {
  const text = readString(issues, value, at, { minLength: 1, maxLength: vmLimits.maxPathLength });
  if (text !== undefined && text.trim() !== text) {
    issues.add(at, 'must not start or end with spaces');
    return undefined;
  }
  return text;
}

function readHardware(issues: IssueList, value: unknown, at: string): VmHardware | undefined {
  const record = readObject(issues, value, at, {
    required: ['cpus', 'memoryMiB', 'disks', 'network', 'display', 'serial'],
  });
  if (!record) return undefined;
  const cpus = field(record, 'cpus', (v) =>
    readInteger(issues, v, joinPath(at, 'cpus'), {
      min: vmLimits.minCpus,
      max: vmLimits.maxCpus,
    }),
  );
  const memoryMiB = field(record, 'memoryMiB', (v) =>
    readInteger(issues, v, joinPath(at, 'memoryMiB'), {
      min: vmLimits.minMemoryMiB,
      max: vmLimits.maxMemoryMiB,
      unit: 'MiB',
    }),
  );
  const disks = field(record, 'disks', (v) => readDisks(issues, v, joinPath(at, 'disks')));
  const network = field(record, 'network', (v) => readNetwork(issues, v, joinPath(at, 'network')));
  const display = field(record, 'display', (v) =>
    v === null ? null : readDisplay(issues, v, joinPath(at, 'display')),
  );
  const serial = field(record, 'serial', (v) => {
    if (v !== true) {
      issues.add(
        joinPath(at, 'serial'),
        `must be true (COM1 is always there), not ${describeValue(v)}`,
      );
      return undefined;
    }
    return true as const;
  });
  if (
    cpus === undefined ||
    memoryMiB === undefined ||
    disks === undefined ||
    network === undefined ||
    display === undefined ||
    serial === undefined
  ) {
    return undefined;
  }
  return { cpus, memoryMiB, disks, network, display, serial };
}

function readDisks(issues: IssueList, value: unknown, at: string): VmDisk[] | undefined {
  const list = readList(issues, value, at, vmLimits.maxDisks);
  if (!list) return undefined;
  const disks: VmDisk[] = [];
  const seen = new Map<string, number>();
  list.forEach((item, index) => {
    const where = joinPath(at, index);
    const record = readObject(issues, item, where, {
      required: ['file', 'format'],
      optional: ['readOnly'],
    });
    if (!record) return;
    const file = field(record, 'file', (v) => readFilePath(issues, v, joinPath(where, 'file')));
    const format = field(record, 'format', (v) =>
      readChoice(issues, v, joinPath(where, 'format'), diskFormats),
    );
    const readOnly = field(record, 'readOnly', (v) =>
      readBoolean(issues, v, joinPath(where, 'readOnly')),
    );
    if (file === undefined || format === undefined) return;
    // Two writers on one image corrupt it.
    const key = path.normalize(file);
    const first = seen.get(key);
    if (first !== undefined) {
      issues.add(joinPath(where, 'file'), `is the same image as ${joinPath(at, first)}`);
      return;
    }
    seen.set(key, index);
    disks.push(readOnly === undefined ? { file, format } : { file, format, readOnly });
  });
  return disks.length === list.length ? disks : undefined;
}

function readNetwork(issues: IssueList, value: unknown, at: string): VmNetwork | undefined {
  const record = readObject(issues, value, at, {
    required: ['mode', 'macAddress', 'portForwards'],
  });
  if (!record) return undefined;
  const mode = field(record, 'mode', (v) =>
    readChoice(issues, v, joinPath(at, 'mode'), networkModes),
  );
  const macAddress = field(record, 'macAddress', (v) => {
    const where = joinPath(at, 'macAddress');
    const text = readString(issues, v, where);
    if (text === undefined) return undefined;
    if (!macPattern.test(text)) {
      issues.add(where, `must look like 02:5e:7a:10:22:9c, not ${describeValue(text)}`);
      return undefined;
    }
    const firstByte = Number.parseInt(text.slice(0, 2), 16);
    if ((firstByte & 1) !== 0 || /^00(?::00){5}$/.test(text)) {
      issues.add(where, `${text} is not a unicast address a network card can use`);
      return undefined;
    }
    return text.toLowerCase();
  });
  const portForwards = field(record, 'portForwards', (v) =>
    readPortForwards(issues, v, joinPath(at, 'portForwards')),
  );
  if (mode === undefined || macAddress === undefined || portForwards === undefined)
    return undefined;
  return { mode, macAddress, portForwards };
}

function readPortForwards(
  issues: IssueList,
  value: unknown,
  at: string,
): VmPortForward[] | undefined {
  const list = readList(issues, value, at, vmLimits.maxPortForwards);
  if (!list) return undefined;
  const forwards: VmPortForward[] = [];
  const seen = new Map<string, number>();
  list.forEach((item, index) => {
    const where = joinPath(at, index);
    const record = readObject(issues, item, where, {
      required: ['hostPort', 'guestPort'],
      optional: ['protocol', 'hostAddress'],
    });
    if (!record) return;
    const protocol = Object.hasOwn(record, 'protocol')
      ? readChoice(issues, record['protocol'], joinPath(where, 'protocol'), ['tcp', 'udp'] as const)
      : 'tcp';
    const hostAddress = Object.hasOwn(record, 'hostAddress')
      ? readIpv4(issues, record['hostAddress'], joinPath(where, 'hostAddress'))
      : '127.0.0.1';
    const port = { min: 1, max: 65535 };
    const hostPort = field(record, 'hostPort', (v) =>
      readInteger(issues, v, joinPath(where, 'hostPort'), port),
    );
    const guestPort = field(record, 'guestPort', (v) =>
      readInteger(issues, v, joinPath(where, 'guestPort'), port),
    );
    if (
      protocol === undefined ||
      hostAddress === undefined ||
      hostPort === undefined ||
      guestPort === undefined
    ) {
      return;
    }
    const key = `${protocol} ${hostAddress}:${hostPort}`;
    const first = seen.get(key);
    if (first !== undefined) {
      issues.add(where, `forwards ${key} again (already ${joinPath(at, first)})`);
      return;
    }
    seen.set(key, index);
    forwards.push({ protocol, hostAddress, hostPort, guestPort });
  });
  return forwards.length === list.length ? forwards : undefined;
}

function readIpv4(issues: IssueList, value: unknown, at: string): string | undefined {
  const text = readString(issues, value, at);
  if (text !== undefined && !ipv4Pattern.test(text)) {
    issues.add(at, `must be an IPv4 address such as 127.0.0.1, not ${describeValue(text)}`);
    return undefined;
  }
  return text;
}

function readDisplay(issues: IssueList, value: unknown, at: string): VmDisplay | undefined {
  const record = readObject(issues, value, at, { required: ['width', 'height', 'vramMiB'] });
  if (!record) return undefined;
  const { minDisplay, maxDisplay } = vmLimits;
  const width = field(record, 'width', (v) =>
    readInteger(issues, v, joinPath(at, 'width'), {
      min: minDisplay.width,
      max: maxDisplay.width,
      unit: 'pixels',
    }),
  );
  const height = field(record, 'height', (v) =>
    readInteger(issues, v, joinPath(at, 'height'), {
      min: minDisplay.height,
      max: maxDisplay.height,
      unit: 'pixels',
    }),
  );
  const vramMiB = field(record, 'vramMiB', (v) => {
    const where = joinPath(at, 'vramMiB');
    const mib = readInteger(issues, v, where, { min: 1, max: vmLimits.maxVramMiB, unit: 'MiB' });
    if (mib !== undefined && (mib & (mib - 1)) !== 0) {
      issues.add(where, `must be a power of two (1, 2, 4 … 256), not ${mib}`);
      return undefined;
    }
    return mib;
  });
  if (width === undefined || height === undefined || vramMiB === undefined) return undefined;
  if (width * height * 4 > vramMiB * 1024 * 1024) {
    issues.add(
      at,
      `${width}x${height} at 32 bits per pixel does not fit in ${vramMiB} MiB of video memory`,
    );
    return undefined;
  }
  return { width, height, vramMiB };
}

function readBoot(issues: IssueList, value: unknown, at: string): VmBoot | undefined {
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const kind = (value as Record<string, unknown>)['kind'];
    if (typeof kind === 'string' && plannedBootKinds.includes(kind)) {
      issues.add(
        joinPath(at, 'kind'),
        `"${kind}" boot is not supported by this version of Nestbox (it boots "kernel")`,
      );
      return undefined;
    }
  }
  const record = readObject(issues, value, at, {
    required: ['kind', 'kernel', 'cmdline'],
    optional: ['initrd'],
  });
  if (!record) return undefined;
  const kind = field(record, 'kind', (v) => readChoice(issues, v, joinPath(at, 'kind'), bootKinds));
  const kernel = field(record, 'kernel', (v) => readFilePath(issues, v, joinPath(at, 'kernel')));
  const initrd = field(record, 'initrd', (v) => readFilePath(issues, v, joinPath(at, 'initrd')));
  const cmdline = field(record, 'cmdline', (v) => {
    const where = joinPath(at, 'cmdline');
    const text = readString(issues, v, where, { allowControl: true });
    if (text === undefined) return undefined;
    if (text.includes('\0')) {
      issues.add(where, 'must not contain a NUL character');
      return undefined;
    }
    const bytes = Buffer.byteLength(text);
    if (bytes > vmLimits.maxCmdlineBytes) {
      issues.add(where, `is ${bytes} bytes; the limit is ${vmLimits.maxCmdlineBytes}`);
      return undefined;
    }
    return text;
  });
  if (kind === undefined || kernel === undefined || cmdline === undefined) return undefined;
  if (Object.hasOwn(record, 'initrd') && initrd === undefined) return undefined;
  return initrd === undefined ? { kind, kernel, cmdline } : { kind, kernel, initrd, cmdline };
}

/** The file's text: fields in schema order, two-space indent, final newline. */
export function serializeVmConfig(config: VmConfig): string {
  const { hardware, boot } = config;
  const ordered = {
    schemaVersion: config.schemaVersion,
    id: config.id,
    name: config.name,
    notes: config.notes,
    guestOs: config.guestOs,
    createdAt: config.createdAt,
    hardware: {
      cpus: hardware.cpus,
      memoryMiB: hardware.memoryMiB,
      disks: hardware.disks.map((disk) => ({
        file: disk.file,
        format: disk.format,
        ...(disk.readOnly === undefined ? {} : { readOnly: disk.readOnly }),
      })),
      network: {
        mode: hardware.network.mode,
        macAddress: hardware.network.macAddress,
        portForwards: hardware.network.portForwards.map((forward) => ({
          protocol: forward.protocol,
          hostAddress: forward.hostAddress,
          hostPort: forward.hostPort,
          guestPort: forward.guestPort,
        })),
      },
      display: hardware.display && {
        width: hardware.display.width,
        height: hardware.display.height,
        vramMiB: hardware.display.vramMiB,
      },
      serial: hardware.serial,
    },
    boot: {
      kind: boot.kind,
      kernel: boot.kernel,
      ...(boot.initrd === undefined ? {} : { initrd: boot.initrd }),
      cmdline: boot.cmdline,
    },
  };
  return `${JSON.stringify(ordered, null, 2)}\n`;
}
