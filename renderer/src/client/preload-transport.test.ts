import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeIpcError } from '../../../electron/common/ipc-error.ts';
import type { PreloadApi, PreloadSubscriber, SubscriptionEnd, VmList } from './contract.ts';
import { NestboxClientError } from './client-error.ts';
import { createClient } from './create-client.ts';
import { createNestboxClient } from './nestbox-client.ts';
import { createPreloadTransport, type PortWindow } from './preload-transport.ts';
import { hostInfo } from '../test/fakes.ts';

const emptyList: VmList = { root: '/vms', vms: [], broken: [] };

/** A preload API whose every function fails unless the test gives it. */
function fakePreloadApi(overrides: Partial<PreloadApi> = {}): PreloadApi {
  const unexpected = () => {
    throw new Error('not expected in this test');
  };
  return new Proxy(overrides, {
    get: (target, name) => (target as Record<PropertyKey, unknown>)[name] ?? unexpected,
  }) as PreloadApi;
}

describe('preload transport (Electron)', () => {
  afterEach(() => {
    delete window.nestbox;
  });

  it('uses window.nestbox when the preload provides it, and never fetches', async () => {
    const fetchMock = vi.fn<typeof fetch>();
    vi.stubGlobal('fetch', fetchMock);
    const api = fakePreloadApi({
      hostInfo: vi.fn(async () => hostInfo({ hostname: 'desk' })),
      listVms: vi.fn(async () => emptyList),
    });
    window.nestbox = api;

    const client = createClient();

    expect(client.transport).toBe('preload');
    await expect(client.hostInfo()).resolves.toMatchObject({ hostname: 'desk' });
    expect(api.hostInfo).toHaveBeenCalledTimes(1);
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it("shows the service's message without Electron's IPC wrapping", async () => {
    window.nestbox = fakePreloadApi({
      hostInfo: async () => {
        throw new Error(
          "Error invoking remote method 'host.info': Error: Could not read /proc/meminfo",
        );
      },
    });

    await expect(createClient().hostInfo()).rejects.toThrow(/^Could not read \/proc\/meminfo$/);
  });

  it('keeps the code and the field issues of a WireError that crossed IPC', async () => {
    const issues = [{ path: 'cpus', message: 'must be from 1 to 64, not 0' }];
    window.nestbox = fakePreloadApi({
      createVm: async () => {
        throw new Error(
          `Error invoking remote method 'vms.create': Error: ${encodeIpcError({
            error: { message: 'The vms.create request is not valid', code: 'bad-request', issues },
          })}`,
        );
      },
    });

    const error = await createClient()
      .createVm({ name: 'x', kernel: '/boot/vmlinuz', cpus: 0 })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(NestboxClientError);
    expect((error as NestboxClientError).message).toBe('The vms.create request is not valid');
    expect((error as NestboxClientError).code).toBe('bad-request');
    expect((error as NestboxClientError).issues).toEqual(issues);
  });

  it('passes each request to its own preload function', async () => {
    const getVm = vi.fn(async () => ({ id: 'a' }) as never);
    const stopVm = vi.fn(async () => ({ id: 'a', state: 'off' as const }));
    const client = createNestboxClient(createPreloadTransport(fakePreloadApi({ getVm, stopVm })));

    await client.getVm({ id: 'a' });
    await client.stopVm({ id: 'a', force: true });

    expect(getVm).toHaveBeenCalledWith({ id: 'a' });
    expect(stopVm).toHaveBeenCalledWith({ id: 'a', force: true });
  });

  it('passes the snapshot, suspend and clone requests to their preload functions', async () => {
    const id = '3f2b8c1e-5d4a-4c1b-9e0f-1a2b3c4d5e6f';
    const snapshot = '0a3f5b0c-1d2e-4f30-8a4b-5c6d7e8f9a0b';
    const answer = vi.fn(async () => ({}) as never);
    const client = createNestboxClient(
      createPreloadTransport(
        fakePreloadApi({
          listSnapshots: answer,
          snapshotThumbnail: answer,
          takeSnapshot: answer,
          revertSnapshot: answer,
          deleteSnapshot: answer,
          renameSnapshot: answer,
          suspendVm: answer,
          cloneVm: answer,
          startVm: answer,
        }),
      ),
    );

    await client.listSnapshots({ id });
    await client.snapshotThumbnail({ id, snapshot });
    await client.takeSnapshot({ id, name: 'Clean', description: 'fresh' });
    await client.revertSnapshot({ id, snapshot });
    await client.deleteSnapshot({ id, snapshot });
    await client.renameSnapshot({ id, snapshot, name: 'Cleaner' });
    await client.suspendVm({ id });
    await client.cloneVm({ id, name: 'Copy', linked: true, snapshot });
    await client.startVm({ id, discardSuspended: true });

    expect(answer.mock.calls).toEqual([
      [{ id }],
      [{ id, snapshot }],
      [{ id, name: 'Clean', description: 'fresh' }],
      [{ id, snapshot }],
      [{ id, snapshot }],
      [{ id, snapshot, name: 'Cleaner' }],
      [{ id }],
      [{ id, name: 'Copy', linked: true, snapshot }],
      [{ id, discardSuspended: true }],
    ]);
  });

  it("delivers a VM's progress until unsubscribed", () => {
    let subscriber: PreloadSubscriber<'vm.progress'> | undefined;
    const unsubscribe = vi.fn();
    const onVmProgress = vi.fn((_params: { id: string }, given: typeof subscriber) => {
      subscriber = given;
      return unsubscribe;
    });
    const client = createNestboxClient(createPreloadTransport(fakePreloadApi({ onVmProgress })));
    const seen: unknown[] = [];
    const ends: SubscriptionEnd[] = [];

    const stop = client.onVmProgress(
      { id: 'vm-1' },
      (progress) => seen.push(progress),
      (end) => ends.push(end),
    );
    subscriber?.event?.({ operation: 'take', done: 1, total: 4 });
    subscriber?.end?.({ reason: 'vm-stopped' });
    stop();
    subscriber?.event?.({ operation: 'take', done: 4, total: 4 });

    expect(onVmProgress.mock.calls[0]?.[0]).toEqual({ id: 'vm-1' });
    expect(seen).toEqual([{ operation: 'take', done: 1, total: 4 }]);
    expect(ends).toEqual([{ reason: 'vm-stopped' }]);
    expect(unsubscribe).toHaveBeenCalledTimes(1);
  });

  it('delivers VM list changes until unsubscribed, and ends once', () => {
    let subscriber: PreloadSubscriber<'vms.changed'> | undefined;
    const unsubscribe = vi.fn();
    const client = createNestboxClient(
      createPreloadTransport(
        fakePreloadApi({
          onVmsChanged: (given) => {
            subscriber = given;
            return unsubscribe;
          },
        }),
      ),
    );
    const lists: VmList[] = [];
    const ends: SubscriptionEnd[] = [];

    const stop = client.onVmsChanged(
      (list) => lists.push(list),
      (end) => ends.push(end),
    );
    subscriber?.event?.(emptyList);
    stop();
    subscriber?.event?.(emptyList);
    subscriber?.end?.({ reason: 'vm-stopped' });

    expect(lists).toEqual([emptyList]);
    expect(ends).toEqual([]);
    expect(unsubscribe).toHaveBeenCalledTimes(1);
  });

  it('sends console input as vms.sendSerial requests, in base64', async () => {
    const sendSerial = vi.fn(async () => ({ queued: 0 }));
    let subscriber: PreloadSubscriber<'vm.serial'> | undefined;
    const client = createNestboxClient(
      createPreloadTransport(
        fakePreloadApi({
          sendSerial,
          onVmSerial: (_params, given) => {
            subscriber = given;
            return () => {};
          },
        }),
      ),
    );
    const output: Uint8Array[] = [];
    const console_ = client.openConsole({ id: 'vm-1' }, { data: (bytes) => output.push(bytes) });

    subscriber?.event?.(Uint8Array.of(104, 105));
    await console_.write('ls\n');

    expect(output).toEqual([Uint8Array.of(104, 105)]);
    expect(sendSerial).toHaveBeenCalledWith({ id: 'vm-1', base64: btoa('ls\n') });
  });

  it("takes a display's port from the window message the preload announced", () => {
    const listeners = new Set<(event: MessageEvent) => void>();
    const win: PortWindow = {
      location: { origin: 'app://nestbox' },
      addEventListener: ((_type: string, listener: (event: MessageEvent) => void) =>
        listeners.add(listener)) as PortWindow['addEventListener'],
      removeEventListener: ((_type: string, listener: (event: MessageEvent) => void) =>
        listeners.delete(listener)) as PortWindow['removeEventListener'],
    };
    let subscriber: PreloadSubscriber<'vm.display'> | undefined;
    const unsubscribe = vi.fn();
    const client = createNestboxClient(
      createPreloadTransport(
        fakePreloadApi({
          openVmDisplay: (_params, given) => {
            subscriber = given;
            return unsubscribe;
          },
        }),
        win,
      ),
    );
    const messages: ArrayBuffer[] = [];
    const display = client.openDisplay({ id: 'vm-1' }, { message: (data) => messages.push(data) });
    const { port1, port2 } = new MessageChannel();
    const posted: unknown[] = [];
    port1.onmessage = (event) => posted.push(event.data);

    subscriber?.ready?.(7);
    const deliver = (data: unknown, origin: string) => {
      for (const listener of [...listeners]) {
        listener({ data, origin, ports: [port2] } as unknown as MessageEvent);
      }
    };
    deliver({ type: 'nestbox:vm.display-port', subscription: 8 }, 'app://nestbox');
    deliver({ type: 'nestbox:vm.display-port', subscription: 7 }, 'https://elsewhere');
    expect(listeners.size).toBe(1);
    deliver({ type: 'nestbox:vm.display-port', subscription: 7 }, 'app://nestbox');
    expect(listeners.size).toBe(0);

    const ack = new ArrayBuffer(16);
    display.acknowledge(ack);
    display.close();

    expect(unsubscribe).toHaveBeenCalledTimes(1);
    expect(messages).toEqual([]);
    return new Promise<void>((resolve) => {
      setTimeout(() => {
        expect(posted).toHaveLength(1);
        port1.close();
        resolve();
      }, 20);
    });
  });
});
