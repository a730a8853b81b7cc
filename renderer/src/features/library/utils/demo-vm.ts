/**
 * The demo VM the empty library offers: the small guest this build ships (assets/demo-guest/,
 * built into dist/demo/), which boots at once and shows a counter on its screen.
 */
import type { DemoGuest } from '../../../../../electron/common/host-info.ts';
import type { CreateVmRequest } from '../../../../../electron/common/vm-details.ts';

export const DEMO_VM_NAME = 'Demo';

/** One CPU, 128 MiB, no disk, no network, a 1024×768 screen: all the demo guest needs. */
export function demoVmRequest(guest: DemoGuest): CreateVmRequest {
  return {
    name: DEMO_VM_NAME,
    kernel: guest.kernel,
    cpus: 1,
    memoryMiB: 128,
    network: { mode: 'none' },
    display: { width: 1024, height: 768, vramMiB: 16 },
    notes:
      'A tiny demo guest from Nestbox: it counts on its screen and echoes what you type on its serial console.',
  };
}
