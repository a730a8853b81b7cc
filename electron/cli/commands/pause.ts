/** `nestbox pause NAME`: stops the VM's vCPUs; its memory and devices wait as they are. */
import { hostActionCommand } from '../vm-commands.ts';

export const pauseCommand = hostActionCommand({
  name: 'pause',
  summary: 'Pause a running VM (its vCPUs stop; `nestbox resume` continues)',
  description:
    'Pauses a running VM: every vCPU leaves the guest and waits. The VM keeps its memory,\n' +
    'devices and host process; `nestbox resume NAME` continues where it stopped. Pausing a\n' +
    'paused VM does nothing.',
  async act(client, vm) {
    const { latencyMs } = await client.call('pause');
    return `Paused "${vm.config.name}" (in ${latencyMs.toFixed(1)} ms)`;
  },
});
