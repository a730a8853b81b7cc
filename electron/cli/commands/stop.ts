/** `nestbox stop NAME [--force]`: asks the guest to shut down (ACPI), or powers the VM off. */
import type { LastExit } from '../../services/vm-host/protocol.ts';
import { ExitCode, UsageError, type Command } from '../command.ts';
import { NAME_HELP, connectToVm, lookupVm, parseVmCommand, vmServices } from '../vm-commands.ts';

const DEFAULT_TIMEOUT_SECONDS = 60;
/** After a hard power off, how long the host may take to clean up and exit. */
const FORCE_WAIT_MS = 15_000;

const USAGE = [
  'Usage: nestbox stop NAME [--force] [--timeout SECONDS] [--json]',
  '',
  'Shuts the VM down: presses its ACPI power button, so the guest OS shuts down cleanly,',
  'and waits for the VM to power off. A paused VM is resumed first so the guest can act.',
  'With --force the VM is powered off at once, like pulling the plug: the guest gets no',
  'chance to save anything. Stopping a VM that is not running does nothing.',
  NAME_HELP,
  '',
  'Options:',
  '  --force            power off at once (a VM host that does not answer is killed)',
  `  --timeout SECONDS  how long to wait for the guest (default ${DEFAULT_TIMEOUT_SECONDS})`,
  '  --json             print {"id", "name", "state", "reason"}',
  '  --help             show this help',
  '',
  'Exit status:',
  '  0    the VM is off (or was not running)',
  '  1    failed: no such VM, or its VM host does not answer (use --force)',
  '  2    bad arguments',
  '  124  the guest did not shut down in time (it may ignore the power button; use --force)',
  '  130, 143  interrupted by SIGINT, SIGTERM (the VM keeps running)',
].join('\n');

function parseTimeout(value: string | undefined): number {
  if (value === undefined) return DEFAULT_TIMEOUT_SECONDS;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds <= 0 || seconds > 24 * 3600) {
    throw new UsageError(`--timeout must be a positive number of seconds, not "${value}"`);
  }
  return seconds;
}

export const stopCommand: Command = {
  name: 'stop',
  summary: 'Shut a VM down (ACPI power button), or power it off with --force',
  usage: USAGE,

  async run(args, context) {
    const parsed = parseVmCommand(this.usage, args, context, ['NAME'], {
      force: { type: 'boolean' },
      timeout: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (!parsed) return ExitCode.ok;
    const {
      values,
      positionals: [name = ''],
    } = parsed;
    const timeoutSeconds = parseTimeout(values.timeout);
    const services = await vmServices(context);
    const vm = await lookupVm(services, name);
    const report = (exit: Pick<LastExit, 'state' | 'reason'> | undefined, line: string) => {
      if (values.json) {
        context.stdout(
          JSON.stringify(
            {
              id: vm.id,
              name: vm.config.name,
              state: exit?.state === 'error' ? 'crashed' : 'off',
              reason: exit?.reason ?? null,
            },
            null,
            2,
          ),
        );
      } else {
        context.stdout(line);
      }
    };

    const status = await services.registry.status(vm);
    if (status.state === 'off' || status.state === 'crashed') {
      report(status.lastExit, `"${vm.config.name}" is not running`);
      return ExitCode.ok;
    }
    if (status.state === 'unresponsive') {
      if (!values.force || status.pid === undefined) {
        throw new Error(
          `"${vm.config.name}": ${status.detail ?? 'its VM host does not answer'}; ` +
            '`nestbox stop --force` kills it',
        );
      }
      process.kill(status.pid, 'SIGKILL');
      report(undefined, `Killed the VM host of "${vm.config.name}" (pid ${status.pid})`);
      return ExitCode.ok;
    }

    const client = await connectToVm(services, vm);
    let exit: LastExit | undefined;
    client.on('exit', (data) => (exit = data));
    try {
      if (values.force) {
        await client.call('powerOff');
        await Promise.race([client.closed, delay(FORCE_WAIT_MS)]);
      } else {
        if ((await client.call('status')).state === 'paused') await client.call('resume');
        await client.call('powerButton');
        let onAbort: () => void = () => undefined;
        const interrupted = new Promise<'interrupted'>((resolve) => {
          onAbort = () => resolve('interrupted');
          context.shutdown.addEventListener('abort', onAbort, { once: true });
        });
        const outcome = await Promise.race([
          client.closed.then(() => 'stopped' as const),
          delay(timeoutSeconds * 1000).then(() => 'timeout' as const),
          interrupted,
        ]);
        context.shutdown.removeEventListener('abort', onAbort);
        if (outcome === 'timeout') {
          context.stderr(
            `nestbox stop: "${vm.config.name}" did not power off within ${timeoutSeconds} s; ` +
              'the guest may ignore the power button. `nestbox stop --force` powers it off.',
          );
          return ExitCode.timeout;
        }
        if (outcome === 'interrupted') {
          return context.shutdown.reason === 'SIGTERM' ? ExitCode.terminated : ExitCode.interrupted;
        }
      }
    } finally {
      client.destroy();
    }
    const how = exit ? `${exit.reason}${exit.error ? `: ${exit.error.message}` : ''}` : 'stopped';
    report(exit, `Stopped "${vm.config.name}" (${how})`);
    return ExitCode.ok;
  },
};

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
