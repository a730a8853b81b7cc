/**
 * Checks every request and subscription payload that arrives from the renderer or the network
 * before anything acts on it, with the validation kit the library uses for its files. A bad
 * payload is a RequestError 'bad-request' listing each problem with its path in the request
 * (`patch.hardware.cpus: must be …`), and nothing is done.
 *
 * Values that become a VM's config are checked by the library's own rules (validateVmConfig,
 * applyVmPatch, applySettingsPatch) on a neutral placeholder, so the renderer gets the same
 * messages a hand-edited file would, and the library checks them again when it acts.
 */
import path from 'node:path';
import type { AppSettingsPatch } from '../common/app-settings.ts';
import type { RequestOf, SubscriptionParamsOf, VmRef } from '../common/contract.ts';
import type { CreateVmRequest, VmInputEvent, VmPatch } from '../common/vm-details.ts';
import {
  IssueList,
  describeValue,
  formatIssues,
  joinPath,
  readBoolean,
  readChoice,
  readInteger,
  readList,
  readObject,
  readString,
  type ValidationIssue,
} from './library/validation.ts';
import {
  defaultDisplay,
  diskFormats,
  validateVmConfig,
  vmLimits,
  type VmConfig,
} from './library/vm-config.ts';
import { DEFAULT_CPUS, DEFAULT_MEMORY_MIB, NEW_DISK_FILE } from './library/vm-library.ts';
import { applyVmPatch } from './library/vm-patch.ts';
import { applySettingsPatch, cloneSettings, defaultSettings } from './settings/settings.ts';
import { readSnapshotDescription, readSnapshotName } from './snapshots/snapshot-tree.ts';
import { RequestError } from './request-error.ts';
import { MAX_SERIAL_INPUT_BYTES } from './vm-host/protocol.ts';

/** Input events per `vms.input` request: a viewer sends what one animation frame gathered. */
export const MAX_INPUT_EVENTS = 256;
const MIN_NEW_DISK_BYTES = 1024 * 1024;
const MAX_NEW_DISK_BYTES = 2 ** 46;
const MAX_COORDINATE = 16384;
const MAX_WHEEL = 1000;
const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const keyCodePattern = /^[A-Za-z0-9]{1,32}$/;
const base64Pattern = /^[A-Za-z0-9+/]*={0,2}$/;

function refuse(what: string, issues: readonly ValidationIssue[]): never {
  throw new RequestError(
    'bad-request',
    `The ${what} request is not valid:\n${formatIssues(issues)}`,
    {
      issues,
    },
  );
}

/** Throws 'bad-request' when anything was wrong. */
function check(what: string, issues: IssueList): void {
  if (!issues.empty) refuse(what, issues.issues);
}

/**
 * "No payload" in each form the transports produce for it: `undefined` from
 * `ipcRenderer.invoke(channel)`, an empty body or `null`, and `{}` from generic HTTP clients.
 */
export function parseEmptyRequest(payload: unknown): undefined {
  const isEmptyObject =
    typeof payload === 'object' &&
    payload !== null &&
    !Array.isArray(payload) &&
    Object.keys(payload).length === 0;
  if (payload === undefined || payload === null || isEmptyObject) return undefined;
  throw new RequestError('bad-request', 'This request takes no parameters.');
}

function readVmId(issues: IssueList, value: unknown, at: string): string | undefined {
  const text = readString(issues, value, at, { minLength: 1, maxLength: 36 });
  if (text !== undefined && !uuidPattern.test(text)) {
    issues.add(at, 'must be a VM id (a UUID, as vms.list reports it)');
    return undefined;
  }
  return text?.toLowerCase();
}

function readAbsolutePath(issues: IssueList, value: unknown, at: string): string | undefined {
  const text = readString(issues, value, at, { minLength: 1, maxLength: vmLimits.maxPathLength });
  if (text !== undefined && !path.isAbsolute(text)) {
    issues.add(at, `must be an absolute path, not ${JSON.stringify(text)}`);
    return undefined;
  }
  return text;
}

/**
 * A request object with exactly the `required` and `optional` keys (anything else is refused
 * at once); its fields are read from the returned record into the returned issue list.
 */
function readRequest(
  what: string,
  payload: unknown,
  shape: { required: readonly string[]; optional?: readonly string[] },
): { issues: IssueList; record: Record<string, unknown> } {
  const issues = new IssueList();
  const record = readObject(issues, payload, '', shape);
  if (!record) refuse(what, issues.issues);
  return { issues, record };
}

/** `{id}` and nothing else. */
export function parseVmRef(what: string) {
  return (payload: unknown): VmRef => {
    const { issues, record } = readRequest(what, payload, { required: ['id'] });
    const id = readVmId(issues, record['id'], 'id');
    check(what, issues);
    return { id: id ?? '' };
  };
}

function readSnapshotId(issues: IssueList, value: unknown, at: string): string | undefined {
  const text = readString(issues, value, at, { minLength: 1, maxLength: 36 });
  if (text !== undefined && !uuidPattern.test(text)) {
    issues.add(at, 'must be a snapshot id (a UUID, as snapshots.list reports it)');
    return undefined;
  }
  return text?.toLowerCase();
}

function readOptionalBoolean(
  issues: IssueList,
  record: Record<string, unknown>,
  key: string,
): boolean | undefined {
  return Object.hasOwn(record, key) ? readBoolean(issues, record[key], key) : undefined;
}

export function parseStartRequest(payload: unknown): RequestOf<'vms.start'> {
  const { issues, record } = readRequest('vms.start', payload, {
    required: ['id'],
    optional: ['discardSuspended'],
  });
  const id = readVmId(issues, record['id'], 'id') ?? '';
  const discardSuspended = readOptionalBoolean(issues, record, 'discardSuspended');
  check('vms.start', issues);
  return discardSuspended === undefined ? { id } : { id, discardSuspended };
}

export function parseCloneRequest(payload: unknown): RequestOf<'vms.clone'> {
  const { issues, record } = readRequest('vms.clone', payload, {
    required: ['id', 'name'],
    optional: ['linked', 'snapshot'],
  });
  const id = readVmId(issues, record['id'], 'id') ?? '';
  const name = readString(issues, record['name'], 'name', {
    minLength: 1,
    trim: true,
    maxLength: vmLimits.maxNameLength,
  });
  const linked = readOptionalBoolean(issues, record, 'linked');
  const snapshot = Object.hasOwn(record, 'snapshot')
    ? readSnapshotId(issues, record['snapshot'], 'snapshot')
    : undefined;
  if (linked === true && !Object.hasOwn(record, 'snapshot')) {
    issues.add('snapshot', 'a linked clone is made from a snapshot: give its id');
  }
  check('vms.clone', issues);
  return {
    id,
    name: name ?? '',
    ...(linked !== undefined ? { linked } : {}),
    ...(snapshot !== undefined ? { snapshot } : {}),
  };
}

/** `{id, snapshot}` and nothing else: the VM and one of its snapshots, by id. */
export function parseSnapshotRef(what: string) {
  return (payload: unknown): VmRef & { snapshot: string } => {
    const { issues, record } = readRequest(what, payload, { required: ['id', 'snapshot'] });
    const id = readVmId(issues, record['id'], 'id') ?? '';
    const snapshot = readSnapshotId(issues, record['snapshot'], 'snapshot') ?? '';
    check(what, issues);
    return { id, snapshot };
  };
}

export function parseSnapshotTakeRequest(payload: unknown): RequestOf<'snapshots.take'> {
  const { issues, record } = readRequest('snapshots.take', payload, {
    required: ['id', 'name'],
    optional: ['description'],
  });
  const id = readVmId(issues, record['id'], 'id') ?? '';
  const name = readSnapshotName(issues, record['name'], 'name');
  const description = Object.hasOwn(record, 'description')
    ? readSnapshotDescription(issues, record['description'], 'description')
    : undefined;
  check('snapshots.take', issues);
  return { id, name: name ?? '', ...(description !== undefined ? { description } : {}) };
}

export function parseSnapshotRenameRequest(payload: unknown): RequestOf<'snapshots.rename'> {
  const { issues, record } = readRequest('snapshots.rename', payload, {
    required: ['id', 'snapshot'],
    optional: ['name', 'description'],
  });
  const id = readVmId(issues, record['id'], 'id') ?? '';
  const snapshot = readSnapshotId(issues, record['snapshot'], 'snapshot') ?? '';
  const hasName = Object.hasOwn(record, 'name');
  const hasDescription = Object.hasOwn(record, 'description');
  if (!hasName && !hasDescription) issues.add('', 'give a new name, a description or both');
  const name = hasName ? readSnapshotName(issues, record['name'], 'name') : undefined;
  const description = hasDescription
    ? readSnapshotDescription(issues, record['description'], 'description')
    : undefined;
  check('snapshots.rename', issues);
  return {
    id,
    snapshot,
    ...(name !== undefined ? { name } : {}),
    ...(description !== undefined ? { description } : {}),
  };
}

export function parseStopRequest(payload: unknown): RequestOf<'vms.stop'> {
  const { issues, record } = readRequest('vms.stop', payload, {
    required: ['id'],
    optional: ['force'],
  });
  const id = readVmId(issues, record['id'], 'id') ?? '';
  const force = Object.hasOwn(record, 'force')
    ? readBoolean(issues, record['force'], 'force')
    : undefined;
  check('vms.stop', issues);
  return force === undefined ? { id } : { id, force };
}

export function parseRenameRequest(payload: unknown): RequestOf<'vms.rename'> {
  const { issues, record } = readRequest('vms.rename', payload, { required: ['id', 'name'] });
  const id = readVmId(issues, record['id'], 'id') ?? '';
  const name = readString(issues, record['name'], 'name', {
    minLength: 1,
    trim: true,
    maxLength: vmLimits.maxNameLength,
  });
  check('vms.rename', issues);
  return { id, name: name ?? '' };
}

export function parseDeleteRequest(payload: unknown): RequestOf<'vms.delete'> {
  const { issues, record } = readRequest('vms.delete', payload, {
    required: [],
    optional: ['id', 'folder', 'permanently'],
  });
  const hasId = Object.hasOwn(record, 'id');
  if (hasId === Object.hasOwn(record, 'folder')) {
    issues.add('', 'give either the VM id or, for a broken VM, its folder');
  }
  const id = hasId ? readVmId(issues, record['id'], 'id') : undefined;
  const folder = Object.hasOwn(record, 'folder')
    ? readAbsolutePath(issues, record['folder'], 'folder')
    : undefined;
  const permanently = Object.hasOwn(record, 'permanently')
    ? readBoolean(issues, record['permanently'], 'permanently')
    : undefined;
  check('vms.delete', issues);
  const target = id !== undefined ? { id } : { folder: folder ?? '' };
  return permanently === undefined ? target : { ...target, permanently };
}

/** `{folder}` and nothing else: an absolute path (the renderer has no working directory). */
export function parseImportRequest(payload: unknown): RequestOf<'vms.import'> {
  const { issues, record } = readRequest('vms.import', payload, { required: ['folder'] });
  const folder = readAbsolutePath(issues, record['folder'], 'folder');
  check('vms.import', issues);
  return { folder: folder ?? '' };
}

/** A valid config no request refers to: patches and new VMs are checked against it. */
function placeholderConfig(): VmConfig {
  return {
    schemaVersion: 1,
    id: '00000000-0000-4000-8000-000000000000',
    name: 'placeholder',
    notes: '',
    guestOs: 'linux',
    createdAt: '2000-01-01T00:00:00Z',
    hardware: {
      cpus: DEFAULT_CPUS,
      memoryMiB: DEFAULT_MEMORY_MIB,
      disks: [],
      network: { mode: 'nat', macAddress: '02:00:00:00:00:01', portForwards: [] },
      display: { ...defaultDisplay },
      serial: true,
    },
    boot: { kind: 'kernel', kernel: '/placeholder', cmdline: '' },
  };
}

export function parseUpdateRequest(payload: unknown): RequestOf<'vms.update'> {
  const { issues, record } = readRequest('vms.update', payload, { required: ['id', 'patch'] });
  const id = readVmId(issues, record['id'], 'id') ?? '';
  if (Object.hasOwn(record, 'patch')) {
    // The library's own merge and checks, on a config the patch cannot conflict with.
    const result = applyVmPatch(placeholderConfig(), record['patch']);
    if (!result.ok) {
      for (const issue of result.issues) issues.add(joinPath('patch', issue.path), issue.message);
    }
  }
  check('vms.update', issues);
  return { id, patch: record['patch'] as VmPatch };
}

/** Config paths back to the fields of a create request that set them. */
const createPaths: [configPath: string, requestPath: string][] = [
  ['boot.kernel', 'kernel'],
  ['boot.initrd', 'initrd'],
  ['boot.cmdline', 'append'],
  ['hardware.cpus', 'cpus'],
  ['hardware.memoryMiB', 'memoryMiB'],
  ['hardware.disks[0]', 'disk'],
  ['hardware.network', 'network'],
  ['hardware.display', 'display'],
];

function requestPathOf(configPath: string): string {
  for (const [from, to] of createPaths) {
    if (configPath === from || configPath.startsWith(`${from}.`)) {
      return to + configPath.slice(from.length);
    }
  }
  return configPath;
}

export function parseCreateRequest(payload: unknown): CreateVmRequest {
  const { issues, record } = readRequest('vms.create', payload, {
    required: ['name', 'kernel'],
    optional: [
      'initrd',
      'append',
      'cpus',
      'memoryMiB',
      'disk',
      'newDisk',
      'network',
      'display',
      'notes',
      'guestOs',
    ],
  });
  const has = (key: string) => Object.hasOwn(record, key);
  const kernel = has('kernel') ? readAbsolutePath(issues, record['kernel'], 'kernel') : undefined;
  if (has('initrd')) readAbsolutePath(issues, record['initrd'], 'initrd');

  let disk: CreateVmRequest['disk'];
  if (has('disk')) {
    const diskRecord = readObject(issues, record['disk'], 'disk', {
      required: ['file'],
      optional: ['format', 'readOnly'],
    });
    if (diskRecord) {
      const file = readAbsolutePath(issues, diskRecord['file'], 'disk.file');
      const format = Object.hasOwn(diskRecord, 'format')
        ? readChoice(issues, diskRecord['format'], 'disk.format', diskFormats)
        : undefined;
      const readOnly = Object.hasOwn(diskRecord, 'readOnly')
        ? readBoolean(issues, diskRecord['readOnly'], 'disk.readOnly')
        : undefined;
      if (file !== undefined) {
        disk = {
          file,
          ...(format !== undefined ? { format } : {}),
          ...(readOnly !== undefined ? { readOnly } : {}),
        };
      }
    }
  }
  if (has('newDisk')) {
    if (has('disk')) issues.add('newDisk', 'give disk or newDisk, not both');
    const newDisk = readObject(issues, record['newDisk'], 'newDisk', { required: ['sizeBytes'] });
    if (newDisk && Object.hasOwn(newDisk, 'sizeBytes')) {
      readInteger(issues, newDisk['sizeBytes'], 'newDisk.sizeBytes', {
        min: MIN_NEW_DISK_BYTES,
        max: MAX_NEW_DISK_BYTES,
        unit: 'bytes',
      });
    }
  }
  let network: Record<string, unknown> | undefined;
  if (has('network')) {
    network = readObject(issues, record['network'], 'network', {
      required: ['mode'],
      optional: ['portForwards'],
    });
  }
  check('vms.create', issues);

  // Everything else by the library's rules for vm.json, on the config this would make.
  const config = placeholderConfig();
  const candidate = {
    ...config,
    name: typeof record['name'] === 'string' ? record['name'].trim() : record['name'],
    notes: has('notes') ? record['notes'] : '',
    guestOs: has('guestOs') ? record['guestOs'] : 'linux',
    hardware: {
      ...config.hardware,
      cpus: has('cpus') ? record['cpus'] : DEFAULT_CPUS,
      memoryMiB: has('memoryMiB') ? record['memoryMiB'] : DEFAULT_MEMORY_MIB,
      disks: disk
        ? [{ ...disk, format: disk.format ?? 'raw' }]
        : has('newDisk')
          ? [{ file: NEW_DISK_FILE, format: 'qcow2' }]
          : [],
      network: {
        ...config.hardware.network,
        mode: network ? network['mode'] : 'nat',
        portForwards:
          network && Object.hasOwn(network, 'portForwards') ? network['portForwards'] : [],
      },
      display: has('display') ? record['display'] : { ...defaultDisplay },
    },
    boot: {
      kind: 'kernel',
      kernel,
      ...(has('initrd') ? { initrd: record['initrd'] } : {}),
      cmdline: has('append') ? record['append'] : '',
    },
  };
  const validated = validateVmConfig(candidate);
  if (!validated.ok) {
    refuse(
      'vms.create',
      validated.issues.map((issue) => ({ ...issue, path: requestPathOf(issue.path) })),
    );
  }
  return { ...(record as unknown as CreateVmRequest), ...(disk ? { disk } : {}) };
}

function readKeyCode(issues: IssueList, value: unknown, at: string): string | undefined {
  if (typeof value !== 'string' || !keyCodePattern.test(value)) {
    issues.add(at, 'must be a KeyboardEvent.code such as "KeyA" or "ControlLeft"');
    return undefined;
  }
  return value;
}

export function parseSendKeysRequest(payload: unknown): RequestOf<'vms.sendKeys'> {
  const { issues, record } = readRequest('vms.sendKeys', payload, { required: ['id', 'codes'] });
  const id = readVmId(issues, record['id'], 'id') ?? '';
  const list = Object.hasOwn(record, 'codes') ? readList(issues, record['codes'], 'codes', 8) : [];
  if (list && list.length === 0 && Object.hasOwn(record, 'codes')) {
    issues.add('codes', 'must name at least one key');
  }
  const codes = (list ?? []).map((code, i) => readKeyCode(issues, code, joinPath('codes', i)));
  check('vms.sendKeys', issues);
  return { id, codes: codes as string[] };
}

const inputShapes: Record<VmInputEvent['type'], readonly string[]> = {
  key: ['code', 'pressed'],
  pointerMove: ['x', 'y'],
  pointerButton: ['button', 'pressed'],
  wheel: ['dx', 'dy'],
  releaseAll: [],
};

function readInputEvent(issues: IssueList, value: unknown, at: string): VmInputEvent | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    issues.add(at, `must be an object, not ${describeValue(value)}`);
    return undefined;
  }
  const type = readChoice(
    issues,
    (value as Record<string, unknown>)['type'],
    joinPath(at, 'type'),
    Object.keys(inputShapes) as VmInputEvent['type'][],
  );
  if (type === undefined) return undefined;
  const record = readObject(issues, value, at, { required: ['type', ...inputShapes[type]] });
  if (!record) return undefined;
  const fieldAt = (key: string) => joinPath(at, key);
  let event: VmInputEvent | undefined;
  switch (type) {
    case 'key': {
      const code = readKeyCode(issues, record['code'], fieldAt('code'));
      const pressed = readBoolean(issues, record['pressed'], fieldAt('pressed'));
      if (code !== undefined && pressed !== undefined) event = { type, code, pressed };
      break;
    }
    case 'pointerMove': {
      const range = { min: 0, max: MAX_COORDINATE, unit: 'pixels' };
      const x = readInteger(issues, record['x'], fieldAt('x'), range);
      const y = readInteger(issues, record['y'], fieldAt('y'), range);
      if (x !== undefined && y !== undefined) event = { type, x, y };
      break;
    }
    case 'pointerButton': {
      const button = readInteger(issues, record['button'], fieldAt('button'), { min: 0, max: 4 });
      const pressed = readBoolean(issues, record['pressed'], fieldAt('pressed'));
      if (button !== undefined && pressed !== undefined) event = { type, button, pressed };
      break;
    }
    case 'wheel': {
      const range = { min: -MAX_WHEEL, max: MAX_WHEEL };
      const dx = readInteger(issues, record['dx'], fieldAt('dx'), range);
      const dy = readInteger(issues, record['dy'], fieldAt('dy'), range);
      if (dx !== undefined && dy !== undefined) event = { type, dx, dy };
      break;
    }
    case 'releaseAll':
      event = { type };
      break;
  }
  return event;
}

export function parseInputRequest(payload: unknown): RequestOf<'vms.input'> {
  const { issues, record } = readRequest('vms.input', payload, { required: ['id', 'events'] });
  const id = readVmId(issues, record['id'], 'id') ?? '';
  const list = Object.hasOwn(record, 'events')
    ? readList(issues, record['events'], 'events', MAX_INPUT_EVENTS)
    : [];
  const events = (list ?? []).map((item, i) => readInputEvent(issues, item, joinPath('events', i)));
  check('vms.input', issues);
  return { id, events: events as VmInputEvent[] };
}

export function parseSendSerialRequest(payload: unknown): RequestOf<'vms.sendSerial'> {
  const { issues, record } = readRequest('vms.sendSerial', payload, {
    required: ['id'],
    optional: ['text', 'base64'],
  });
  const id = readVmId(issues, record['id'], 'id') ?? '';
  const hasText = Object.hasOwn(record, 'text');
  if (hasText === Object.hasOwn(record, 'base64')) {
    issues.add('', 'give exactly one of text or base64');
    refuse('vms.sendSerial', issues.issues);
  }
  const key = hasText ? 'text' : 'base64';
  const value = readString(issues, record[key], key, { allowControl: true });
  if (value !== undefined) {
    if (!hasText && !base64Pattern.test(value)) issues.add(key, 'must be base64 text');
    const bytes = hasText ? Buffer.byteLength(value) : Math.floor((value.length * 3) / 4);
    if (bytes > MAX_SERIAL_INPUT_BYTES) {
      issues.add(key, `is ${bytes} bytes; send at most ${MAX_SERIAL_INPUT_BYTES} at a time`);
    }
  }
  check('vms.sendSerial', issues);
  return hasText ? { id, text: value ?? '' } : { id, base64: value ?? '' };
}

export function parseSettingsPatch(payload: unknown): AppSettingsPatch {
  const result = applySettingsPatch(cloneSettings(defaultSettings), payload);
  if (!result.ok) refuse('settings.update', result.issues);
  return payload as AppSettingsPatch;
}

// ---- subscriptions --------------------------------------------------------------------------

export function parseSerialParams(payload: unknown): SubscriptionParamsOf<'vm.serial'> {
  const { issues, record } = readRequest('vm.serial', payload, {
    required: ['id'],
    optional: ['history'],
  });
  const id = readVmId(issues, record['id'], 'id') ?? '';
  const history = Object.hasOwn(record, 'history')
    ? readBoolean(issues, record['history'], 'history')
    : undefined;
  check('vm.serial', issues);
  return history === undefined ? { id } : { id, history };
}
