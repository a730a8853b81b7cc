/** `nestbox list`: every VM in the library with its state. */
import type { LastExit } from '../../services/vm-host/protocol.ts';
import type { VmRunState } from '../../services/vm-host/vm-host-registry.ts';
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

export interface ListedVm {
  name: string;
  id: string;
  folder: string;
  state: VmRunState;
  pid?: number;
  detail?: string;
  lastExit?: LastExit;
}

function stateText(vm: ListedVm): string {
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
      help: { type: 'boolean' },
    });
    if (!parsed) return ExitCode.ok;
    const { values } = parsed;
    const services = await vmServices(context);
    const listing = await services.library.list();
    const vms: ListedVm[] = [];
    const broken: { folder: string; code: string; message: string }[] = [];
    await Promise.all(
      listing.entries.map(async (entry, index) => {
        if (entry.status === 'broken') {
          broken[index] = {
            folder: entry.folder,
            code: entry.problem.code,
            message: entry.problem.message,
          };
          return;
        }
        const status = await services.registry.status(entry);
        vms[index] = {
          name: entry.config.name,
          id: entry.id,
          folder: entry.folder,
          state: status.state,
          ...(status.pid !== undefined ? { pid: status.pid } : {}),
          ...(status.detail !== undefined ? { detail: status.detail } : {}),
          ...(status.lastExit !== undefined ? { lastExit: status.lastExit } : {}),
        };
      }),
    );
    const listed = vms.filter(Boolean);
    const brokenListed = broken.filter(Boolean);

    if (values.json) {
      context.stdout(
        JSON.stringify(
          {
            root: listing.root,
            vms: listed,
            broken: brokenListed,
            ...(listing.registryProblem ? { registryProblem: listing.registryProblem } : {}),
          },
          null,
          2,
        ),
      );
      return ExitCode.ok;
    }

    if (listed.length === 0 && brokenListed.length === 0) {
      context.stdout(`No VMs in ${listing.root}. Make one with \`nestbox create\`.`);
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
    if (listing.registryProblem) context.stderr(`nestbox list: ${listing.registryProblem}`);
    return ExitCode.ok;
  },
};
