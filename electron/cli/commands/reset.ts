/** `nestbox reset NAME`: the reset button. */
import { hostActionCommand } from '../vm-commands.ts';

export const resetCommand = hostActionCommand({
  name: 'reset',
  summary: 'Reset a running VM, like its reset button (the guest reboots)',
  description:
    "Resets a running or paused VM, like pressing its reset button: the guest's memory is\n" +
    'cleared and the kernel boots again, in the same VM host. Unsaved data in the guest is\n' +
    'lost; `nestbox stop NAME` asks the guest to shut down instead.',
  async act(client, vm) {
    await client.call('reset');
    return `Reset "${vm.config.name}"; the guest is booting again`;
  },
});
