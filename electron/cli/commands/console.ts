/**
 * `nestbox console NAME`: this terminal on a running VM's serial port (COM1), through its VM
 * host. Detaching leaves the VM running. Escape handling is `nestbox run`'s (EscapeFilter),
 * with Ctrl-A x meaning "detach" here rather than "power off".
 */
import type { LibraryVm } from '../../services/library/vm-library.ts';
import type { LastExit } from '../../services/vm-host/protocol.ts';
import { VmHostError, type VmHostClient } from '../../services/vm-host/vm-host-client.ts';
import { ExitCode, UsageError, type CliContext, type Command } from '../command.ts';
import { NAME_HELP, connectToVm, lookupVm, parseVmCommand, vmServices } from '../vm-commands.ts';
import { EscapeFilter } from './run.ts';

const DEFAULT_LINGER_SECONDS = 1;
/** Serial input per request: well under the protocol's limit, so a paste streams steadily. */
const INPUT_CHUNK_BYTES = 64 * 1024;
const RETRY_MS = 20;

const USAGE = [
  'Usage: nestbox console NAME [--linger SECONDS]',
  '',
  "Connects this terminal to a running VM's serial console (COM1): what the guest writes",
  'appears on stdout, and stdin goes to the guest. Several consoles may be attached to one',
  'VM at once; each sees all output. Detaching leaves the VM running.',
  NAME_HELP,
  '',
  'When stdin is a terminal it is put in raw mode (restored on exit), so every key, Ctrl-C',
  'included, goes to the guest. Escape sequences:',
  '  Ctrl-A x        detach (the VM keeps running)',
  '  Ctrl-A h        list the escape sequences',
  '  Ctrl-A Ctrl-A   send one Ctrl-A to the guest',
  'When stdin is not a terminal (a pipe or a file), its end detaches once everything was',
  'delivered and the guest has been quiet for --linger seconds, so',
  '`echo uname -a | nestbox console NAME` prints the answer and returns.',
  '',
  'Options:',
  `  --linger SECONDS  after the end of non-terminal input, wait until the guest has been`,
  `                    quiet this long (default ${DEFAULT_LINGER_SECONDS}; 0 detaches at once)`,
  '  --help            show this help',
  '',
  'Exit status:',
  '  0  detached, or the VM powered off while attached',
  '  1  the VM is not running (or no such VM), the VM failed, or the connection to its',
  '     VM host was lost',
  '  2  bad arguments',
  '  130, 143  SIGINT, SIGTERM (the VM keeps running)',
].join('\n');

const ESCAPE_HELP = [
  'nestbox console: Ctrl-A x  detach (the VM keeps running)',
  'nestbox console: Ctrl-A h  this help',
  'nestbox console: Ctrl-A Ctrl-A  send Ctrl-A to the guest',
].join('\r\n');

type Outcome =
  | { kind: 'detached' }
  | { kind: 'vm-ended'; exit: LastExit }
  | { kind: 'lost'; error?: VmHostError }
  | { kind: 'signal'; signal: string };

function parseLinger(value: string | undefined): number {
  if (value === undefined) return DEFAULT_LINGER_SECONDS;
  const seconds = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || seconds > 3600) {
    throw new UsageError(`--linger must be a number of seconds from 0 to 3600, not "${value}"`);
  }
  return seconds;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Sends bytes in chunks, waiting while the host's input queue is full. */
async function sendInput(client: VmHostClient, bytes: Uint8Array): Promise<void> {
  for (let offset = 0; offset < bytes.byteLength;) {
    const chunk = bytes.subarray(offset, offset + INPUT_CHUNK_BYTES);
    try {
      await client.call('sendSerial', { base64: Buffer.from(chunk).toString('base64') });
      offset += chunk.byteLength;
    } catch (error) {
      if (error instanceof VmHostError && error.code === 'input-full') {
        await sleep(RETRY_MS);
        continue;
      }
      throw error;
    }
  }
}

async function attach(
  client: VmHostClient,
  vm: LibraryVm,
  lingerSeconds: number,
  context: CliContext,
): Promise<Outcome> {
  const input = process.stdin;
  const rawMode = input.isTTY;
  const escape = new EscapeFilter();
  let lastOutputAt = performance.now();
  let vmExit: LastExit | undefined;
  let settle!: (outcome: Outcome) => void;
  const outcome = new Promise<Outcome>((resolve) => (settle = resolve));

  client.onSerial((bytes) => {
    lastOutputAt = performance.now();
    process.stdout.write(bytes);
  });
  client.on('exit', (exit) => (vmExit = exit));
  void client.closed.then((error) =>
    settle(
      vmExit ? { kind: 'vm-ended', exit: vmExit } : { kind: 'lost', ...(error ? { error } : {}) },
    ),
  );
  const onAbort = () => settle({ kind: 'signal', signal: String(context.shutdown.reason) });
  context.shutdown.addEventListener('abort', onAbort, { once: true });

  // Input goes one request at a time; stdin pauses meanwhile, so a paste cannot pile up.
  let sending = Promise.resolve();
  const onData = (chunk: Buffer) => {
    const { forward, actions } = escape.feed(chunk);
    if (forward.length > 0) {
      input.pause();
      sending = sending
        .then(() => sendInput(client, forward))
        .then(
          () => {
            input.resume();
          },
          () => undefined, // the connection is gone: `closed` says how
        );
    }
    for (const action of actions) {
      if (action === 'quit') settle({ kind: 'detached' });
      else process.stderr.write(`\r\n${ESCAPE_HELP}\r\n`);
    }
  };
  const onEnd = () => {
    void (async () => {
      await sending;
      // Delivered to the host; now wait for the guest to read it, then for it to go quiet.
      try {
        while ((await client.call('status')).serialInputQueued > 0) await sleep(RETRY_MS);
      } catch {
        return; // the connection is gone: `closed` settles
      }
      const drainedAt = performance.now();
      const lingerMs = lingerSeconds * 1000;
      for (;;) {
        const quietFor = performance.now() - Math.max(lastOutputAt, drainedAt);
        if (quietFor >= lingerMs) break;
        await sleep(Math.max(10, lingerMs - quietFor));
      }
      settle({ kind: 'detached' });
    })();
  };

  if (rawMode) {
    input.setRawMode(true);
    process.stderr.write(
      `Connected to "${vm.config.name}" (serial console). Ctrl-A x detaches, Ctrl-A h lists the keys.\r\n`,
    );
  }
  input.on('data', onData);
  input.on('end', onEnd);
  input.on('error', onEnd);
  input.resume();
  try {
    return await outcome;
  } finally {
    context.shutdown.removeEventListener('abort', onAbort);
    input.off('data', onData);
    input.off('end', onEnd);
    input.off('error', onEnd);
    if (rawMode) input.setRawMode(false);
    input.pause();
    // Without this an open TTY or pipe keeps the process alive after detaching.
    input.destroy();
  }
}

export const consoleCommand: Command = {
  name: 'console',
  summary: "Attach this terminal to a running VM's serial console",
  usage: USAGE,

  async run(args, context) {
    const parsed = parseVmCommand(this.usage, args, context, ['NAME'], {
      linger: { type: 'string' },
    });
    if (!parsed) return ExitCode.ok;
    const {
      values,
      positionals: [name = ''],
    } = parsed;
    const lingerSeconds = parseLinger(values.linger);
    const services = await vmServices(context);
    const vm = await lookupVm(services, name);
    const client = await connectToVm(services, vm);
    let outcome: Outcome;
    try {
      await client.call('subscribe', { serial: true });
      outcome = await attach(client, vm, lingerSeconds, context);
    } finally {
      await Promise.race([client.close(), sleep(1000)]);
      client.destroy();
    }
    const newline = process.stdin.isTTY ? '\r\n' : '';
    switch (outcome.kind) {
      case 'detached':
        if (process.stdin.isTTY)
          context.stderr(`${newline}nestbox console: detached; "${vm.config.name}" keeps running`);
        return ExitCode.ok;
      case 'vm-ended': {
        const { exit } = outcome;
        const failed = exit.state === 'error';
        context.stderr(
          `${newline}nestbox console: "${vm.config.name}" ${failed ? 'failed' : 'stopped'} (${exit.reason})` +
            (exit.error ? `: ${exit.error.message}` : ''),
        );
        return failed ? ExitCode.failure : ExitCode.ok;
      }
      case 'lost':
        context.stderr(
          `${newline}nestbox console: lost the connection to the VM host of "${vm.config.name}"` +
            (outcome.error ? `: ${outcome.error.message}` : ''),
        );
        return ExitCode.failure;
      case 'signal':
        return outcome.signal === 'SIGTERM' ? ExitCode.terminated : ExitCode.interrupted;
    }
  },
};
