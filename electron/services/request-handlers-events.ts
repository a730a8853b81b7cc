/**
 * The contract's subscriptions, transport-free: `vms.changed` (VmChangeFeed), a VM's serial
 * console and its display stream. Electron main (ipc-wiring.ts) and `nestbox serve`
 * (serve/event-sockets.ts) carry what a subscription emits; neither knows where it comes from.
 */
import type {
  SubscriptionChannel,
  SubscriptionEnd,
  SubscriptionParamsOf,
} from '../common/contract.ts';
import { stat } from 'node:fs/promises';
import type { Job } from '../common/jobs.ts';
import type { VmProgress } from '../common/snapshot-types.ts';
import type { VmList } from '../common/vm-list.ts';
import type { LibraryVm } from './library/vm-library.ts';
import { toWireError } from './request-error.ts';
import type { JobRegistry } from './jobs/job-registry.ts';
import { toRequestError } from './request-handlers-connections.ts';
import { SnapshotLayout } from './snapshots/snapshot-layout.ts';
import type { LastExit } from './vm-host/protocol.ts';
import { readHostRecord, readLastExit } from './vm-host/runtime-files.ts';
import type { VmHostClient } from './vm-host/vm-host-client.ts';
import { listVms, type VmServices } from './vm-host/vm-services.ts';

/** What a subscription emits, as the services produce it (binary streams as byte views). */
export interface ServiceEventMap {
  'vms.changed': VmList;
  'vm.serial': Uint8Array;
  'vm.display': Uint8Array;
  'vm.progress': VmProgress;
  'jobs.changed': Job[];
}

export interface SubscriptionSink<S extends SubscriptionChannel> {
  event(data: ServiceEventMap[S]): void;
  /** Once, when the subscription ends on its own (the VM stopped, the host went away). */
  end(end: SubscriptionEnd): void;
}

export interface OpenSubscription {
  /** Bytes from the subscriber: serial input, display ACKs. Ignored where nothing is expected. */
  send(data: Uint8Array): void;
  /** Ends it; the sink hears nothing more. */
  close(): void;
}

interface SubscriptionHandler<S extends SubscriptionChannel> {
  /** Validates untrusted params from the renderer or the network. */
  parseParams(payload: unknown): SubscriptionParamsOf<S>;
  /** Throws a RequestError when it cannot start (no such VM, not running, no display). */
  open(params: SubscriptionParamsOf<S>, sink: SubscriptionSink<S>): Promise<OpenSubscription>;
}

export type SubscriptionHandlers = { readonly [S in SubscriptionChannel]: SubscriptionHandler<S> };

// ---- vms.changed ----------------------------------------------------------------------------

export interface VmChangeFeedOptions {
  /** How often to look at the library's files while someone listens (default 1 s). */
  intervalMs?: number;
  /** A poke is acted on after this quiet time, so a burst of changes is one look (default 30 ms). */
  coalesceMs?: number;
}

/**
 * `vms.changed`: the VM list, sent to each listener at once and again whenever it differs.
 * The VM hosts have no "anything changed" notification for the library as a whole, so while
 * anyone listens (and only then) this
 * - looks at the library's files every second — each vm.json, host.json and last-exit.json,
 *   which says when a VM was made, changed, deleted, started, stopped or crashed, and when
 *   snapshots/tree.json changed (a revert or a discard suspends or un-suspends) — and builds
 *   the full list (which asks each running host its state) only when they differ;
 * - keeps one connection to each running VM host and looks again when it reports a state
 *   change or goes away (pause and resume change no file; a killed host changes none);
 * - looks again soon after `poke()`: a request that changed something says so.
 * A listener gets a list only when it differs from the last one sent.
 */
export class VmChangeFeed {
  readonly #openServices: () => Promise<VmServices>;
  readonly #intervalMs: number;
  readonly #coalesceMs: number;
  readonly #listeners = new Set<(list: VmList) => void>();
  /** Host watchers by VM id, with the pid they watch. */
  readonly #watchers = new Map<string, { pid: number; client: Promise<VmHostClient | null> }>();
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #dirty = true;
  #fingerprint = '';
  #lastJson: string | undefined;
  #last: VmList | undefined;

  constructor(openServices: () => Promise<VmServices>, options: VmChangeFeedOptions = {}) {
    this.#openServices = openServices;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#coalesceMs = options.coalesceMs ?? 30;
  }

  subscribe(listener: (list: VmList) => void): () => void {
    this.#listeners.add(listener);
    if (this.#listeners.size === 1) {
      // The first listener: whatever was seen before is stale, so the next look sends.
      this.#last = undefined;
      this.#lastJson = undefined;
      this.#dirty = true;
      this.#schedule(0);
    } else if (this.#last) {
      const last = this.#last;
      queueMicrotask(() => {
        if (this.#listeners.has(listener)) listener(last);
      });
    }
    // Otherwise the first look is under way and sends to every listener.
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stop();
    };
  }

  /** Something changed (or may have): look again shortly, whatever the files say. */
  poke(): void {
    if (this.#listeners.size === 0) return;
    this.#dirty = true;
    this.#schedule(this.#coalesceMs);
  }

  close(): void {
    this.#listeners.clear();
    this.#stop();
  }

  #stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#last = undefined;
    this.#lastJson = undefined;
    this.#fingerprint = '';
    for (const [id, watcher] of this.#watchers) this.#unwatch(id, watcher);
  }

  #schedule(ms: number): void {
    if (this.#running) return; // the tick in progress reschedules
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#tick(), ms);
    this.#timer.unref();
  }

  #tick(): void {
    this.#timer = undefined;
    this.#running = this.#look()
      .catch(() => undefined)
      .finally(() => {
        this.#running = undefined;
        if (this.#listeners.size > 0)
          this.#schedule(this.#dirty ? this.#coalesceMs : this.#intervalMs);
      });
  }

  async #look(): Promise<void> {
    const services = await this.#openServices();
    const listing = await services.library.list();
    const records = await Promise.all(
      listing.entries.map(async (entry) => {
        const [host, lastExit, tree] = await Promise.all([
          readHostRecord(entry.folder),
          readLastExit(entry.folder),
          // A revert or a discarded state (by any process) suspends or un-suspends a VM.
          stat(new SnapshotLayout(entry.folder).treeFile).then(
            (info) => info.mtimeMs,
            () => null,
          ),
        ]);
        return { entry, host, lastExit, tree };
      }),
    );
    const fingerprint = JSON.stringify([
      listing.root,
      listing.registryProblem,
      records.map(({ entry, host, lastExit, tree }) => [
        entry.folder,
        entry.status === 'ok' ? entry.config : entry.problem,
        host.kind === 'ok' ? host.record.pid : host.kind,
        lastExit?.at,
        tree,
      ]),
    ]);
    // Everyone left while this look was under way: hold no connections for nobody.
    if (this.#listeners.size === 0) return;
    this.#watch(
      services,
      records.flatMap(({ entry, host }) =>
        entry.status === 'ok' && host.kind === 'ok' ? [{ vm: entry, pid: host.record.pid }] : [],
      ),
    );
    if (!this.#dirty && fingerprint === this.#fingerprint) return;
    this.#dirty = false;
    this.#fingerprint = fingerprint;
    const list = await listVms(services);
    const json = JSON.stringify(list);
    if (json === this.#lastJson) return;
    this.#lastJson = json;
    this.#last = list;
    for (const listener of [...this.#listeners]) listener(list);
  }

  /** One connection per running host, to hear of state changes no file shows. */
  #watch(services: VmServices, running: { vm: LibraryVm; pid: number }[]): void {
    const wanted = new Map(running.map((item) => [item.vm.id, item]));
    for (const [id, watcher] of this.#watchers) {
      if (wanted.get(id)?.pid !== watcher.pid) this.#unwatch(id, watcher);
    }
    for (const { vm, pid } of running) {
      if (this.#watchers.has(vm.id)) continue;
      const client = services.registry.connect(vm).then(
        (connected) => {
          connected.on('state', () => this.poke());
          void connected.closed.then(() => this.poke());
          return connected;
        },
        // An unresponsive or dying host: the files or the next pid tell when that changes.
        () => null,
      );
      this.#watchers.set(vm.id, { pid, client });
    }
  }

  #unwatch(id: string, watcher: { client: Promise<VmHostClient | null> }): void {
    this.#watchers.delete(id);
    void watcher.client.then((client) => client?.destroy());
  }
}

// ---- a VM's serial console and display ----------------------------------------------------

/** The most serial input waiting to be delivered for one subscriber. */
const MAX_PENDING_SERIAL_INPUT = 1024 * 1024;
/** Serial input is sent in pieces of at most this (well under the host's request limit). */
const SERIAL_INPUT_CHUNK = 64 * 1024;
/** A display ACK is 16 bytes; anything much larger is not one. */
const MAX_DISPLAY_MESSAGE_FROM_VIEWER = 64;

function endOf(lastExit: LastExit | undefined, error: unknown): SubscriptionEnd {
  if (lastExit) return { reason: 'vm-stopped', lastExit };
  if (error) return { reason: 'error', error: toWireError(toRequestError(error)).body.error };
  return { reason: 'vm-stopped' };
}

/**
 * A connection of its own to the VM's host (each display viewer is one connection to the
 * host's stream; a console gets its own so closing it never disturbs another), which ends the
 * sink when the host goes away.
 */
async function openHostStream(
  openServices: () => Promise<VmServices>,
  id: string,
  sink: Pick<SubscriptionSink<SubscriptionChannel>, 'end'>,
  start: (client: VmHostClient) => Promise<void>,
): Promise<{ client: VmHostClient; close(): void }> {
  const services = await openServices();
  let vm: LibraryVm;
  let client: VmHostClient;
  try {
    vm = await services.library.get(id);
  } catch (error) {
    throw toRequestError(error);
  }
  try {
    client = await services.registry.connect(vm);
  } catch (error) {
    throw toRequestError(error, vm);
  }
  let closedByUs = false;
  let lastExit: LastExit | undefined;
  client.on('exit', (exit) => (lastExit = exit));
  void client.closed.then((error) => {
    if (!closedByUs) sink.end(endOf(lastExit, error));
  });
  try {
    await start(client);
  } catch (error) {
    closedByUs = true;
    client.destroy();
    throw toRequestError(error, vm);
  }
  return {
    client,
    close() {
      closedByUs = true;
      client.destroy();
    },
  };
}

/**
 * Serial input in order, through `sendSerial` (which answers once the host has queued it), so
 * a subscriber that types faster than the guest reads waits instead of being disconnected.
 */
class SerialInputQueue {
  readonly #pending: Uint8Array[] = [];
  #bytes = 0;
  #pumping = false;

  constructor(
    private readonly client: VmHostClient,
    private readonly fail: (error: unknown) => void,
  ) {}

  push(data: Uint8Array): void {
    if (this.#bytes + data.byteLength > MAX_PENDING_SERIAL_INPUT) {
      this.fail(new Error('more serial input is waiting than the guest has read; slow down'));
      return;
    }
    for (let offset = 0; offset < data.byteLength; offset += SERIAL_INPUT_CHUNK) {
      this.#pending.push(data.slice(offset, offset + SERIAL_INPUT_CHUNK));
    }
    this.#bytes += data.byteLength;
    if (!this.#pumping) void this.#pump();
  }

  async #pump(): Promise<void> {
    this.#pumping = true;
    try {
      for (let chunk = this.#pending[0]; chunk; chunk = this.#pending[0]) {
        const base64 = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength).toString(
          'base64',
        );
        try {
          await this.client.call('sendSerial', { base64 });
        } catch (error) {
          if ((error as { code?: string }).code !== 'input-full') throw error;
          await new Promise((resolve) => setTimeout(resolve, 50));
          continue;
        }
        this.#pending.shift();
        this.#bytes -= chunk.byteLength;
      }
    } catch (error) {
      if (this.client.isOpen) this.fail(error);
    } finally {
      this.#pumping = false;
    }
  }
}

export function createSubscriptionHandlers(
  openServices: () => Promise<VmServices>,
  feed: VmChangeFeed,
  parse: {
    vmRef: (payload: unknown) => SubscriptionParamsOf<'vm.display'>;
    progress: (payload: unknown) => SubscriptionParamsOf<'vm.progress'>;
    serial: (payload: unknown) => SubscriptionParamsOf<'vm.serial'>;
    empty: (payload: unknown) => undefined;
  },
  jobs: JobRegistry,
): SubscriptionHandlers {
  return {
    'vms.changed': {
      parseParams: parse.empty,
      async open(_params, sink) {
        const unsubscribe = feed.subscribe((list) => sink.event(list));
        return { send: () => undefined, close: unsubscribe };
      },
    },
    'vm.serial': {
      parseParams: parse.serial,
      async open({ id, history }, sink) {
        const stream = await openHostStream(openServices, id, sink, async (client) => {
          client.onSerial((bytes) => sink.event(bytes));
          await client.call('subscribe', { serial: true, serialHistory: history ?? false });
        });
        const input = new SerialInputQueue(stream.client, (error) => {
          stream.close();
          sink.end(endOf(undefined, error));
        });
        return { send: (data) => input.push(data), close: () => stream.close() };
      },
    },
    'vm.display': {
      parseParams: parse.vmRef,
      async open({ id }, sink) {
        const stream = await openHostStream(openServices, id, sink, async (client) => {
          client.onDisplay((message) => sink.event(message));
          await client.call('subscribe', { display: true });
        });
        return {
          send(data) {
            if (data.byteLength <= MAX_DISPLAY_MESSAGE_FROM_VIEWER) stream.client.sendDisplay(data);
          },
          close: () => stream.close(),
        };
      },
    },
    'vm.progress': {
      parseParams: parse.progress,
      async open({ id }, sink) {
        // The host sends `progress` to every connection: no subscribe call is needed.
        const stream = await openHostStream(openServices, id, sink, async (client) => {
          client.on('progress', ({ operation, done, total }) =>
            sink.event({ operation, done, total }),
          );
        });
        return { send: () => undefined, close: () => stream.close() };
      },
    },
    'jobs.changed': {
      parseParams: parse.empty,
      async open(_params, sink) {
        // The list at once, then after each change (JobRegistry coalesces them).
        let open = true;
        const unsubscribe = jobs.subscribe((list) => {
          if (open) sink.event(list);
        });
        const first = jobs.list();
        queueMicrotask(() => {
          if (open) sink.event(first);
        });
        return {
          send: () => undefined,
          close() {
            open = false;
            unsubscribe();
          },
        };
      },
    },
  };
}
