/** `nestbox resume NAME`: continues a paused VM, or starts a suspended one. */
import { VmHostError } from '../../services/vm-host/vm-host-client.ts';
import { ExitCode, type Command } from '../command.ts';
import {
  NAME_HELP,
  VM_EXIT_STATUS,
  connectToVm,
  lookupVm,
  parseVmCommand,
  vmServices,
} from '../vm-commands.ts';

export const resumeCommand: Command = {
  name: 'resume',
  summary: 'Continue a paused VM, or start a suspended one where it was',
  usage: [
    'Usage: nestbox resume NAME [--json]',
    '',
    'Continues a VM paused with `nestbox pause` (resuming a running VM does nothing), or',
    'starts a VM suspended with `nestbox suspend` from its saved state.',
    NAME_HELP,
    '',
    'Options:',
    '  --json   print the result as JSON: {"id", "name", "state"}',
    '  --help   show this help',
    '',
    VM_EXIT_STATUS,
  ].join('\n'),

  async run(args, context) {
    const parsed = parseVmCommand(this.usage, args, context, ['NAME'], {
      json: { type: 'boolean' },
    });
    if (!parsed) return ExitCode.ok;
    const services = await vmServices(context);
    const vm = await lookupVm(services, parsed.positionals[0] ?? '');
    const status = await services.registry.status(vm);
    let line: string;
    if (status.state === 'suspended') {
      const started = await services.registry.start(vm);
      line = `Resumed "${vm.config.name}" from its suspended state (VM host pid ${started.pid})`;
    } else {
      const client = await connectToVm(services, vm);
      try {
        await client.call('resume');
      } catch (error) {
        if (error instanceof VmHostError) {
          throw new Error(`resume "${vm.config.name}": ${error.message}`, { cause: error });
        }
        throw error;
      } finally {
        await client.close();
      }
      line = `Resumed "${vm.config.name}"`;
    }
    if (parsed.values.json) {
      const after = await services.registry.status(vm);
      context.stdout(
        JSON.stringify({ id: vm.id, name: vm.config.name, state: after.state }, null, 2),
      );
    } else {
      context.stdout(line);
    }
    return ExitCode.ok;
  },
};
