/**
 * The VM host: one process per running VM (docs/vm-host.md). It owns exactly one
 * MachineSession and serves the control socket every client talks to: the app, `nestbox
 * serve` and the CLI. It writes the VM's log, and when the machine stops it records how
 * (last-exit.json), removes its runtime files and resolves `finished` (the process then exits).
 *
 * `startVmHost` does the whole start, in an order that keeps two promises: a second host for
 * the same VM refuses without touching anything, and every startup failure comes back as a
 * HostStartError with a message the user can act on (a corrupt disk image, a missing kernel,
 * no KVM) after being written to the log and last-exit.json.
 */
import { DEFAULT_KVM_DEVICE, kvmDevicePath } from '../native/kvm-device.ts';
import { createServer, type Server, type Socket } from 'node:net';
import { chmod, rm } from 'node:fs/promises';
import path from 'node:path';
import { DisplayStream, type DisplayViewer } from '../display/display-stream.ts';
import { MachineFrameSource } from '../display/machine-frame-source.ts';
import { CreditViewerSink } from '../display/viewer-sink.ts';
import { toMachineConfig } from '../library/machine-config.ts';
import type { VmConfig } from '../library/vm-config.ts';
import { readVmFolder } from '../library/vm-folder.ts';
import { MachineSession, type MachineEnding } from '../native/machine-session.ts';
import type {
  DiskConfig,
  MachineState,
  NativeAddon,
  NativeError,
  VcpuRegisters,
} from '../native/native-addon.ts';
import { ControlConnection } from './control-connection.ts';
import {
  HostProtocolError,
  MAX_SERIAL_INPUT_BYTES,
  PROTOCOL_VERSION,
  SERIAL_HISTORY_BYTES,
  binaryResultMethods,
  isHostMethod,
  paramsParsers,
  serialParamsBytes,
  type HostErrorCode,
  type HostEventMap,
  type HostEventName,
  type HostMethod,
  type HostStatus,
  type LastExit,
  type ParamsOf,
  type RequestMessage,
  type ResultOf,
} from './protocol.ts';
import {
  controlSocketPath,
  ensurePrivateDirectory,
  hostDir,
  hostRecordPath,
  readHostRecord,
  socketPathFits,
  vmLogPath,
  writeHostRecord,
  writeLastExit,
} from './runtime-files.ts';
import { SerialHistory } from './serial-history.ts';
import { acquireVmLock } from './vm-lock.ts';
import { HostSnapshots, currentDisks } from './host-snapshots.ts';
import { nativeDiskLayerOps } from '../snapshots/disk-layer-ops.ts';
import { SnapshotStoreError } from '../snapshots/snapshot-error.ts';
import { SnapshotStore } from '../snapshots/snapshot-store.ts';
import { SerialInputQueue } from './serial-input-queue.ts';
import { VmLog } from './vm-log.ts';

export const MAX_CLIENTS = 64;
/** Serial output a client may leave unread before it is dropped. */
const MAX_UNREAD_SERIAL_BYTES = 64 * 1024 * 1024;
/** How long finishing waits for answers in flight and for clients to read the last event. */
const FINISH_GRACE_MS = 2000;

/** Why a host could not start; `code` is a NativeErrorCode or one of the host's own. */
export class HostStartError extends Error {
  override readonly name = 'HostStartError';

  constructor(
    readonly code: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** What the host tells whoever launched it, once: running, or why not. */
export type StartupReport =
  | { ok: true; pid: number; socketPath: string; state: MachineState }
  | { ok: false; error: { code: string; message: string } };

export interface VmHostOptions {
  folder: string;
  env?: NodeJS.ProcessEnv;
  loadAddon: () => NativeAddon;
  hostVersion: string;
  now?: () => Date;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Listens on `socketPath` with mode 0600 from the first moment (umask), then checks it. */
async function listenPrivate(server: Server, socketPath: string): Promise<void> {
  const previous = process.umask(0o177);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(socketPath, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(previous);
  }
  await chmod(socketPath, 0o600);
}

function formatRegisters(registers: VcpuRegisters): Record<string, string> {
  return Object.fromEntries(
    Object.entries(registers).map(([name, value]) => [
      name,
      `0x${value.toString(16).padStart(16, '0')}`,
    ]),
  );
}

/** Loads the VM, takes the lock, opens the machine, listens, and starts it. */
export async function startVmHost(options: VmHostOptions): Promise<VmHost> {
  const folder = path.resolve(options.folder);
  const env = options.env ?? process.env;
  const now = options.now ?? (() => new Date());
  const read = await readVmFolder(folder);
  if (!read.ok) throw new HostStartError('broken-vm', read.problem.message);
  const config = read.config;
  const log = VmLog.open(vmLogPath(folder), now);

  const lock = await acquireVmLock(config.id).catch((error: unknown) => {
    log.close();
    throw new HostStartError('lock-failed', `cannot lock "${config.name}": ${messageOf(error)}`);
  });
  if (!lock) {
    const current = await readHostRecord(folder);
    const message =
      current.kind === 'ok'
        ? `"${config.name}" is already running (VM host pid ${current.record.pid})`
        : `"${config.name}" is already starting in another VM host`;
    log.write('host', `refused to start a second VM host (pid ${process.pid}): ${message}`);
    log.close();
    throw new HostStartError('already-running', message);
  }

  let session: MachineSession | undefined;
  let server: Server | undefined;
  let socketPath: string | undefined;
  let host: VmHost | undefined;
  try {
    log.write(
      'host',
      `VM host ${options.hostVersion} (pid ${process.pid}, Node ${process.version}) starting ` +
        `"${config.name}" (${config.id})`,
    );
    log.write('host', describeHardware(config));
    await ensurePrivateDirectory(hostDir(folder));
    await clearStaleRun(folder, log);

    let addon: NativeAddon;
    try {
      addon = options.loadAddon();
    } catch (error) {
      throw new HostStartError('native-core-unavailable', messageOf(error), { cause: error });
    }
    // The host runs in /: a relative path means the starter's directory, which the
    // registry passes on resolved; resolving again here is harmless.
    const kvmDevice = path.resolve(kvmDevicePath(env));
    const kvm = addon.probeKvm(kvmDevice);
    if (!kvm.ok) throw new HostStartError('KVM_UNAVAILABLE', kvm.message);
    const machineConfig = toMachineConfig(
      { folder, config },
      kvmDevice !== DEFAULT_KVM_DEVICE ? { kvmDevicePath: kvmDevice } : {},
    );
    // The disks the VM writes now are the snapshot tree's current overlays (the base disks
    // before the first snapshot). A broken tree.json still names them; it is logged, and
    // snapshot operations report it.
    const configuredDisks = machineConfig.disks ?? [];
    const store = await SnapshotStore.open(
      folder,
      configuredDisks.map((disk) => disk.path),
      nativeDiskLayerOps(addon),
    );
    if (store.problem) log.write('host', `snapshots: ${store.problem.message}`);
    machineConfig.disks = currentDisks(store, configuredDisks);
    // A suspended VM continues where it was.
    // resumeFiles throws when a resume point may exist but cannot be used safely (a broken
    // tree, a changed disk list): booting then would strand the saved state.
    let resume: ReturnType<SnapshotStore['resumeFiles']>;
    try {
      resume = store.resumeFiles();
    } catch (error) {
      throw new HostStartError(
        'suspended-state-unusable',
        `cannot tell whether "${config.name}" was suspended: ${messageOf(error)}`,
        { cause: error },
      );
    }
    if (resume) {
      machineConfig.restore = resume;
      log.write('host', 'continuing the suspended state');
    }
    try {
      session = new MachineSession(addon, machineConfig);
    } catch (error) {
      const native = error as NativeError;
      if (resume && native.code === 'SNAPSHOT_UNUSABLE') {
        throw new HostStartError(
          'suspended-state-unusable',
          `the suspended state of "${config.name}" cannot be continued: ${messageOf(error)}. ` +
            'Change its hardware back to what it was when it was suspended, or discard the ' +
            `saved state and boot afresh: nestbox start "${config.name}" --discard-suspended`,
          { cause: error },
        );
      }
      throw new HostStartError(native.code ?? 'machine-failed', messageOf(error), {
        cause: error,
      });
    }

    socketPath = controlSocketPath(config.id, folder, env);
    if (!socketPathFits(socketPath)) {
      throw new HostStartError(
        'socket-path-too-long',
        `the control socket path ${socketPath} is too long for a Unix socket; move the VM folder ` +
          'to a shorter path or set XDG_RUNTIME_DIR',
      );
    }
    await ensurePrivateDirectory(path.dirname(socketPath));
    // We hold the lock: whatever is at the path is left over from a host that died.
    await rm(socketPath, { force: true });
    server = createServer();
    await listenPrivate(server, socketPath);

    const startedAt = now();
    host = new VmHost({
      session,
      addon,
      store,
      configuredDisks,
      folder,
      config,
      socketPath,
      server,
      lock,
      log,
      hostVersion: options.hostVersion,
      startedAt,
      now,
    });
    await writeHostRecord(folder, {
      pid: process.pid,
      vmId: config.id,
      socketPath,
      startedAt: startedAt.toISOString(),
      protocolVersion: PROTOCOL_VERSION,
      hostVersion: options.hostVersion,
    });
    // The machine holds the saved state now (its RAM file stays mapped after removal). The
    // resume point goes before the guest can write its disks: resuming it again after that
    // would pair old memory with newer disks.
    if (resume) await store.clearResume();
    try {
      session.start();
    } catch (error) {
      const native = error as NativeError;
      throw new HostStartError(native.code ?? 'start-failed', messageOf(error), { cause: error });
    }
    host.begin();
    log.write('host', `running; control socket ${socketPath}`);

    return host;
  } catch (error) {
    const startError =
      error instanceof HostStartError
        ? error
        : new HostStartError('start-failed', messageOf(error), { cause: error });
    host?.abandon();
    server?.close();
    if (socketPath) await rm(socketPath, { force: true }).catch(() => undefined);
    await rm(hostRecordPath(folder), { force: true }).catch(() => undefined);
    session?.close();
    log.write(
      'host',
      `could not start "${config.name}": ${startError.message} [${startError.code}]`,
    );
    await writeLastExit(folder, {
      state: 'start-failed',
      reason: 'start-failed',
      error: { code: startError.code, message: startError.message },
      at: now().toISOString(),
      pid: process.pid,
    }).catch((writeError: unknown) =>
      log.write('host', `last-exit.json: ${messageOf(writeError)}`),
    );
    log.close();
    lock.close();
    throw startError;
  }
}

/** One line of what the VM is, for the log. */
function describeHardware(config: VmConfig): string {
  const { hardware, boot } = config;
  const disks = hardware.disks.map(
    (disk) => `${disk.file} (${disk.format}${disk.readOnly ? ', read-only' : ''})`,
  );
  const display = hardware.display
    ? `${hardware.display.width}×${hardware.display.height}, ${hardware.display.vramMiB} MiB`
    : 'none';
  return [
    `${hardware.cpus} vCPU, ${hardware.memoryMiB} MiB`,
    `kernel ${boot.kernel}${boot.initrd ? `, initrd ${boot.initrd}` : ''}`,
    `disks: ${disks.length > 0 ? disks.join(', ') : 'none'}`,
    `network: ${hardware.network.mode}`,
    `display: ${display}`,
  ].join('; ');
}

/** A host record left behind means the previous host died without cleaning up: say so, then clear. */
async function clearStaleRun(folder: string, log: VmLog): Promise<void> {
  const previous = await readHostRecord(folder);
  if (previous.kind === 'none') return;
  if (previous.kind === 'ok') {
    log.write(
      'host',
      `the previous VM host (pid ${previous.record.pid}, started ${previous.record.startedAt}) ` +
        'ended without shutting down: it crashed or was killed',
    );
    await rm(previous.record.socketPath, { force: true }).catch(() => undefined);
  }
  await rm(hostRecordPath(folder), { force: true });
}

interface VmHostParts {
  session: MachineSession;
  addon: NativeAddon;
  store: SnapshotStore;
  /** The disks as vm.json configures them (base files); the store says which file is current. */
  configuredDisks: DiskConfig[];
  folder: string;
  config: VmConfig;
  socketPath: string;
  server: Server;
  lock: Server;
  log: VmLog;
  hostVersion: string;
  startedAt: Date;
  now: () => Date;
}

type MethodHandlers = {
  [M in HostMethod]: (
    connection: ControlConnection,
    params: ParamsOf<M>,
  ) => ResultOf<M> | Promise<ResultOf<M>>;
};

export class VmHost {
  readonly folder: string;
  readonly vmId: string;
  readonly socketPath: string;
  readonly finished: Promise<LastExit>;
  readonly #parts: VmHostParts;
  readonly #session: MachineSession;
  readonly #log: VmLog;
  readonly #connections = new Set<ControlConnection>();
  readonly #inFlight = new Set<Promise<unknown>>();
  readonly #serialInput: SerialInputQueue;
  readonly #serialHistory = new SerialHistory(SERIAL_HISTORY_BYTES);
  readonly #frameSource: MachineFrameSource | null;
  readonly #display: DisplayStream | null;
  readonly #maxBufferedBytes: number;
  readonly #snapshots: HostSnapshots;
  #resolveFinished!: (exit: LastExit) => void;
  #started = false;
  #abandoned = false;
  #finishing = false;
  #stopRequest: string | undefined;
  /** A suspend is saving or has saved: the machine's end is recorded as 'suspended'. */
  #suspending = false;

  constructor(parts: VmHostParts) {
    this.#parts = parts;
    this.folder = parts.folder;
    this.vmId = parts.config.id;
    this.socketPath = parts.socketPath;
    this.#session = parts.session;
    this.#log = parts.log;
    this.finished = new Promise((resolve) => (this.#resolveFinished = resolve));
    this.#serialInput = new SerialInputQueue((bytes) => this.#session.sendSerialInput(bytes));
    const display = parts.config.hardware.display;
    this.#frameSource = display ? new MachineFrameSource(this.#session) : null;
    this.#display = this.#frameSource
      ? new DisplayStream(this.#frameSource, {
          onViewerError: (error, viewer) => this.#dropViewer(viewer, error),
        })
      : null;
    // Two frames of the largest mode this VRAM holds may be on their way, plus serial output.
    this.#maxBufferedBytes = MAX_UNREAD_SERIAL_BYTES + 2 * ((display?.vramMiB ?? 0) + 1) * 2 ** 20;
    this.#snapshots = new HostSnapshots({
      store: parts.store,
      session: parts.session,
      disks: parts.configuredDisks,
      log: (message) => this.#log.write('host', message),
      progress: (progress) => this.#broadcast('progress', progress),
      checkSnapshot: (files) => {
        parts.addon.describeSnapshot({ stateFile: files.stateFile, ramFile: files.ramFile });
      },
      powerOff: (why) => this.requestStop(why),
    });
    this.#listenToMachine();
    parts.server.on('connection', (socket) => this.#accept(socket));
  }

  /** The machine has started: from now on its end ends the host. */
  begin(): void {
    this.#started = true;
    void this.#session.ended.then((ending) => this.#finish(this.#exitFor(ending)));
  }

  /** Startup failed after construction: let go of everything without recording an exit. */
  abandon(): void {
    this.#abandoned = true;
    for (const connection of this.#connections) connection.destroy();
    this.#display?.close();
    this.#frameSource?.close();
    this.#serialInput.close();
  }

  /** A signal or the host's own failure: power the VM off (hard) and finish. */
  requestStop(why: string): void {
    if (this.#finishing || this.#stopRequest !== undefined) return;
    this.#stopRequest = why;
    this.#log.write('host', `${why}: powering the VM off`);
    try {
      void this.#session.powerOff();
    } catch (error) {
      this.#log.write('host', `power off failed: ${messageOf(error)}`);
    }
  }

  /** The host itself failed (an uncaught error): record it as a crash and finish. */
  fail(error: unknown): void {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    this.#log.write('host', `VM host failure: ${message}`);
    try {
      void this.#session.powerOff();
    } catch {
      // Already stopping.
    }
    void this.#finish({
      state: 'error',
      reason: 'host-failure',
      error: { message: messageOf(error) },
      at: this.#parts.now().toISOString(),
      pid: process.pid,
    });
  }

  // ---- the machine --------------------------------------------------------------------------

  #listenToMachine(): void {
    const session = this.#session;
    session.on('serial', (event) => {
      this.#serialHistory.add(event.data);
      for (const connection of this.#connections) {
        if (connection.serial) connection.sendSerial(event.data);
      }
    });
    session.on('state', (event) => {
      const reason = event.reason ? ` (${event.reason})` : '';
      this.#log.write('vm', `state: ${event.state}${reason}`);
      this.#broadcast('state', {
        state: event.state,
        ...(event.reason ? { reason: event.reason } : {}),
      });
    });
    session.on('reset', (event) => {
      this.#log.write(
        'vm',
        `reset (${event.cause}); ${event.reboot ? 'rebooting' : 'not rebooting'}`,
      );
      this.#broadcast('reset', { cause: event.cause, reboot: event.reboot });
    });
    session.on('error', (event) => {
      const registers = event.registers ? formatRegisters(event.registers) : undefined;
      const dump = registers
        ? `\n${Object.entries(registers)
            .map(([name, value]) => `  ${name}=${value}`)
            .join('\n')}`
        : '';
      this.#log.write('vm', `error: ${event.message}${dump}`);
      this.#broadcast('vm-error', { message: event.message, ...(registers ? { registers } : {}) });
    });
    session.on('log', (event) => {
      this.#log.write('device', event.message);
      this.#broadcast('log', { message: event.message });
    });
    session.on('display-mode', (event) => {
      const mode = event.mode;
      this.#log.write(
        'display',
        mode ? `mode ${mode.width}×${mode.height}, ${mode.bitsPerPixel} bpp` : 'off',
      );
    });
  }

  #exitFor(ending: MachineEnding): LastExit {
    const failed = ending.state === 'error';
    const suspended = !failed && this.#suspending;
    return {
      state: failed ? 'error' : 'stopped',
      reason: suspended ? 'suspended' : (ending.reason ?? (failed ? 'vmm-failure' : 'powered-off')),
      ...(ending.error ? { error: { message: ending.error.message } } : {}),
      at: this.#parts.now().toISOString(),
      pid: process.pid,
    };
  }

  async #finish(exit: LastExit): Promise<void> {
    if (this.#finishing || this.#abandoned || !this.#started) return;
    this.#finishing = true;
    const parts = this.#parts;
    const by = this.#stopRequest ? ` after ${this.#stopRequest}` : '';
    this.#log.write(
      'host',
      `the VM ${exit.state === 'error' ? 'failed' : 'stopped'}: ${exit.reason}${by}` +
        (exit.error ? ` — ${exit.error.message}` : ''),
    );
    this.#serialInput.close();
    this.#display?.close();
    this.#frameSource?.close();
    parts.server.close();
    // Answers in flight (a powerOff waiting for this very stop) go out before the goodbye.
    await withTimeout(Promise.allSettled([...this.#inFlight]), FINISH_GRACE_MS);
    try {
      await writeLastExit(parts.folder, exit);
    } catch (error) {
      this.#log.write('host', `could not write last-exit.json: ${messageOf(error)}`);
    }
    this.#session.close();
    // The host record goes before the goodbye: a client that saw the connection close and
    // asks again finds the VM off, never "running" with no one answering.
    await rm(hostRecordPath(parts.folder), { force: true }).catch(() => undefined);
    await rm(parts.socketPath, { force: true }).catch(() => undefined);
    // Layers of snapshots deleted while the machine ran are merged while this host still
    // holds the VM's lock: nobody else touches its snapshot tree or starts it meanwhile (they
    // wait for the lock), and nobody sees a host that does not answer.
    await this.#collectSnapshotLayers();
    parts.lock.close();
    const closed = [...this.#connections].map(
      (connection) =>
        new Promise<void>((resolve) => {
          if (connection.socket.destroyed) resolve();
          else connection.socket.once('close', () => resolve());
        }),
    );
    for (const connection of this.#connections) {
      connection.sendEvent('exit', exit);
      connection.close();
    }
    await withTimeout(Promise.all(closed), FINISH_GRACE_MS);
    this.#log.write('host', 'VM host exiting');
    this.#log.close();
    this.#resolveFinished(exit);
  }

  /**
   * Layers of snapshots deleted while the VM ran waited because the VM had them open; with
   * its disks closed (and the VM's lock still held) they are merged now.
   */
  async #collectSnapshotLayers(): Promise<void> {
    const store = this.#parts.store;
    if (store.problem) return;
    try {
      if (store.tree().retainedLayers === 0) return;
      const result = await store.collectRetained({ vmRunning: false });
      this.#log.write(
        'host',
        `snapshots: merged the disk layers of deleted snapshots (${result.freedBytes} bytes freed` +
          `${result.retainedLayers > 0 ? `, ${result.retainedLayers} still waiting` : ''})`,
      );
    } catch (error) {
      this.#log.write('host', `snapshots: merging deleted snapshots' layers: ${messageOf(error)}`);
    }
  }

  // ---- clients ------------------------------------------------------------------------------

  #accept(socket: Socket): void {
    const connection = new ControlConnection(
      socket,
      {
        onRequest: (conn, request) => this.#request(conn, request),
        onSerialInput: (conn, bytes) => this.#serialInput.push(bytes),
        onDisplayMessage: (conn, bytes) => conn.display?.sink.handleMessage(bytes),
        onClose: (conn) => {
          conn.display?.viewer.remove();
          conn.display = null;
          this.#connections.delete(conn);
        },
        onProtocolError: (_conn, error) =>
          this.#log.write('host', `a client was disconnected: ${error.message} [${error.code}]`),
      },
      this.#maxBufferedBytes,
    );
    if (this.#finishing) {
      connection.fail('shutting-down', 'the VM has stopped');
      return;
    }
    if (this.#connections.size >= MAX_CLIENTS) {
      connection.fail('too-many-clients', `this VM already has ${MAX_CLIENTS} clients`);
      return;
    }
    this.#connections.add(connection);
    connection.sendEvent('hello', {
      protocolVersion: PROTOCOL_VERSION,
      hostVersion: this.#parts.hostVersion,
      vmId: this.vmId,
      name: this.#parts.config.name,
      pid: process.pid,
      state: this.#session.state,
    });
  }

  #broadcast<E extends HostEventName>(event: E, data: HostEventMap[E]): void {
    for (const connection of this.#connections) connection.sendEvent(event, data);
  }

  #dropViewer(viewer: DisplayViewer, error: unknown): void {
    for (const connection of this.#connections) {
      if (connection.display?.viewer === viewer) {
        connection.display = null;
        connection.fail('failed', `the display stream failed: ${messageOf(error)}`);
      }
    }
  }

  #request(connection: ControlConnection, request: RequestMessage): void {
    const { id, method } = request;
    const work = (async () => {
      if (!isHostMethod(method)) {
        throw new HostProtocolError('unknown-method', `there is no method "${method}"`);
      }
      if (this.#finishing) throw new HostProtocolError('shutting-down', 'the VM has stopped');
      const params = paramsParsers[method](request.params);
      const handler = this.#handlers[method] as (
        connection: ControlConnection,
        params: unknown,
      ) => unknown;
      return { method, result: await handler(connection, params) };
    })();
    const tracked = work.then(
      ({ method: done, result }) => {
        if (binaryResultMethods.has(done)) connection.sendResult(id, result as Uint8Array);
        else connection.sendResponse({ id, result: result ?? {} });
      },
      (error: unknown) => {
        const code: HostErrorCode = error instanceof HostProtocolError ? error.code : 'failed';
        connection.sendResponse({ id, error: { code, message: messageOf(error) } });
      },
    );
    this.#inFlight.add(tracked);
    void tracked.finally(() => this.#inFlight.delete(tracked));
  }

  /** Runs a machine call, turning the addon's INVALID_STATE into the protocol's code. */
  #machine<T>(call: () => T): T {
    try {
      return call();
    } catch (error) {
      throw machineError(error);
    }
  }

  async #machineAsync<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw machineError(error);
    }
  }

  #status(): HostStatus {
    const mode = this.#frameSource?.mode() ?? null;
    return {
      protocolVersion: PROTOCOL_VERSION,
      hostVersion: this.#parts.hostVersion,
      vmId: this.vmId,
      name: this.#parts.config.name,
      folder: this.folder,
      pid: process.pid,
      state: this.#session.state,
      startedAt: this.#parts.startedAt.toISOString(),
      clients: this.#connections.size,
      display: mode ? { width: mode.width, height: mode.height } : null,
      stats: this.#session.stats(),
      logFile: this.#log.file,
      serialInputQueued: this.#serialInput.queued,
    };
  }

  /** Resolves once the machine reports `state` (or at once if it is there). */
  #waitForState(state: MachineState, timeoutMs = 5000): Promise<void> {
    if (this.#session.state === state) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new HostProtocolError('failed', `the machine did not become ${state}`));
      }, timeoutMs);
      const off = this.#session.on('state', (event) => {
        if (event.state === state) {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
    });
  }

  readonly #handlers: MethodHandlers = {
    status: () => this.#status(),
    pause: async () => {
      const latencyMs = await this.#machineAsync(() => this.#session.pause());
      return { state: this.#session.state, latencyMs };
    },
    resume: async () => {
      if (this.#session.state !== 'running') {
        this.#machine(() => this.#session.resume());
        await this.#waitForState('running');
      }
      return { state: this.#session.state };
    },
    reset: () => {
      this.#machine(() => this.#session.reset());
      this.#log.write('host', 'reset requested by a client');
      return {};
    },
    powerButton: () => {
      this.#machine(() => this.#session.powerButton());
      this.#log.write('host', 'ACPI power button pressed by a client');
      return {};
    },
    powerOff: async () => {
      this.#stopRequest ??= 'a power-off request';
      this.#log.write('host', 'power off requested by a client');
      const state = this.#session.state;
      const ending =
        state === 'stopped' || state === 'error'
          ? await this.#session.ended
          : await this.#machineAsync(() => this.#session.powerOff());
      return { state: ending.state, ...(ending.reason ? { reason: ending.reason } : {}) };
    },
    sendSerial: (_connection, params) => {
      const bytes = serialParamsBytes(params);
      if (bytes.byteLength > MAX_SERIAL_INPUT_BYTES) {
        throw new HostProtocolError(
          'invalid-params',
          `sendSerial: at most ${MAX_SERIAL_INPUT_BYTES} bytes per request`,
        );
      }
      this.#serialInput.push(bytes);
      return { queued: this.#serialInput.queued };
    },
    subscribe: (connection, params) => {
      if (params.serial === true && !connection.serial && params.serialHistory === true) {
        const history = this.#serialHistory.contents();
        if (history.byteLength > 0) connection.sendSerial(history);
      }
      if (params.serial !== undefined) connection.serial = params.serial;
      if (params.display === true && !connection.displayWanted) {
        const stream = this.#display;
        if (!stream) throw new HostProtocolError('no-display', 'this VM is headless');
        connection.displayWanted = true;
        // After the answer, so the client has set up its display before MODE arrives.
        setImmediate(() => {
          if (!connection.open || !connection.displayWanted || connection.display) return;
          const sink = new CreditViewerSink((message) => connection.sendDisplay(message));
          connection.display = { viewer: stream.addViewer(sink), sink };
        });
      } else if (params.display === false) {
        connection.displayWanted = false;
        connection.display?.viewer.remove();
        connection.display = null;
      }
      return { serial: connection.serial, display: connection.displayWanted };
    },
    screenshot: () => {
      if (!this.#display) throw new HostProtocolError('no-display', 'this VM is headless');
      const png = this.#machine(() => this.#session.display.screenshot());
      if (!png) throw new HostProtocolError('no-display', 'the display is off: nothing to capture');
      return png;
    },
    sendKey: (_connection, { code, pressed }) => ({
      delivered: this.#machine(() => this.#session.input.sendKey(code, pressed)),
    }),
    sendKeyCombo: (_connection, { codes }) => ({
      delivered: this.#machine(() => this.#session.input.sendKeyCombo(codes)),
    }),
    pointerMove: (_connection, { x, y }) => ({
      delivered: this.#machine(() => this.#session.input.pointerMove(x, y)),
    }),
    pointerButton: (_connection, { button, pressed }) => ({
      delivered: this.#machine(() => this.#session.input.pointerButton(button, pressed)),
    }),
    wheel: (_connection, { dx, dy }) => ({
      delivered: this.#machine(() => this.#session.input.wheel(dx, dy)),
    }),
    releaseAllInput: () => {
      this.#machine(() => this.#session.input.releaseAllInput());
      return {};
    },
    keyCodeNames: () => ({ codes: this.#parts.addon.keyCodeNames() }),
    snapshotList: () => this.#snapshot(async () => this.#snapshots.list()),
    snapshotTake: (_connection, { name, description }) =>
      this.#snapshot(() => this.#snapshots.take(name, description ?? '')),
    snapshotRevert: (_connection, { snapshot }) =>
      this.#snapshot(() => this.#snapshots.revert(snapshot)),
    snapshotDelete: (_connection, { snapshot }) =>
      this.#snapshot(async () => {
        const node = this.#snapshots.store.findByName(snapshot);
        return this.#snapshots.delete(node.id);
      }),
    suspend: async () => {
      this.#suspending = true;
      try {
        await this.#snapshot(() => this.#snapshots.suspend());
      } catch (error) {
        this.#suspending = false;
        throw error;
      }
      return {};
    },
    snapshotProtect: (_connection, { snapshot, cloneVmId, protect }) =>
      this.#snapshot(() => this.#snapshots.protect(snapshot, cloneVmId, protect)),
    snapshotRename: (_connection, { snapshot, name, description }) =>
      this.#snapshot(() => this.#snapshots.rename(snapshot, name, description)),
  };

  /** Runs a snapshot operation, giving store and snapshot-file refusals their own code. */
  async #snapshot<T>(operation: () => Promise<T>): Promise<T> {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof HostProtocolError) throw error;
      if (
        error instanceof SnapshotStoreError ||
        (error as NativeError).code === 'SNAPSHOT_UNUSABLE'
      ) {
        throw new HostProtocolError('snapshot-error', messageOf(error), { cause: error });
      }
      throw machineError(error);
    }
  }
}

function machineError(error: unknown): HostProtocolError {
  if (error instanceof HostProtocolError) return error;
  const code: HostErrorCode =
    (error as NativeError).code === 'INVALID_STATE' ? 'invalid-state' : 'failed';
  return new HostProtocolError(code, messageOf(error), { cause: error });
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    void promise.then((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}
