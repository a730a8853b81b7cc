/** `nestbox resume NAME`: continues a paused VM. */
import { hostActionCommand } from '../vm-commands.ts';

export const resumeCommand = hostActionCommand({
  name: 'resume',
  summary: 'Continue a paused VM',
  description: 'Continues a VM paused with `nestbox pause`. Resuming a running VM does nothing.',
  async act(client, vm) {
    await client.call('resume');
    return `Resumed "${vm.config.name}"`;
  },
});
