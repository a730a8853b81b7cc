import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import {
  ipcChannels,
  requestChannels,
  requestFunctionNames,
  subscriptionChannels,
  subscriptionFunctionNames,
  type SubscriptionEnd,
} from '../common/contract.ts';
import { encodeIpcError } from '../common/ipc-error.ts';
import { createPreloadApi, type IpcRendererLike, type PageWindowLike } from './preload-api.ts';

type Listener = (event: { ports?: readonly unknown[] }, ...args: unknown[]) => void;

/** ipcRenderer as the preload sees it: records invokes, lets the test play main's messages. */
function fakeIpc(answer: (channel: string, args: unknown[]) => unknown = () => undefined) {
  const invoked: { channel: string; args: unknown[] }[] = [];
  const listeners = new Map<string, Listener[]>();
  const ipc: IpcRendererLike = {
    invoke: async (channel, ...args) => {
      invoked.push({ channel, args });
      return answer(channel, args);
    },
    on: (channel, listener) => {
      listeners.set(channel, [...(listeners.get(channel) ?? []), listener]);
    },
  };
  const emit = (channel: string, event: { ports?: unknown[] }, ...args: unknown[]) => {
    for (const listener of listeners.get(channel) ?? []) listener(event, ...args);
  };
  return { ipc, invoked, listeners, emit };
}

function fakePage() {
  const posted: { message: unknown; origin: string; transfer: unknown[] }[] = [];
  const page: PageWindowLike = {
    location: { origin: 'app://nestbox' },
    postMessage: (message, origin, transfer) => posted.push({ message, origin, transfer }),
  };
  return { page, posted };
}

const flush = () => new Promise((resolve) => setImmediate(resolve));

test('window.nestbox has exactly one function per request channel and per subscription', () => {
  const api = createPreloadApi(fakeIpc().ipc, fakePage().page);
  const expected = [
    ...requestChannels.map((channel) => requestFunctionNames[channel]),
    ...subscriptionChannels.map((channel) => subscriptionFunctionNames[channel]),
  ];
  assert.equal(new Set(expected).size, expected.length, 'no two messages share a function');
  assert.deepEqual(Object.keys(api).sort(), [...expected].sort());
  for (const [name, value] of Object.entries(api)) assert.equal(typeof value, 'function', name);
});

test('preload.ts exposes that API and nothing else, and never ipcRenderer itself', () => {
  const source = readFileSync(path.join(import.meta.dirname, 'preload.ts'), 'utf8');
  const exposed = [...source.matchAll(/contextBridge\.exposeInMainWorld\(([^;]*)\);/g)].map(
    (match) => match[1],
  );
  assert.deepEqual(exposed, ["'nestbox', createPreloadApi(ipcRenderer, window)"]);
});

test('each request function invokes its own channel with the request, and only that', async () => {
  const { ipc, invoked } = fakeIpc((channel, args) => ({ channel, args }));
  const api = createPreloadApi(ipc, fakePage().page) as unknown as Record<
    string,
    (request?: unknown) => Promise<unknown>
  >;
  const parameterless: string[] = [];
  for (const channel of requestChannels) {
    const fn = api[requestFunctionNames[channel]];
    assert.ok(fn, channel);
    const request = { id: 'abc', channel };
    invoked.length = 0;
    await fn(request);
    // Parameterless channels send no payload at all, whatever the page passes.
    if (fn.length === 0) parameterless.push(channel);
    assert.deepEqual(invoked, [{ channel, args: fn.length === 0 ? [] : [request] }]);
  }
  assert.deepEqual(parameterless, ['host.info', 'vms.list', 'settings.get', 'jobs.list']);
});

test('a subscription is registered before main is asked, gets its events, and unsubscribes', async () => {
  const { ipc, invoked, emit } = fakeIpc();
  const api = createPreloadApi(ipc, fakePage().page);
  const received: unknown[] = [];
  const unsubscribe = api.onVmSerial(
    { id: 'vm-1', history: true },
    {
      event: (bytes) => received.push(bytes),
    },
  );
  assert.deepEqual(invoked, [
    {
      channel: ipcChannels.subscribe,
      args: [{ subscription: 1, channel: 'vm.serial', params: { id: 'vm-1', history: true } }],
    },
  ]);
  // Main may send before the invoke answers: the listener is already there.
  emit(ipcChannels.events['vm.serial'], {}, 1, Uint8Array.of(104, 105));
  emit(ipcChannels.events['vm.serial'], {}, 2, Uint8Array.of(0));
  assert.deepEqual(received, [Uint8Array.of(104, 105)]);

  unsubscribe();
  unsubscribe();
  await flush();
  assert.deepEqual(invoked.slice(1), [
    { channel: ipcChannels.unsubscribe, args: [{ subscription: 1 }] },
  ]);
  emit(ipcChannels.events['vm.serial'], {}, 1, Uint8Array.of(1));
  assert.equal(received.length, 1, 'nothing after unsubscribe');
});

test("a VM's progress events reach its subscriber only", () => {
  const { ipc, invoked, emit } = fakeIpc();
  const api = createPreloadApi(ipc, fakePage().page);
  const received: unknown[] = [];
  api.onVmProgress({ id: 'vm-1' }, { event: (progress) => received.push(progress) });
  assert.deepEqual(invoked, [
    {
      channel: ipcChannels.subscribe,
      args: [{ subscription: 1, channel: 'vm.progress', params: { id: 'vm-1' } }],
    },
  ]);
  const progress = { operation: 'take', done: 5, total: 10 };
  emit(ipcChannels.events['vm.progress'], {}, 1, progress);
  emit(ipcChannels.events['vm.progress'], {}, 2, progress);
  assert.deepEqual(received, [progress]);
});

test('an end from main, or a refused subscription, reaches end() once with the error', async () => {
  const wire = { error: { message: '"Alpine" is not running', code: 'not-running' } };
  const { ipc, emit } = fakeIpc((channel, args) => {
    const { params } = args[0] as { params?: { id?: string } };
    if (channel === ipcChannels.subscribe && params?.id === 'off') {
      throw new Error(`Error invoking remote method 'x': Error: ${encodeIpcError(wire)}`);
    }
    return undefined;
  });
  const api = createPreloadApi(ipc, fakePage().page);
  const ends: SubscriptionEnd[] = [];
  api.onVmSerial({ id: 'off' }, { end: (end) => ends.push(end) });
  await flush();
  assert.deepEqual(ends, [{ reason: 'error', error: wire.error }]);

  const changes: unknown[] = [];
  api.onVmsChanged({ event: (list) => changes.push(list), end: (end) => ends.push(end) });
  emit(ipcChannels.events['vms.changed'], {}, 2, { root: '/vms', vms: [], broken: [] });
  const stopped: SubscriptionEnd = { reason: 'vm-stopped' };
  emit(ipcChannels.ended, {}, 2, stopped);
  emit(ipcChannels.ended, {}, 2, stopped);
  assert.equal(changes.length, 1);
  assert.deepEqual(ends.slice(1), [stopped]);
});

test("a display's MessagePort is handed to the page after ready(), to the page's origin", () => {
  const { ipc, emit } = fakeIpc();
  const { page, posted } = fakePage();
  const api = createPreloadApi(ipc, page);
  const order: string[] = [];
  api.openVmDisplay(
    { id: 'vm-1' },
    { ready: (subscription) => order.push(`ready ${subscription}`) },
  );
  let closed = false;
  const port = { close: () => (closed = true) };
  emit(ipcChannels.events['vm.display'], { ports: [port] }, { subscription: 1 });
  assert.deepEqual(order, ['ready 1']);
  assert.deepEqual(posted, [
    {
      message: { type: 'nestbox:vm.display-port', subscription: 1 },
      origin: 'app://nestbox',
      transfer: [port],
    },
  ]);
  // A port for a subscription the page no longer has is closed, not handed on.
  const stray = { close: () => (closed = true) };
  emit(ipcChannels.events['vm.display'], { ports: [stray] }, { subscription: 99 });
  assert.equal(closed, true);
  assert.equal(posted.length, 1);
});
