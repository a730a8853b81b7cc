/**
 * A request failure with a stable code, shared by every transport: `nestbox serve` maps it to
 * an HTTP status and a `WireError` body, Electron IPC rejects the renderer's promise with it.
 */
import type { WireError } from '../common/contract.ts';
import type { ValidationIssueData } from '../common/validation-issue.ts';

const statusByCode = {
  /** The request itself is wrong (`issues` says where); nothing was done. */
  'bad-request': 400,
  unauthorized: 401,
  /** A WebSocket from a page of another origin. */
  forbidden: 403,
  'not-found': 404,
  'method-not-allowed': 405,
  'payload-too-large': 413,
  'unsupported-media-type': 415,
  /** The change or delete needs the VM powered off. */
  'vm-running': 409,
  /** The VM's host is starting or finishing: try again in a moment. */
  'vm-busy': 409,
  /** The action needs a running VM. */
  'not-running': 409,
  'already-running': 409,
  /** The VM is not in a state that allows it (e.g. pausing while it stops). */
  'invalid-state': 409,
  /** The VM's vm.json is broken: only deleting it by folder works. */
  'broken-vm': 409,
  /** The VM is headless, or its display is off. */
  'no-display': 409,
  /** vms.import: the folder is a VM of the library already. */
  'already-in-library': 409,
  /** The library's list of imported folders is broken; it is left alone. */
  'registry-broken': 409,
  /** No snapshot with that id in the VM's tree. */
  'snapshot-not-found': 404,
  /** A name fits several snapshots (the message lists their ids). */
  'snapshot-ambiguous': 409,
  /** A linked clone uses the snapshot, so it cannot be deleted. */
  'snapshot-protected': 409,
  /** snapshots/tree.json is broken, from a newer Nestbox, or gone: snapshots are refused. */
  'snapshot-tree-corrupt': 409,
  'snapshot-tree-newer': 409,
  'snapshot-tree-missing': 409,
  /** vm.json's disks are not the ones the snapshots were taken with. */
  'disk-configuration-changed': 409,
  /** A memory snapshot's (or suspended state's) files are missing or cannot be restored. */
  'snapshot-unusable': 409,
  /** The running VM's host refused the snapshot operation: the message says why. */
  'snapshot-refused': 409,
  /** The VM could not start: the host's reason is in the message. */
  'start-failed': 422,
  /** More serial input is queued than the guest has read: try again shortly. */
  'input-full': 429,
  'library-unreadable': 500,
  'trash-failed': 500,
  'disk-create-failed': 500,
  /** settings.json cannot be replaced (it could not be read or set aside). */
  'settings-unwritable': 500,
  /** snapshots/tree.json or its folder cannot be read (permissions, I/O). */
  'snapshot-tree-unreadable': 500,
  /** A disk layer or tree.json could not be written; the snapshots are as they were. */
  'snapshot-failed': 500,
  internal: 500,
  'native-core-unavailable': 503,
  /** The VM host does not answer. */
  'host-unresponsive': 504,
} as const satisfies Record<string, number>;

export type RequestErrorCode = keyof typeof statusByCode;

export function isRequestErrorCode(code: unknown): code is RequestErrorCode {
  return typeof code === 'string' && Object.hasOwn(statusByCode, code);
}

export class RequestError extends Error {
  override readonly name = 'RequestError';
  readonly issues: readonly ValidationIssueData[];

  constructor(
    readonly code: RequestErrorCode,
    message: string,
    options?: ErrorOptions & { issues?: readonly ValidationIssueData[] },
  ) {
    super(message, options);
    this.issues = options?.issues ?? [];
  }

  get status(): number {
    return statusByCode[this.code];
  }
}

/**
 * The wire form of any thrown value. Unexpected errors keep their message (this is a local,
 * single-user tool and the message is what a bug report needs) but never their stack.
 */
export function toWireError(error: unknown): { status: number; body: WireError } {
  if (error instanceof RequestError) {
    return {
      status: error.status,
      body: {
        error: {
          message: error.message,
          code: error.code,
          ...(error.issues.length > 0 ? { issues: [...error.issues] } : {}),
        },
      },
    };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { status: 500, body: { error: { message, code: 'internal' } } };
}
