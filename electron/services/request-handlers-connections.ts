/**
 * Reaching VM hosts for requests: one control-socket connection per running VM, kept while
 * requests keep coming (a viewer sends input every animation frame) and closed after a short
 * idle time; and the translation of service errors into the contract's RequestError codes.
 */
import type { LibraryVm } from './library/vm-library.ts';
import { LibraryError } from './library/library-error.ts';
import { RequestError, type RequestErrorCode } from './request-error.ts';
import { SettingsError } from './settings/settings-store.ts';
import { SnapshotStoreError, type SnapshotErrorCode } from './snapshots/snapshot-error.ts';
import { VmHostClient, VmHostError } from './vm-host/vm-host-client.ts';
import { VmStartError } from './vm-host/vm-host-registry.ts';
import type { VmServices } from './vm-host/vm-services.ts';

/** How long an unused connection stays open. */
const DEFAULT_IDLE_MS = 15_000;

interface Connection {
  client: Promise<VmHostClient>;
  idleTimer: NodeJS.Timeout | undefined;
  users: number;
}

export class HostConnections {
  readonly #connections = new Map<string, Connection>();
  readonly #idleMs: number;
  #closed = false;

  constructor(options: { idleMs?: number } = {}) {
    this.#idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  }

  /**
   * Runs `use` with a connection to the VM's host: VmHostError 'not-running' when it has
   * none. Calls on one connection reach the host in the order they were made.
   */
  async use<T>(
    services: VmServices,
    vm: LibraryVm,
    use: (client: VmHostClient) => Promise<T>,
  ): Promise<T> {
    if (this.#closed) throw new Error('the request handlers were closed');
    let connection = this.#connections.get(vm.id);
    if (connection && !(await connection.client.then((c) => c.isOpen).catch(() => false))) {
      this.#drop(vm.id, connection);
      connection = undefined;
    }
    if (!connection) {
      const client = services.registry.connect(vm);
      connection = { client, idleTimer: undefined, users: 0 };
      const entry = connection;
      this.#connections.set(vm.id, entry);
      client.then(
        (connected) => void connected.closed.then(() => this.#drop(vm.id, entry)),
        () => this.#drop(vm.id, entry),
      );
    }
    clearTimeout(connection.idleTimer);
    connection.users += 1;
    try {
      return await use(await connection.client);
    } finally {
      connection.users -= 1;
      if (connection.users === 0 && this.#connections.get(vm.id) === connection) {
        const entry = connection;
        entry.idleTimer = setTimeout(() => this.#drop(vm.id, entry), this.#idleMs);
        entry.idleTimer.unref();
      }
    }
  }

  #drop(id: string, connection: Connection): void {
    clearTimeout(connection.idleTimer);
    if (this.#connections.get(id) === connection) this.#connections.delete(id);
    void connection.client.then((client) => client.destroy()).catch(() => undefined);
  }

  close(): void {
    this.#closed = true;
    for (const [id, connection] of this.#connections) this.#drop(id, connection);
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const hostCodes: Partial<Record<VmHostError['code'], RequestErrorCode>> = {
  'not-running': 'not-running',
  'shutting-down': 'not-running',
  disconnected: 'not-running',
  'invalid-state': 'invalid-state',
  'no-display': 'no-display',
  'input-full': 'input-full',
  'invalid-params': 'bad-request',
  timeout: 'host-unresponsive',
  // The host gives its store's refusals one code; the message says which.
  'snapshot-error': 'snapshot-refused',
};

const snapshotCodes: Record<SnapshotErrorCode, RequestErrorCode> = {
  'snapshot-not-found': 'snapshot-not-found',
  'snapshot-ambiguous': 'snapshot-ambiguous',
  'snapshot-protected': 'snapshot-protected',
  'snapshot-tree-corrupt': 'snapshot-tree-corrupt',
  'snapshot-tree-newer': 'snapshot-tree-newer',
  'snapshot-tree-missing': 'snapshot-tree-missing',
  'snapshot-tree-unreadable': 'snapshot-tree-unreadable',
  'snapshot-tree-busy': 'vm-busy',
  'disk-configuration-changed': 'disk-configuration-changed',
  'invalid-name': 'bad-request',
  'invalid-description': 'bad-request',
  'invalid-request': 'bad-request',
  // Another operation changed the tree in between, or the VM is not where it must be.
  'take-stale': 'invalid-state',
  'suspend-stale': 'invalid-state',
  'snapshot-has-no-memory': 'invalid-state',
  'snapshot-not-current': 'invalid-state',
  'snapshot-files-missing': 'snapshot-unusable',
  'disk-operation-failed': 'snapshot-failed',
  'snapshot-write-failed': 'snapshot-failed',
};

const libraryCodes: Record<LibraryError['code'], RequestErrorCode> = {
  'not-found': 'not-found',
  'library-unreadable': 'library-unreadable',
  'invalid-request': 'bad-request',
  'broken-vm': 'broken-vm',
  'vm-running': 'vm-running',
  'not-a-vm': 'bad-request',
  'duplicate-id': 'bad-request',
  'already-in-library': 'already-in-library',
  'registry-broken': 'registry-broken',
  'trash-failed': 'trash-failed',
  'disk-create-failed': 'disk-create-failed',
};

/**
 * The contract's form of a service error: library, settings, VM host and start errors get
 * their codes; a RequestError passes; anything else stays as it is (an internal error).
 * `vm` names the VM in messages that would otherwise only say "the VM host".
 */
export function toRequestError(error: unknown, vm?: Pick<LibraryVm, 'config'>): unknown {
  if (error instanceof RequestError) return error;
  const name = vm ? `"${vm.config.name}"` : 'The VM';
  if (error instanceof LibraryError) {
    return new RequestError(libraryCodes[error.code], error.message, {
      cause: error,
      issues: error.issues,
    });
  }
  if (error instanceof SnapshotStoreError) {
    return new RequestError(snapshotCodes[error.code], error.message, {
      cause: error,
      issues: error.issues,
    });
  }
  // The addon's refusal of a memory snapshot's files (describeSnapshot, restore).
  if ((error as { code?: unknown } | null)?.code === 'SNAPSHOT_UNUSABLE') {
    return new RequestError('snapshot-unusable', `${name}: ${messageOf(error)}`, { cause: error });
  }
  if (error instanceof SettingsError) {
    return new RequestError(
      error.code === 'invalid-request' ? 'bad-request' : 'settings-unwritable',
      error.message,
      { cause: error, issues: error.issues },
    );
  }
  if (error instanceof VmStartError) {
    const code: RequestErrorCode =
      error.code === 'already-running'
        ? 'already-running'
        : error.code === 'not-found'
          ? 'not-found'
          : 'start-failed';
    return new RequestError(code, `${name} could not start: ${error.message}`, { cause: error });
  }
  if (error instanceof VmHostError) {
    const code = hostCodes[error.code] ?? 'internal';
    const message =
      error.code === 'not-running' || error.code === 'disconnected'
        ? `${name} is not running`
        : error.code === 'timeout'
          ? `${name} does not answer: its VM host is busy or hung (stop it with force)`
          : `${name}: ${error.message}`;
    return new RequestError(code, message, { cause: error });
  }
  return error instanceof Error ? error : new Error(messageOf(error));
}
