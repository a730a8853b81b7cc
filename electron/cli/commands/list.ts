/** `nestbox list`: every VM in the library with its state. */
import type { VmSummary } from '../../common/vm-list.ts';
import { listVms } from '../../services/vm-host/vm-services.ts';
import { ExitCode, type Command } from '../command.ts';
import { parseVmCommand, vmServices } from '../vm-commands.ts';

const USAGE = [
  'Usage: nestbox list [--json]',
  '',
  'Lists the VMs in the library with their state:',
  '  off           not running (a failed start shows its reason)',
  '  running       running in its own VM host process',
  '  paused        running, with its vCPUs paused',
  '  crashed       the VM failed, or its VM host died; its log is in <folder>/logs/vm.log',
  '  unresponsive  a VM host holds it but does not answer',
  'Folders that are not usable VMs are listed after them with the reason.',
  '',
  'Options:',
  '  --json   print {"root", "vms": [{"name", "id", "folder", "state", "pid"?, "detail"?,',
  '           "lastExit"?}], "broken": [{"folder", "code", "message"}]}',
  '  --help   show this help',
  '',
  'Exit status: 0 listed (broken VMs included), 1 the library cannot be read, 2 bad arguments.',
].join('\n');

function stateText(vm: VmSummary): string {
  if (vm.state === 'off' && vm.lastExit?.state === 'start-failed') return 'off (start failed)';
  return vm.state;
}

function table(rows: string[][]): string[] {
  const widths = rows[0]?.map((_, column) =>
    Math.max(...rows.map((row) => row[column]?.length ?? 0)),
  );
  return rows.map((row) =>
    row
      .map((cell, column) =>
        column === row.length - 1 ? cell : cell.padEnd(widths?.[column] ?? 0),
      )
      .join('  ')
      .trimEnd(),
  );
}

export const listCommand: Command = {
  name: 'list',
  summary: 'List the VMs in the library and whether they run',
  usage: USAGE,

  async run(args, context) {
    const parsed = parseVmCommand(this.usage, args, context, [], {
      json: { type: 'boolean' },
    });
    if (!parsed) return ExitCode.ok;
    const { values } = parsed;
    const list = await listVms(await vmServices(context));
    const listed = list.vms;
    const brokenListed = list.broken;

    if (values.json) {
      context.stdout(JSON.stringify(list, null, 2));
      return ExitCode.ok;
    }

    if (listed.length === 0 && brokenListed.length === 0) {
      context.stdout(`No VMs in ${list.root}. Make one with \`nestbox create\`.`);
    }
    if (listed.length > 0) {
      for (const line of table([
        ['NAME', 'STATE', 'ID'],
        ...listed.map((vm) => [vm.name, stateText(vm), vm.id]),
      ])) {
        context.stdout(line);
      }
      for (const vm of listed) {
        if (vm.detail !== undefined && vm.state !== 'off')
          context.stdout(`  ${vm.name}: ${vm.detail}`);
        else if (vm.lastExit?.state === 'start-failed' && vm.lastExit.error) {
          context.stdout(`  ${vm.name}: the last start failed: ${vm.lastExit.error.message}`);
        }
      }
    }
    if (brokenListed.length > 0) {
      context.stdout('');
      context.stdout('Not usable:');
      for (const entry of brokenListed) {
        context.stdout(`  ${entry.folder}`);
        for (const line of entry.message.split('\n')) context.stdout(`    ${line}`);
      }
    }
    if (list.registryProblem) context.stderr(`nestbox list: ${list.registryProblem}`);
    return ExitCode.ok;
  },
};
