import { describe, expect, it, vi } from 'vitest';
import { decodeMessage } from '../../../electron/common/display-frame-format.ts';
import { NestboxClientError } from '../client/client-error.ts';
import { fakeClient, snapshotTree, vmDetails, vmList, wireSnapshot } from '../test/fakes.ts';
import { createDisplayConnection } from './display-connection.ts';
import { sendSerialText } from './serial-input.ts';
import { servicesFromClient } from './services.ts';

describe('servicesFromClient', () => {
  it('maps each feature call onto its channel', async () => {
    const client = fakeClient();
    const status = { id: 'a', state: 'running' as const };
    const startVm = vi.spyOn(client, 'startVm').mockResolvedValue(status);
    const stopVm = vi.spyOn(client, 'stopVm').mockResolvedValue(status);
    const updateVm = vi.spyOn(client, 'updateVm').mockResolvedValue(undefined as never);
    vi.spyOn(client, 'screenshotVm').mockResolvedValue({ mimeType: 'image/png', base64: 'iVBO' });
    const services = servicesFromClient(client);

    await services.library.power?.start?.('a');
    await services.library.power?.shutdown?.('a');
    await services.library.power?.powerOff?.('a');
    await services.vmSettings?.updateVm('a', { name: 'B' });
    expect(startVm).toHaveBeenCalledWith({ id: 'a' });
    expect(stopVm.mock.calls).toEqual([[{ id: 'a' }], [{ id: 'a', force: true }]]);
    expect(updateVm).toHaveBeenCalledWith({ id: 'a', patch: { name: 'B' } });
    await expect(services.library.screenshot?.('a')).resolves.toBe('data:image/png;base64,iVBO');
  });

  it('watches the library through vms.changed and reports its end as an error', async () => {
    const client = fakeClient();
    let end: ((end: { reason: 'error'; error: { message: string } }) => void) | undefined;
    let listener: ((list: ReturnType<typeof vmList>) => void) | undefined;
    vi.spyOn(client, 'onVmsChanged').mockImplementation((onList, onEnd) => {
      listener = onList;
      end = onEnd as typeof end;
      return () => {};
    });
    const onList = vi.fn();
    const onError = vi.fn();
    servicesFromClient(client).library.watchVms?.(onList, onError);
    listener?.(vmList());
    expect(onList).toHaveBeenCalledWith(vmList());

    // The list is read once more (it may have changed), and the end is reported.
    end?.({ reason: 'error', error: { message: 'connection lost' } });
    await vi.waitFor(() => expect(onError).toHaveBeenCalledWith(new Error('connection lost')));
    expect(client.listVms).toHaveBeenCalledOnce();

    // A WebSocket refused for a missing token looks lost; the plain request says why.
    const unauthorized = new NestboxClientError('unauthorized', 'The access token is missing.');
    client.listVms.mockRejectedValueOnce(unauthorized);
    end?.({ reason: 'error', error: { message: 'connection lost' } });
    await vi.waitFor(() => expect(onError).toHaveBeenLastCalledWith(unauthorized));
  });
});

describe('servicesFromClient: snapshots, suspend, clones and the console', () => {
  it('maps suspend, discarding a saved state and progress onto their channels', async () => {
    const client = fakeClient();
    const suspendVm = vi
      .spyOn(client, 'suspendVm')
      .mockResolvedValue({ id: 'a', state: 'suspended' });
    const startVm = vi.spyOn(client, 'startVm').mockResolvedValue({ id: 'a', state: 'running' });
    const stop = vi.fn();
    const onVmProgress = vi.spyOn(client, 'onVmProgress').mockReturnValue(stop);
    const { library } = servicesFromClient(client);

    await library.power?.suspend?.('a');
    await library.discardSavedState?.('a');
    const listener = vi.fn();
    expect(library.watchProgress?.('a', listener)).toBe(stop);
    expect(suspendVm).toHaveBeenCalledWith({ id: 'a' });
    expect(startVm).toHaveBeenCalledWith({ id: 'a', discardSuspended: true });
    expect(onVmProgress).toHaveBeenCalledWith({ id: 'a' }, listener);
  });

  it('maps every snapshot action, with thumbnails as data: URLs', async () => {
    const client = fakeClient();
    const node = wireSnapshot({ id: 's1' });
    vi.spyOn(client, 'listSnapshots').mockResolvedValue(snapshotTree([node], 's1'));
    vi.spyOn(client, 'snapshotThumbnail').mockResolvedValue({
      mimeType: 'image/png',
      base64: 'iVBO',
    });
    const take = vi
      .spyOn(client, 'takeSnapshot')
      .mockResolvedValue({ snapshot: node, withMemory: true });
    const revert = vi
      .spyOn(client, 'revertSnapshot')
      .mockResolvedValue({ snapshot: node, state: 'suspended' });
    const remove = vi.spyOn(client, 'deleteSnapshot').mockResolvedValue({
      snapshot: node,
      freedBytes: 10,
      retainedLayers: 0,
    });
    const rename = vi.spyOn(client, 'renameSnapshot').mockResolvedValue(node);
    const snapshots = servicesFromClient(client).snapshots;

    expect((await snapshots?.list('a'))?.currentId).toBe('s1');
    await expect(snapshots?.thumbnail?.('a', 's1')).resolves.toBe('data:image/png;base64,iVBO');
    await snapshots?.take('a', { name: 'One' });
    await snapshots?.take('a', { name: 'Two', description: 'why' });
    await snapshots?.revert('a', 's1');
    await snapshots?.remove('a', 's1');
    await snapshots?.rename('a', 's1', 'New');
    expect(take.mock.calls).toEqual([
      [{ id: 'a', name: 'One' }],
      [{ id: 'a', name: 'Two', description: 'why' }],
    ]);
    expect(revert).toHaveBeenCalledWith({ id: 'a', snapshot: 's1' });
    expect(remove).toHaveBeenCalledWith({ id: 'a', snapshot: 's1' });
    expect(rename).toHaveBeenCalledWith({ id: 'a', snapshot: 's1', name: 'New' });
  });

  it('clones a VM fully, or linked on a snapshot', async () => {
    const client = fakeClient();
    const cloneVm = vi.spyOn(client, 'cloneVm').mockResolvedValue(vmDetails());
    const clone = servicesFromClient(client).clone;
    await clone?.cloneVm('a', { name: 'Copy' });
    await clone?.cloneVm('a', { name: 'Linked', snapshot: 's1', linked: true });
    expect(cloneVm.mock.calls).toEqual([
      [{ id: 'a', name: 'Copy' }],
      [{ id: 'a', name: 'Linked', snapshot: 's1', linked: true }],
    ]);
  });

  it('opens the console with its history and says why it ended', () => {
    const client = fakeClient();
    let ends: ((end: { reason: 'vm-stopped' }) => void) | undefined;
    const openConsole = vi.spyOn(client, 'openConsole').mockImplementation((_params, handlers) => {
      ends = handlers.end as typeof ends;
      return { write: async () => {}, close: () => {} };
    });
    const end = vi.fn();
    servicesFromClient(client).console?.open('a', { data: vi.fn(), end });
    expect(openConsole).toHaveBeenCalledWith({ id: 'a', history: true }, expect.any(Object));
    ends?.({ reason: 'vm-stopped' });
    expect(end).toHaveBeenCalledWith('the VM stopped.');
  });

  it('pastes through vms.sendSerial in pieces, waiting while the guest’s input is full', async () => {
    const client = fakeClient();
    const full = new NestboxClientError('remote', 'serial input is full', { code: 'input-full' });
    const sendSerial = vi
      .spyOn(client, 'sendSerial')
      .mockRejectedValueOnce(full)
      .mockResolvedValue({ queued: 0 });
    const waits: number[] = [];
    const text = 'x'.repeat(64 * 1024 + 10);
    await sendSerialText(client, 'a', text, async (ms) => void waits.push(ms));
    expect(
      sendSerial.mock.calls.map(([request]) => (request as { text: string }).text.length),
    ).toEqual([64 * 1024, 64 * 1024, 10]);
    expect(waits).toEqual([50]);

    sendSerial.mockRejectedValueOnce(new NestboxClientError('remote', 'not running'));
    await expect(sendSerialText(client, 'a', 'ls', async () => {})).rejects.toThrow('not running');
  });
});

describe('createDisplayConnection', () => {
  it('passes frames on, acknowledges as ACK messages and sends input in order, a batch at a time', async () => {
    const client = fakeClient();
    const acknowledge = vi.fn();
    const close = vi.fn();
    let deliver: (data: ArrayBuffer) => void = () => {};
    vi.spyOn(client, 'openDisplay').mockImplementation((_params, handlers) => {
      deliver = handlers.message;
      return { acknowledge, close };
    });
    let answer: () => void = () => {};
    const sendInput = vi
      .spyOn(client, 'sendInput')
      .mockImplementation(
        () => new Promise((resolve) => (answer = () => resolve({ delivered: 1 }))),
      );
    const frames: (() => void)[] = [];
    const connection = createDisplayConnection(client, 'vm-1', (f) => frames.push(f));

    const received = vi.fn();
    connection.onMessage(received);
    const message = new ArrayBuffer(16);
    deliver(message);
    expect(received).toHaveBeenCalledWith(message);

    connection.ack(7);
    const ack = acknowledge.mock.calls[0]?.[0] as ArrayBuffer;
    expect(decodeMessage(ack)).toEqual({ type: 'ack', sequence: 7 });

    connection.sendKey('KeyA', true);
    connection.pointerMove(10, 20);
    frames.shift()?.();
    expect(sendInput).toHaveBeenCalledExactlyOnceWith({
      id: 'vm-1',
      events: [
        { type: 'key', code: 'KeyA', pressed: true },
        { type: 'pointerMove', x: 10, y: 20 },
      ],
    });
    connection.sendKey('KeyA', false); // waits for the first batch
    expect(frames).toHaveLength(0);
    answer();
    await vi.waitFor(() => expect(sendInput).toHaveBeenCalledTimes(2));
    expect(sendInput).toHaveBeenLastCalledWith({
      id: 'vm-1',
      events: [{ type: 'key', code: 'KeyA', pressed: false }],
    });

    connection.close();
    expect(close).toHaveBeenCalled();
  });
});
