/**
 * The VM host's control protocol (docs/vm-host.md): the one typed contract between a VM host
 * and its clients (the app, `nestbox serve`, the CLI), shared by both sides.
 *
 * Transport: a stream socket carrying frames. A frame is a 4-byte big-endian length (of what
 * follows), a 1-byte tag and a payload:
 *
 *   tag 1 JSON     requests {id, method, params?}, responses {id, result} | {id, error},
 *                  events {event, data}
 *   tag 2 SERIAL   host → client: bytes the guest wrote to COM1 (to serial subscribers);
 *                  client → host: bytes for the guest's COM1 (no response)
 *   tag 3 DISPLAY  one display-stream message (docs/display-stream.md): MODE/FRAME to display
 *                  subscribers, ACK from them
 *   tag 4 RESULT   host → client: a binary result (a screenshot's PNG): 4-byte big-endian
 *                  request id, then the bytes; it answers that request instead of a JSON response
 *
 * Everything that arrives is validated here before anything acts on it: a frame over the size
 * limit, an unknown tag, bytes that are not a JSON object of the right shape are protocol
 * errors (the host answers with a `protocol-error` event and disconnects the client); an
 * unknown method or bad params are ordinary error responses, so newer clients can probe.
 */
import type { MachineState, MachineStats, ResetCause, StopReason } from '../native/native-addon.ts';
import type { CollectResult, SnapshotNode, SnapshotTree } from '../snapshots/snapshot-store.ts';
import type { VmProgress } from '../../common/snapshot-types.ts';

export const PROTOCOL_VERSION = 1;

export const FrameTag = { json: 1, serial: 2, display: 3, result: 4 } as const;
export type FrameTag = (typeof FrameTag)[keyof typeof FrameTag];

/** The length prefix (4 bytes) and the tag (1 byte). */
export const FRAME_HEADER_BYTES = 5;
/** Tag + payload a client may send: requests, serial input and display ACKs are small. */
export const MAX_CLIENT_FRAME_BYTES = 1024 * 1024;
/** Tag + payload a host may send: a full FRAME of the largest display (256 MiB VRAM), or its PNG. */
export const MAX_HOST_FRAME_BYTES = 320 * 1024 * 1024;
/** Request ids are 1 … 2³² − 1, so a binary result can name its request in 4 bytes. */
export const MAX_REQUEST_ID = 0xffffffff;
const MAX_METHOD_LENGTH = 64;

export const clientFrameTags: ReadonlySet<number> = new Set([
  FrameTag.json,
  FrameTag.serial,
  FrameTag.display,
]);
export const hostFrameTags: ReadonlySet<number> = new Set([
  FrameTag.json,
  FrameTag.serial,
  FrameTag.display,
  FrameTag.result,
]);

/** Why a request or a connection failed. */
export type HostErrorCode =
  /** Framing: an unknown tag, a zero length, a frame over the limit. Fatal. */
  | 'bad-frame'
  | 'frame-too-large'
  /** A JSON frame that is not a well-formed message. Fatal. */
  | 'bad-message'
  | 'unknown-method'
  | 'invalid-params'
  /** The machine is not in a state that allows it (e.g. pause while stopped). */
  | 'invalid-state'
  /** The VM is headless, or its display is off. */
  | 'no-display'
  /** More serial input is queued than the guest has read. */
  | 'input-full'
  | 'too-many-clients'
  /** The client does not read what it asked for (serial output piles up). Fatal. */
  | 'too-slow'
  /** The machine has stopped and the host is exiting. */
  | 'shutting-down'
  /** A snapshot operation was refused (unknown snapshot, protected, broken tree, unusable files). */
  | 'snapshot-error'
  /** Anything else; the message says what. */
  | 'failed';

export interface HostErrorData {
  code: HostErrorCode;
  message: string;
}

/** A failure with a code the other side can act on. */
export class HostProtocolError extends Error {
  override readonly name = 'HostProtocolError';

  constructor(
    readonly code: HostErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

// ---- messages -------------------------------------------------------------------------------

export interface DisplaySize {
  width: number;
  height: number;
}

export interface HostStatus {
  protocolVersion: number;
  hostVersion: string;
  vmId: string;
  name: string;
  folder: string;
  pid: number;
  state: MachineState;
  /** ISO 8601. */
  startedAt: string;
  /** Connected clients, this one included. */
  clients: number;
  /** The guest display's current size; null for a headless VM or a display that is off. */
  display: DisplaySize | null;
  stats: MachineStats;
  logFile: string;
  /** Serial input bytes waiting for the guest to read them. */
  serialInputQueued: number;
}

export interface SubscribeParams {
  /** Guest COM1 output as SERIAL frames. */
  serial?: boolean;
  /**
   * With `serial: true`: first the output the host kept (the last SERIAL_HISTORY_BYTES), so a
   * console attached late sees the prompt it missed. It arrives before the answer.
   */
  serialHistory?: boolean;
  /** The display stream as DISPLAY frames; acknowledge each with an ACK (credits). */
  display?: boolean;
}

export interface SubscribeResult {
  serial: boolean;
  display: boolean;
}

/** Exactly one of `text` (sent as UTF-8) or `base64`. */
export interface SendSerialParams {
  text?: string;
  base64?: string;
}

export interface InputResult {
  /** False for an unknown key code, or no device listening (e.g. before the guest's driver). */
  delivered: boolean;
}

type Empty = Record<string, never>;

/** Every method: its params and its result. `screenshot`'s result comes as a RESULT frame. */
export interface HostMethodMap {
  status: { params: undefined; result: HostStatus };
  pause: { params: undefined; result: { state: MachineState; latencyMs: number } };
  resume: { params: undefined; result: { state: MachineState } };
  /** Like the reset button: the guest reboots (a `reset` event follows). */
  reset: { params: undefined; result: Empty };
  /** The ACPI power button: the guest decides (a well-behaved OS shuts down). */
  powerButton: { params: undefined; result: Empty };
  /** Hard power off; answers once the machine has stopped (then the host exits). */
  powerOff: { params: undefined; result: { state: MachineState; reason?: StopReason } };
  sendSerial: { params: SendSerialParams; result: { queued: number } };
  subscribe: { params: SubscribeParams; result: SubscribeResult };
  /** The visible frame as PNG bytes. */
  screenshot: { params: undefined; result: Uint8Array };
  sendKey: { params: { code: string; pressed: boolean }; result: InputResult };
  sendKeyCombo: { params: { codes: string[] }; result: InputResult };
  pointerMove: { params: { x: number; y: number }; result: InputResult };
  pointerButton: { params: { button: number; pressed: boolean }; result: InputResult };
  wheel: { params: { dx: number; dy: number }; result: InputResult };
  releaseAllInput: { params: undefined; result: Empty };
  /** Every `KeyboardEvent.code` sendKey understands. */
  keyCodeNames: { params: undefined; result: { codes: string[] } };
  /** The VM's snapshot tree and where it is now. */
  snapshotList: { params: undefined; result: SnapshotTree };
  /** A snapshot of the running VM, with memory; `progress` events report the RAM written. */
  snapshotTake: { params: { name: string; description?: string }; result: SnapshotNode };
  /** Go to a snapshot (by id, or by name when unique): 'running' for a memory snapshot, else the VM powers off. */
  snapshotRevert: { params: { snapshot: string }; result: { state: 'running' | 'stopped' } };
  /**
   * Deletes a snapshot; `progress` events (operation 'delete') report the merges' bytes. Not
   * cancellable: it runs to the end once asked (docs/ipc.md, Jobs).
   */
  snapshotDelete: { params: { snapshot: string }; result: CollectResult };
  /** Marks a snapshot as used (or no longer used) by a linked clone, which protects it. */
  snapshotProtect: {
    params: { snapshot: string; cloneVmId: string; protect: boolean };
    result: SnapshotNode;
  };
  /** Saves the whole machine and stops; the next start continues it. Answers once saved. */
  suspend: { params: undefined; result: Empty };
  snapshotRename: {
    params: { snapshot: string; name?: string; description?: string };
    result: SnapshotNode;
  };
}

export type HostMethod = keyof HostMethodMap;
export type ParamsOf<M extends HostMethod> = HostMethodMap[M]['params'];
export type ResultOf<M extends HostMethod> = HostMethodMap[M]['result'];

/** Methods answered with a RESULT frame rather than JSON. */
export const binaryResultMethods: ReadonlySet<HostMethod> = new Set<HostMethod>(['screenshot']);

/** What the host records when it exits (also `<vm-folder>/.nestbox/last-exit.json`). */
export interface LastExit {
  /**
   * 'stopped': the machine stopped (powered off, halted, or a reset with reboots off);
   * 'error': the VM failed (a vCPU or KVM error, a reset loop, the host itself failing);
   * 'start-failed': it never ran (a missing kernel, a corrupt disk image, no KVM…).
   */
  state: 'stopped' | 'error' | 'start-failed';
  reason: StopReason | 'start-failed' | 'host-failure' | 'suspended';
  error?: { code?: string; message: string };
  /** ISO 8601. */
  at: string;
  pid: number;
}

/** Sent first on every connection. */
export interface HelloEvent {
  protocolVersion: number;
  hostVersion: string;
  vmId: string;
  name: string;
  pid: number;
  state: MachineState;
}

export interface HostEventMap {
  hello: HelloEvent;
  state: { state: MachineState; reason?: StopReason };
  reset: { cause: ResetCause; reboot: boolean };
  /** A vCPU could not continue; registers as 0x-prefixed hex. */
  'vm-error': { message: string; registers?: Record<string, string> };
  /** A device's notice (guest driver error, disk I/O failure, network problem). */
  log: { message: string };
  /** The machine ended; the host closes every connection and exits right after. */
  exit: LastExit;
  /** The client broke the protocol and is being disconnected. */
  'protocol-error': HostErrorData;
  /**
   * A long operation's progress (bytes done of total): the RAM a take or a suspend saves, the
   * disk layers a delete merges.
   */
  progress: VmProgress;
}

export type HostEventName = keyof HostEventMap;

export const hostEventNames: readonly HostEventName[] = [
  'hello',
  'state',
  'reset',
  'vm-error',
  'log',
  'exit',
  'protocol-error',
  'progress',
];

export interface RequestMessage {
  id: number;
  method: string;
  params?: unknown;
}

export type ResponseMessage =
  { id: number; result: unknown } | { id: number; error: HostErrorData };

export interface EventMessage {
  event: string;
  data: unknown;
}

// ---- framing --------------------------------------------------------------------------------

export interface Frame {
  tag: FrameTag;
  payload: Buffer;
}

/** The 5 bytes that go before a payload of `payloadLength` bytes. */
export function frameHeader(tag: FrameTag, payloadLength: number): Buffer {
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  header.writeUInt32BE(payloadLength + 1, 0);
  header.writeUInt8(tag, 4);
  return header;
}

export function encodeJsonFrame(message: unknown): Buffer {
  const json = Buffer.from(JSON.stringify(message), 'utf8');
  return Buffer.concat([frameHeader(FrameTag.json, json.length), json]);
}

export function encodeBinaryFrame(tag: FrameTag, payload: Uint8Array): Buffer {
  return Buffer.concat([frameHeader(tag, payload.byteLength), payload]);
}

/** A RESULT frame's payload prefix: the request id it answers. */
export function resultPrefix(id: number): Buffer {
  const prefix = Buffer.allocUnsafe(4);
  prefix.writeUInt32BE(id, 0);
  return prefix;
}

/**
 * Splits a byte stream into frames. Checks each header as soon as its 5 bytes are in, so a
 * frame over the limit or with an unknown tag is refused before its body is buffered. A frame
 * whose payload arrived in one chunk is returned as a view of it (no copy).
 */
export class FrameDecoder {
  readonly #header = Buffer.alloc(FRAME_HEADER_BYTES);
  #headerFilled = 0;
  #tag: FrameTag = FrameTag.json;
  #body: Buffer | null = null;
  #bodyFilled = 0;

  constructor(
    private readonly maxFrameBytes: number,
    private readonly allowedTags: ReadonlySet<number>,
  ) {}

  /** Bytes of an unfinished frame held; a client that sends half a frame holds at most the limit. */
  get buffered(): number {
    return this.#headerFilled + this.#bodyFilled;
  }

  /** Throws HostProtocolError ('bad-frame', 'frame-too-large'); the stream is unusable after. */
  push(chunk: Uint8Array): Frame[] {
    const frames: Frame[] = [];
    const bytes = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let offset = 0;
    while (offset < bytes.length) {
      if (this.#body === null) {
        const take = Math.min(FRAME_HEADER_BYTES - this.#headerFilled, bytes.length - offset);
        bytes.copy(this.#header, this.#headerFilled, offset, offset + take);
        this.#headerFilled += take;
        offset += take;
        if (this.#headerFilled < FRAME_HEADER_BYTES) break;
        this.#headerFilled = 0;
        const length = this.#header.readUInt32BE(0);
        const tag = this.#header.readUInt8(4);
        if (length === 0) throw new HostProtocolError('bad-frame', 'a frame has length 0');
        if (length > this.maxFrameBytes) {
          throw new HostProtocolError(
            'frame-too-large',
            `a ${length}-byte frame is over the ${this.maxFrameBytes}-byte limit`,
          );
        }
        if (!this.allowedTags.has(tag)) {
          throw new HostProtocolError('bad-frame', `unknown frame tag ${tag}`);
        }
        this.#tag = tag as FrameTag;
        const payloadLength = length - 1;
        if (bytes.length - offset >= payloadLength) {
          frames.push({ tag: this.#tag, payload: bytes.subarray(offset, offset + payloadLength) });
          offset += payloadLength;
          continue;
        }
        this.#body = Buffer.allocUnsafe(payloadLength);
        this.#bodyFilled = 0;
      }
      const take = Math.min(this.#body.length - this.#bodyFilled, bytes.length - offset);
      bytes.copy(this.#body, this.#bodyFilled, offset, offset + take);
      this.#bodyFilled += take;
      offset += take;
      if (this.#bodyFilled === this.#body.length) {
        frames.push({ tag: this.#tag, payload: this.#body });
        this.#body = null;
        this.#bodyFilled = 0;
      }
    }
    return frames;
  }
}

// ---- validation -----------------------------------------------------------------------------

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function parseJsonObject(payload: Uint8Array, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(payload));
  } catch {
    throw new HostProtocolError('bad-message', `${what} is not UTF-8 JSON`);
  }
  if (!isPlainObject(value)) throw new HostProtocolError('bad-message', `${what} is not an object`);
  return value;
}

function onlyKeys(record: Record<string, unknown>, allowed: readonly string[], what: string) {
  for (const key of Object.keys(record)) {
    if (!allowed.includes(key)) {
      throw new HostProtocolError('bad-message', `${what} has an unknown field "${key}"`);
    }
  }
}

export function isRequestId(value: unknown): value is number {
  return (
    typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= MAX_REQUEST_ID
  );
}

/** A client's JSON frame: a request. Throws 'bad-message' for anything else. */
export function parseRequestFrame(payload: Uint8Array): RequestMessage {
  const record = parseJsonObject(payload, 'the request');
  onlyKeys(record, ['id', 'method', 'params'], 'the request');
  const { id, method, params } = record;
  if (!isRequestId(id)) {
    throw new HostProtocolError(
      'bad-message',
      `the request id must be an integer 1..${MAX_REQUEST_ID}`,
    );
  }
  if (typeof method !== 'string' || method.length === 0 || method.length > MAX_METHOD_LENGTH) {
    throw new HostProtocolError('bad-message', 'the request method must be a short string');
  }
  if (params !== undefined && params !== null && !isPlainObject(params)) {
    throw new HostProtocolError('bad-message', 'the request params must be an object');
  }
  return { id, method, ...(params !== undefined && params !== null ? { params } : {}) };
}

/** A host's JSON frame: a response or an event. Throws 'bad-message' for anything else. */
export function parseHostJsonFrame(
  payload: Uint8Array,
): { kind: 'response'; message: ResponseMessage } | { kind: 'event'; message: EventMessage } {
  const record = parseJsonObject(payload, 'the host message');
  if (typeof record['event'] === 'string') {
    onlyKeys(record, ['event', 'data'], 'the event');
    return { kind: 'event', message: { event: record['event'], data: record['data'] } };
  }
  const { id, error } = record;
  if (!isRequestId(id)) throw new HostProtocolError('bad-message', 'a response without an id');
  if (Object.hasOwn(record, 'error')) {
    onlyKeys(record, ['id', 'error'], 'the response');
    if (
      !isPlainObject(error) ||
      typeof error['code'] !== 'string' ||
      typeof error['message'] !== 'string'
    ) {
      throw new HostProtocolError('bad-message', 'an error response without code and message');
    }
    return {
      kind: 'response',
      message: { id, error: { code: error['code'] as HostErrorCode, message: error['message'] } },
    };
  }
  onlyKeys(record, ['id', 'result'], 'the response');
  if (!Object.hasOwn(record, 'result')) {
    throw new HostProtocolError('bad-message', 'a response without result or error');
  }
  return { kind: 'response', message: { id, result: record['result'] } };
}

// ---- params ---------------------------------------------------------------------------------

function invalid(method: string, message: string): HostProtocolError {
  return new HostProtocolError('invalid-params', `${method}: ${message}`);
}

function paramsRecord(method: string, raw: unknown, keys: readonly string[]) {
  const record = raw === undefined ? {} : raw;
  if (!isPlainObject(record)) throw invalid(method, 'params must be an object');
  for (const key of Object.keys(record)) {
    if (!keys.includes(key)) throw invalid(method, `unknown parameter "${key}"`);
  }
  return record;
}

function noParams(method: string) {
  return (raw: unknown): undefined => {
    paramsRecord(method, raw, []);
    return undefined;
  };
}

function readBoolean(method: string, record: Record<string, unknown>, key: string): boolean {
  const value = record[key];
  if (typeof value !== 'boolean') throw invalid(method, `${key} must be true or false`);
  return value;
}

function readNumber(
  method: string,
  record: Record<string, unknown>,
  key: string,
  min: number,
  max: number,
): number {
  const value = record[key];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(method, `${key} must be an integer from ${min} to ${max}`);
  }
  return value;
}

function readKeyCode(method: string, value: unknown, key: string): string {
  if (typeof value !== 'string' || !/^[A-Za-z0-9]{1,32}$/.test(value)) {
    throw invalid(method, `${key} must be a KeyboardEvent.code such as "KeyA"`);
  }
  return value;
}

/** Guest output a host keeps for `serialHistory`. */
export const SERIAL_HISTORY_BYTES = 64 * 1024;
/** The largest serial input one request may carry (the frame limit bounds it anyway). */
export const MAX_SERIAL_INPUT_BYTES = 512 * 1024;
const MAX_COORDINATE = 16384;
const MAX_WHEEL = 1000;

function readText(
  method: string,
  record: Record<string, unknown>,
  key: string,
  maxLength: number,
  optional: boolean,
): string | undefined {
  const value = record[key];
  if (value === undefined && optional) return undefined;
  if (typeof value !== 'string' || value.length > maxLength) {
    throw invalid(method, `${key} must be text of at most ${maxLength} characters`);
  }
  return value;
}

/** Snapshot names and ids as clients send them; the store checks them further. */
const MAX_SNAPSHOT_NAME = 200;
const MAX_SNAPSHOT_DESCRIPTION = 10000;

function snapshotRef(method: string, raw: unknown, keys: readonly string[]) {
  const record = paramsRecord(method, raw, ['snapshot', ...keys]);
  const snapshot = readText(method, record, 'snapshot', MAX_SNAPSHOT_NAME, false) ?? '';
  if (snapshot.trim() === '') throw invalid(method, 'snapshot must name a snapshot');
  return { record, snapshot };
}

/** Validates each method's params; both sides use it (the client before sending). */
export const paramsParsers: { readonly [M in HostMethod]: (raw: unknown) => ParamsOf<M> } = {
  status: noParams('status'),
  pause: noParams('pause'),
  resume: noParams('resume'),
  reset: noParams('reset'),
  powerButton: noParams('powerButton'),
  powerOff: noParams('powerOff'),
  screenshot: noParams('screenshot'),
  releaseAllInput: noParams('releaseAllInput'),
  keyCodeNames: noParams('keyCodeNames'),
  snapshotList: noParams('snapshotList'),
  suspend: noParams('suspend'),
  snapshotProtect(raw) {
    const { record, snapshot } = snapshotRef('snapshotProtect', raw, ['cloneVmId', 'protect']);
    const cloneVmId = readText('snapshotProtect', record, 'cloneVmId', 64, false) ?? '';
    if (!/^[0-9a-f-]{36}$/i.test(cloneVmId)) {
      throw invalid('snapshotProtect', 'cloneVmId must be a VM id');
    }
    return { snapshot, cloneVmId, protect: readBoolean('snapshotProtect', record, 'protect') };
  },
  snapshotTake(raw) {
    const record = paramsRecord('snapshotTake', raw, ['name', 'description']);
    const name = readText('snapshotTake', record, 'name', MAX_SNAPSHOT_NAME, false) ?? '';
    const description = readText(
      'snapshotTake',
      record,
      'description',
      MAX_SNAPSHOT_DESCRIPTION,
      true,
    );
    return description === undefined ? { name } : { name, description };
  },
  snapshotRevert: (raw) => ({ snapshot: snapshotRef('snapshotRevert', raw, []).snapshot }),
  snapshotDelete: (raw) => ({ snapshot: snapshotRef('snapshotDelete', raw, []).snapshot }),
  snapshotRename(raw) {
    const { record, snapshot } = snapshotRef('snapshotRename', raw, ['name', 'description']);
    const name = readText('snapshotRename', record, 'name', MAX_SNAPSHOT_NAME, true);
    const description = readText(
      'snapshotRename',
      record,
      'description',
      MAX_SNAPSHOT_DESCRIPTION,
      true,
    );
    if (name === undefined && description === undefined) {
      throw invalid('snapshotRename', 'give a new name, a description or both');
    }
    return {
      snapshot,
      ...(name === undefined ? {} : { name }),
      ...(description === undefined ? {} : { description }),
    };
  },
  sendSerial(raw) {
    const record = paramsRecord('sendSerial', raw, ['text', 'base64']);
    const { text, base64 } = record;
    if ((text === undefined) === (base64 === undefined)) {
      throw invalid('sendSerial', 'give exactly one of text or base64');
    }
    if (text !== undefined) {
      if (typeof text !== 'string') throw invalid('sendSerial', 'text must be a string');
      return { text };
    }
    if (typeof base64 !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(base64)) {
      throw invalid('sendSerial', 'base64 must be base64 text');
    }
    return { base64 };
  },
  subscribe(raw) {
    const record = paramsRecord('subscribe', raw, ['serial', 'serialHistory', 'display']);
    const params: SubscribeParams = {};
    if (record['serial'] !== undefined) params.serial = readBoolean('subscribe', record, 'serial');
    if (record['serialHistory'] !== undefined) {
      params.serialHistory = readBoolean('subscribe', record, 'serialHistory');
    }
    if (record['display'] !== undefined) {
      params.display = readBoolean('subscribe', record, 'display');
    }
    return params;
  },
  sendKey(raw) {
    const record = paramsRecord('sendKey', raw, ['code', 'pressed']);
    return {
      code: readKeyCode('sendKey', record['code'], 'code'),
      pressed: readBoolean('sendKey', record, 'pressed'),
    };
  },
  sendKeyCombo(raw) {
    const record = paramsRecord('sendKeyCombo', raw, ['codes']);
    const codes = record['codes'];
    if (!Array.isArray(codes) || codes.length < 1 || codes.length > 8) {
      throw invalid('sendKeyCombo', 'codes must be a list of 1 to 8 key codes');
    }
    return { codes: codes.map((code, i) => readKeyCode('sendKeyCombo', code, `codes[${i}]`)) };
  },
  pointerMove(raw) {
    const record = paramsRecord('pointerMove', raw, ['x', 'y']);
    return {
      x: readNumber('pointerMove', record, 'x', 0, MAX_COORDINATE),
      y: readNumber('pointerMove', record, 'y', 0, MAX_COORDINATE),
    };
  },
  pointerButton(raw) {
    const record = paramsRecord('pointerButton', raw, ['button', 'pressed']);
    return {
      button: readNumber('pointerButton', record, 'button', 0, 4),
      pressed: readBoolean('pointerButton', record, 'pressed'),
    };
  },
  wheel(raw) {
    const record = paramsRecord('wheel', raw, ['dx', 'dy']);
    return {
      dx: readNumber('wheel', record, 'dx', -MAX_WHEEL, MAX_WHEEL),
      dy: readNumber('wheel', record, 'dy', -MAX_WHEEL, MAX_WHEEL),
    };
  },
};

export function isHostMethod(name: string): name is HostMethod {
  return Object.hasOwn(paramsParsers, name);
}

/** The bytes a sendSerial request carries. */
export function serialParamsBytes(params: SendSerialParams): Uint8Array {
  return params.text !== undefined
    ? Buffer.from(params.text, 'utf8')
    : Buffer.from(params.base64 ?? '', 'base64');
}
