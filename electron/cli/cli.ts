/**
 * `nestbox [--help | --version] <command> [options]`: global options, then dispatch to one
 * command. Separate from the entry point so tests run it with captured output.
 */
import { ExitCode, UsageError, type CliContext, type Command } from './command.ts';
import { parseOptions } from './parse-options.ts';

export function helpText(commands: readonly Command[]): string {
  const width = Math.max(...commands.map((command) => command.name.length));
  return [
    'Usage: nestbox [--help | --version] <command> [options]',
    '',
    'Nestbox: virtual machines on KVM, from the desktop app or the command line.',
    '',
    'Commands:',
    ...commands.map((command) => `  ${command.name.padEnd(width)}  ${command.summary}`),
    '',
    'Options:',
    '  -h, --help     show this help; `nestbox <command> --help` for one command',
    '  -V, --version  print the Nestbox version',
    '',
    'Exit codes:',
    '  0  success',
    '  1  failure (the message says what went wrong)',
    '  2  bad command line arguments',
  ].join('\n');
}

export async function runCli(
  argv: readonly string[],
  commands: readonly Command[],
  context: CliContext,
): Promise<ExitCode> {
  // Global options come before the command name; everything after belongs to the command.
  const commandIndex = argv.findIndex((arg) => !arg.startsWith('-'));
  const globalArgs = commandIndex === -1 ? argv : argv.slice(0, commandIndex);
  const commandName = commandIndex === -1 ? undefined : argv[commandIndex];
  const commandArgs = commandIndex === -1 ? [] : argv.slice(commandIndex + 1);

  let command: Command | undefined;
  try {
    const { values } = parseOptions(globalArgs, {
      help: { type: 'boolean', short: 'h' },
      version: { type: 'boolean', short: 'V' },
    });
    if (values.help) {
      context.stdout(helpText(commands));
      return ExitCode.ok;
    }
    if (values.version) {
      context.stdout(context.appVersion);
      return ExitCode.ok;
    }
    if (commandName === undefined) throw new UsageError('no command given');

    command = commands.find((candidate) => candidate.name === commandName);
    if (!command) throw new UsageError(`unknown command "${commandName}"`);
    return await command.run(commandArgs, context);
  } catch (error) {
    if (error instanceof UsageError) {
      context.stderr(`nestbox: ${error.message}`);
      context.stderr(
        command
          ? `Run \`nestbox ${command.name} --help\` or \`nestbox --help\`.`
          : 'Run `nestbox --help`.',
      );
      return ExitCode.usage;
    }
    context.stderr(`nestbox: ${error instanceof Error ? error.message : String(error)}`);
    return ExitCode.failure;
  }
}
