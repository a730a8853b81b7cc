/**
 * What the VM commands (create, list, start, stop, pause, resume, reset, console, screenshot,
 * delete) share: argument parsing with a NAME, the library and VM hosts for this environment,
 * finding a VM by name or id, and reaching its running host.
 */
import type { ParseArgsConfig } from 'node:util';
import type { LibraryVm } from '../services/library/vm-library.ts';
import type { VmHostClient } from '../services/vm-host/vm-host-client.ts';
import { VmHostError } from '../services/vm-host/vm-host-client.ts';
import {
  VmLookupError,
  findVm,
  openVmServices,
  type VmServices,
  type VmServicesOptions,
} from '../services/vm-host/vm-services.ts';
import { ExitCode, UsageError, type CliContext, type Command } from './command.ts';
import { parseOptions } from './parse-options.ts';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * A VM command's arguments: `options`, `--help`, and exactly the
 * positionals `names`. Parse errors and wrong positionals become UsageError (exit status 2).
 * Returns null when `--help` was given, after printing `usage`.
 */
export function parseVmCommand<O extends Options>(
  usage: string,
  args: readonly string[],
  context: CliContext,
  names: readonly string[],
  options: O,
) {
  const { values, positionals } = parseOptions(
    args,
    { ...options, help: { type: 'boolean' } } as const,
    { allowPositionals: true },
  );
  if ((values as { help?: boolean }).help) {
    context.stdout(usage);
    return null;
  }
  if (positionals.length < names.length) {
    throw new UsageError(`${names.slice(positionals.length).join(' and ')} required`);
  }
  if (positionals.length > names.length) {
    throw new UsageError(`unexpected argument "${positionals[names.length]}"`);
  }
  return { values, positionals };
}

/** The library and hosts, for the CLI's environment (NESTBOX_HOME, XDG_RUNTIME_DIR…). */
export function vmServices(
  context: CliContext,
  options: Omit<VmServicesOptions, 'env'> = {},
): Promise<VmServices> {
  return openVmServices({ env: context.env, ...options });
}

/** The VM `nameOrId` names; an Error (exit status 1) saying why when there is none. */
export async function lookupVm(services: VmServices, nameOrId: string): Promise<LibraryVm> {
  const listing = await services.library.list();
  try {
    return findVm(listing, nameOrId);
  } catch (error) {
    if (error instanceof VmLookupError && error.code === 'broken') {
      throw new Error(`"${nameOrId}" cannot be used: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

/** A client of the VM's running host; an Error saying the VM is not running otherwise. */
export async function connectToVm(services: VmServices, vm: LibraryVm): Promise<VmHostClient> {
  try {
    return await services.registry.connect(vm);
  } catch (error) {
    if (error instanceof VmHostError && error.code === 'not-running') {
      const status = await services.registry.status(vm);
      const why = status.state === 'crashed' && status.detail ? ` (${status.detail})` : '';
      throw new Error(`"${vm.config.name}" is not running${why}`, { cause: error });
    }
    throw error;
  }
}

export const VM_EXIT_STATUS = [
  'Exit status:',
  '  0  done',
  '  1  failed: no such VM, the VM is not running, or its VM host refused (the',
  '     message says why)',
  '  2  bad arguments',
].join('\n');

export const NAME_HELP =
  "NAME is the VM's name or its id (or 4+ leading characters of the id); `nestbox list` shows both.";

/**
 * A command that asks a running VM's host one thing: `nestbox pause|resume|reset NAME`.
 * `act` returns the line to print.
 */
export function hostActionCommand(spec: {
  name: string;
  summary: string;
  description: string;
  act: (client: VmHostClient, vm: LibraryVm) => Promise<string>;
}): Command {
  return {
    name: spec.name,
    summary: spec.summary,
    usage: [
      `Usage: nestbox ${spec.name} NAME [--json]`,
      '',
      spec.description,
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
      const {
        values,
        positionals: [name],
      } = parsed;
      const services = await vmServices(context);
      const vm = await lookupVm(services, name ?? '');
      const client = await connectToVm(services, vm);
      try {
        const line = await spec.act(client, vm);
        if (values.json) {
          const status = await client.call('status');
          context.stdout(
            JSON.stringify({ id: vm.id, name: vm.config.name, state: status.state }, null, 2),
          );
        } else {
          context.stdout(line);
        }
      } catch (error) {
        if (error instanceof VmHostError) {
          throw new Error(`${spec.name} "${vm.config.name}": ${error.message}`, { cause: error });
        }
        throw error;
      } finally {
        await client.close();
      }
      return ExitCode.ok;
    },
  };
}
