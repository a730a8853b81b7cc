/**
 * Registers one `ipcMain.handle` per contract channel, dispatching through the same request
 * table as `nestbox serve`, and the two subscription channels (open, close) over the same
 * subscription table. Every message's sender is checked first; untrusted ones are refused and
 * logged, and never reach a service.
 *
 * Events go back with `webContents.send` on one channel per subscription kind, tagged with
 * the subscription's number. A display gets a MessagePort instead: main forwards the VM
 * host's display messages into it and the viewer's ACKs back, and does nothing else per frame
 * (docs/ipc.md).
 */
import { ipcMain, MessageChannelMain, type BrowserWindow, type WebContents } from 'electron';
import {
  ipcChannels,
  isSubscriptionChannel,
  requestChannels,
  type SubscriptionChannel,
  type SubscriptionEnd,
} from '../common/contract.ts';
import { encodeIpcError } from '../common/ipc-error.ts';
import { RequestError, toWireError } from '../services/request-error.ts';
import type {
  OpenSubscription,
  ServiceEventMap,
  SubscriptionHandlers,
  SubscriptionSink,
} from '../services/request-handlers-events.ts';
import {
  dispatchRequest,
  subscriptionsFor,
  type RequestHandlers,
} from '../services/request-handlers.ts';
import { checkSender } from './sender-validation.ts';

/** Rejects the renderer's promise with the whole WireError (code and issues included). */
function ipcFailure(where: string, error: unknown): Error {
  const wire = toWireError(error);
  if (wire.status >= 500) console.error(`nestbox: IPC "${where}" failed:`, error);
  return new Error(encodeIpcError(wire.body), { cause: error });
}

/**
 * A copy of exactly these bytes as its own ArrayBuffer. Structured clone (postMessage,
 * webContents.send) copies a typed array's whole underlying buffer, which for a view into a
 * socket read is more than the message; a message that already is a whole buffer is not copied.
 */
function exactArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  if (
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength &&
    bytes.buffer instanceof ArrayBuffer
  ) {
    return bytes.buffer;
  }
  return bytes.slice().buffer as ArrayBuffer;
}

function readSubscriptionNumber(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new RequestError('bad-request', 'subscription must be a positive whole number');
  }
  return value;
}

/** The subscriptions of one window's page; all end when the page goes away or navigates. */
class PageSubscriptions {
  readonly #open = new Map<number, OpenSubscription>();

  constructor(contents: WebContents, onGone: () => void) {
    const closeAll = () => {
      for (const subscription of this.#open.values()) subscription.close();
      this.#open.clear();
    };
    contents.once('destroyed', () => {
      closeAll();
      onGone();
    });
    contents.on('render-process-gone', closeAll);
    contents.on('did-start-navigation', (details) => {
      if (details.isMainFrame && !details.isSameDocument) closeAll();
    });
  }

  has(subscription: number): boolean {
    return this.#open.has(subscription);
  }

  add(subscription: number, open: OpenSubscription): void {
    this.#open.set(subscription, open);
  }

  /** Forgets it; closes it too unless it already ended. */
  remove(subscription: number, close = true): void {
    const open = this.#open.get(subscription);
    this.#open.delete(subscription);
    if (close) open?.close();
  }
}

export function wireIpc(
  handlers: RequestHandlers,
  windows: () => readonly BrowserWindow[],
  subscriptions: SubscriptionHandlers | undefined = subscriptionsFor(handlers),
): void {
  /** Refuses (and logs) a message from anything but our own windows' main frames. */
  function checkTrusted(event: Electron.IpcMainInvokeEvent, what: string): void {
    const verdict = checkSender(
      event.senderFrame,
      windows().map((window) => window.webContents.mainFrame),
    );
    if (!verdict.trusted) {
      console.warn(`nestbox: refused IPC "${what}" from ${verdict.reason}`);
      throw new Error('Request refused');
    }
  }

  for (const channel of requestChannels) {
    ipcMain.handle(channel, async (event, payload: unknown) => {
      checkTrusted(event, channel);
      try {
        return await dispatchRequest(handlers, channel, payload);
      } catch (error) {
        throw ipcFailure(channel, error);
      }
    });
  }

  const pages = new Map<number, PageSubscriptions>();
  const pageOf = (contents: WebContents) => {
    let page = pages.get(contents.id);
    if (!page) {
      const id = contents.id;
      page = new PageSubscriptions(contents, () => pages.delete(id));
      pages.set(id, page);
    }
    return page;
  };

  ipcMain.handle(ipcChannels.subscribe, async (event, payload: unknown) => {
    checkTrusted(event, ipcChannels.subscribe);
    try {
      if (!subscriptions) throw new RequestError('not-found', 'This app serves no subscriptions.');
      const request = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<
        string,
        unknown
      >;
      const subscription = readSubscriptionNumber(request['subscription']);
      const channel = request['channel'];
      if (!isSubscriptionChannel(channel)) {
        throw new RequestError('not-found', `There is no subscription named "${String(channel)}".`);
      }
      const contents = event.sender;
      const page = pageOf(contents);
      if (page.has(subscription)) {
        throw new RequestError('bad-request', `Subscription ${subscription} is already open.`);
      }
      await openSubscription(
        subscriptions,
        channel,
        request['params'],
        contents,
        page,
        subscription,
      );
    } catch (error) {
      throw ipcFailure(ipcChannels.subscribe, error);
    }
  });

  ipcMain.handle(ipcChannels.unsubscribe, (event, payload: unknown) => {
    checkTrusted(event, ipcChannels.unsubscribe);
    try {
      const request = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<
        string,
        unknown
      >;
      pages.get(event.sender.id)?.remove(readSubscriptionNumber(request['subscription']));
    } catch (error) {
      throw ipcFailure(ipcChannels.unsubscribe, error);
    }
  });
}

async function openSubscription<S extends SubscriptionChannel>(
  subscriptions: SubscriptionHandlers,
  channel: S,
  rawParams: unknown,
  contents: WebContents,
  page: PageSubscriptions,
  subscription: number,
): Promise<void> {
  const handler = subscriptions[channel];
  const params = handler.parseParams(rawParams);
  let ended = false;
  const end = (how: SubscriptionEnd) => {
    if (ended) return;
    ended = true;
    page.remove(subscription, false);
    if (!contents.isDestroyed()) contents.send(ipcChannels.ended, subscription, how);
  };

  if (channel === 'vm.display') {
    // Frames go straight into the port: no decoding, no per-frame IPC message.
    const { port1, port2 } = new MessageChannelMain();
    const sink: SubscriptionSink<'vm.display'> = {
      event: (message) => port1.postMessage(exactArrayBuffer(message)),
      end: (how) => {
        end(how);
        port1.close();
      },
    };
    let open: OpenSubscription;
    try {
      open = await subscriptions['vm.display'].open(params as { id: string }, sink);
    } catch (error) {
      port1.close();
      throw error;
    }
    port1.on('message', (message) => {
      const data: unknown = message.data;
      if (data instanceof ArrayBuffer) open.send(new Uint8Array(data));
      else if (ArrayBuffer.isView(data)) {
        open.send(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      }
    });
    // The renderer closed its end (or went away): the viewer is gone.
    port1.on('close', () => page.remove(subscription));
    port1.start();
    page.add(subscription, {
      send: () => undefined,
      close: () => {
        open.close();
        port1.close();
      },
    });
    contents.postMessage(ipcChannels.events['vm.display'], { subscription }, [port2]);
    return;
  }

  const eventChannel = ipcChannels.events[channel];
  const sink: SubscriptionSink<S> = {
    event: (data: ServiceEventMap[S]) => {
      if (contents.isDestroyed()) return;
      // Serial bytes are small views into socket reads: send just them.
      const payload = data instanceof Uint8Array ? new Uint8Array(exactArrayBuffer(data)) : data;
      contents.send(eventChannel, subscription, payload);
    },
    end,
  };
  const open = await handler.open(params, sink);
  if (ended) open.close();
  else page.add(subscription, open);
}
