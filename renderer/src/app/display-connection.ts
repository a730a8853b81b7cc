import { encodeAck } from '../../../electron/common/display-frame-format.ts';
import type { VmInputEvent } from '../client/contract.ts';
import type { NestboxClient } from '../client/nestbox-client.ts';
import type { DisplayConnection } from '../features/display/display-connection.ts';
import { describeSubscriptionEnd } from './subscription-end.ts';

/**
 * A VM's screen over the client: frames from `openDisplay` (`vm.display`), input through
 * `vms.input`. Input is sent in order, a batch at a time: what the user does while one batch
 * is on its way goes in the next, so a slow link delays input but never reorders it.
 */
export function createDisplayConnection(
  client: NestboxClient,
  vmId: string,
  schedule: (callback: () => void) => void = (callback) => void requestAnimationFrame(callback),
): DisplayConnection & { close(): void } {
  const listeners = new Set<(data: ArrayBuffer) => void>();
  const endListeners = new Set<(reason: string) => void>();
  const display = client.openDisplay(
    { id: vmId },
    {
      message: (data) => listeners.forEach((listener) => listener(data)),
      end: (end) => {
        const reason = describeSubscriptionEnd(end);
        endListeners.forEach((listener) => listener(reason));
      },
    },
  );
  let queued: VmInputEvent[] = [];
  let inFlight = false;
  let scheduled = false;

  const flush = () => {
    scheduled = false;
    if (inFlight || queued.length === 0) return;
    const events = queued;
    queued = [];
    inFlight = true;
    client
      .sendInput({ id: vmId, events })
      .catch(() => {
        // A VM that stopped takes no input; the display shows that it ended.
      })
      .finally(() => {
        inFlight = false;
        if (queued.length > 0) flush();
      });
  };
  const send = (event: VmInputEvent) => {
    queued.push(event);
    if (!scheduled && !inFlight) {
      scheduled = true;
      schedule(flush);
    }
  };

  return {
    onMessage(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    ack: (sequence) => display.acknowledge(encodeAck(sequence)),
    sendKey: (code, pressed) => send({ type: 'key', code, pressed }),
    pointerMove: (x, y) => send({ type: 'pointerMove', x, y }),
    pointerButton: (button, pressed) => send({ type: 'pointerButton', button, pressed }),
    wheel: (dx, dy) => send({ type: 'wheel', dx, dy }),
    releaseAll: () => send({ type: 'releaseAll' }),
    onEnd(listener) {
      endListeners.add(listener);
      return () => endListeners.delete(listener);
    },
    close: () => {
      listeners.clear();
      endListeners.clear();
      display.close();
    },
  };
}
