/**
 * Changing a VM: a patch names only what changes, is merged into the current vm.json and the
 * result is validated as a whole (so each problem has the same field path as in the file).
 * Which changes need the VM off is one table here, checked by the library before writing.
 */
import { IssueList, describeValue, joinPath, type Validated } from './validation.ts';
import {
  validateVmConfig,
  type GuestOs,
  type VmBoot,
  type VmConfig,
  type VmDisk,
  type VmDisplay,
  type VmPortForward,
} from './vm-config.ts';

/** A port forward as a caller gives it: protocol and host address default to tcp, 127.0.0.1. */
export type VmPortForwardInput = Omit<VmPortForward, 'protocol' | 'hostAddress'> &
  Partial<Pick<VmPortForward, 'protocol' | 'hostAddress'>>;

export interface VmNetworkPatch {
  mode?: 'nat' | 'none';
  macAddress?: string;
  /** Replaces the whole list. */
  portForwards?: VmPortForwardInput[];
}

export interface VmHardwarePatch {
  cpus?: number;
  memoryMiB?: number;
  /** Replaces the whole list. */
  disks?: VmDisk[];
  network?: VmNetworkPatch;
  /** null makes the VM headless; an object replaces the display settings. */
  display?: VmDisplay | null;
}

export interface VmPatch {
  name?: string;
  notes?: string;
  guestOs?: GuestOs;
  hardware?: VmHardwarePatch;
  /** Replaces the boot settings. */
  boot?: VmBoot;
}

export { fieldsNeedingPowerOff } from '../../common/vm-rules.ts';
import { fieldsNeedingPowerOff } from '../../common/vm-rules.ts';

const patchableTop = ['name', 'notes', 'guestOs', 'hardware', 'boot'];
const patchableHardware = ['cpus', 'memoryMiB', 'disks', 'network', 'display'];
const patchableNetwork = ['mode', 'macAddress', 'portForwards'];
const fixedFields: Record<string, string> = {
  schemaVersion: 'is managed by Nestbox',
  id: 'cannot be changed: other parts of Nestbox refer to the VM by it',
  createdAt: 'cannot be changed',
  'hardware.serial': 'cannot be changed: COM1 is always present',
};

/** Merges an untrusted patch into `current` and validates the result. */
export function applyVmPatch(current: VmConfig, patch: unknown): Validated<VmConfig> {
  const issues = new IssueList();
  const top = patchObject(issues, patch, '', patchableTop);
  if (!top) return { ok: false, issues: issues.issues };
  const merged: Record<string, unknown> = {
    ...current,
    ...pick(top, ['name', 'notes', 'guestOs', 'boot']),
  };
  if (Object.hasOwn(top, 'hardware')) {
    const hardware = patchObject(issues, top['hardware'], 'hardware', patchableHardware);
    if (hardware) {
      const mergedHardware: Record<string, unknown> = {
        ...current.hardware,
        ...pick(hardware, ['cpus', 'memoryMiB', 'disks', 'display']),
      };
      if (Object.hasOwn(hardware, 'network')) {
        const network = patchObject(
          issues,
          hardware['network'],
          'hardware.network',
          patchableNetwork,
        );
        if (network) mergedHardware['network'] = { ...current.hardware.network, ...network };
      }
      merged['hardware'] = mergedHardware;
    }
  }
  if (!issues.empty) return { ok: false, issues: issues.issues };
  return validateVmConfig(merged);
}

function patchObject(
  issues: IssueList,
  value: unknown,
  at: string,
  allowed: readonly string[],
): Record<string, unknown> | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issues.add(at, `a change must be an object, not ${describeValue(value)}`);
    return undefined;
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    if (allowed.includes(key)) continue;
    const where = joinPath(at, key);
    issues.add(where, fixedFields[where] ?? 'unknown field');
  }
  return record;
}

function pick(record: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(
    keys.filter((key) => Object.hasOwn(record, key)).map((key) => [key, record[key]]),
  );
}

function valueAt(config: VmConfig, fieldPath: string): unknown {
  let value: unknown = config;
  for (const key of fieldPath.split('.')) {
    value = (value as Record<string, unknown> | null | undefined)?.[key];
  }
  return value;
}

/** The fields from `fieldsNeedingPowerOff` that differ between two validated configs. */
export function changesNeedingPowerOff(before: VmConfig, after: VmConfig): string[] {
  // Both come from validateVmConfig, which builds objects in one key order.
  return fieldsNeedingPowerOff.filter(
    (field) => JSON.stringify(valueAt(before, field)) !== JSON.stringify(valueAt(after, field)),
  );
}

export function isUnchanged(before: VmConfig, after: VmConfig): boolean {
  return JSON.stringify(before) === JSON.stringify(after);
}
