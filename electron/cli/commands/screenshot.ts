/** `nestbox screenshot NAME FILE.png`: the VM's screen as a PNG file. */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
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

/** Width and height from a PNG's IHDR chunk (bytes 16–23). */
function pngSize(png: Uint8Array): { width: number; height: number } | undefined {
  if (png.byteLength < 24) return undefined;
  const view = Buffer.from(png.buffer, png.byteOffset, png.byteLength);
  return { width: view.readUInt32BE(16), height: view.readUInt32BE(20) };
}

export const screenshotCommand: Command = {
  name: 'screenshot',
  summary: "Save a running VM's screen as a PNG file",
  usage: [
    'Usage: nestbox screenshot NAME FILE.png [--json]',
    '',
    "Saves what the VM's display shows now as a PNG file (replacing FILE if it exists).",
    'A headless VM, or one whose display is off, has nothing to capture.',
    NAME_HELP,
    '',
    'Options:',
    '  --json   print {"file", "width", "height", "bytes"}',
    '  --help   show this help',
    '',
    VM_EXIT_STATUS,
  ].join('\n'),

  async run(args, context) {
    const parsed = parseVmCommand(this.usage, args, context, ['NAME', 'FILE'], {
      json: { type: 'boolean' },
    });
    if (!parsed) return ExitCode.ok;
    const {
      values,
      positionals: [name = '', file = ''],
    } = parsed;
    const services = await vmServices(context);
    const vm = await lookupVm(services, name);
    const client = await connectToVm(services, vm);
    let png: Uint8Array;
    try {
      png = await client.call('screenshot');
    } catch (error) {
      if (error instanceof VmHostError) {
        throw new Error(`cannot capture "${vm.config.name}": ${error.message}`, { cause: error });
      }
      throw error;
    } finally {
      client.destroy();
    }
    const target = path.resolve(file);
    await writeFile(target, png);
    const size = pngSize(png);
    if (values.json) {
      context.stdout(
        JSON.stringify(
          { file: target, width: size?.width, height: size?.height, bytes: png.byteLength },
          null,
          2,
        ),
      );
    } else {
      const dimensions = size ? `${size.width}×${size.height} ` : '';
      context.stdout(`Saved a ${dimensions}screenshot of "${vm.config.name}" to ${target}`);
    }
    return ExitCode.ok;
  },
};
