/** `nestbox create NAME --kernel FILE …`: a new VM in the library. */
import { open } from 'node:fs/promises';
import path from 'node:path';
import { LibraryError } from '../../services/library/library-error.ts';
import { vmLimits, type VmDisk } from '../../services/library/vm-config.ts';
import { DEFAULT_MEMORY_MIB, type CreateVmSpec } from '../../services/library/vm-library.ts';
import { formatBytes, parseImageSize } from '../../services/native/disk-image.ts';
import { loadNativeAddon } from '../../services/native/load-addon.ts';
import { ExitCode, UsageError, type Command } from '../command.ts';
import { parseCount, requireFile } from '../parse-options.ts';
import { parseVmCommand, vmServices } from '../vm-commands.ts';

const USAGE = [
  'Usage: nestbox create NAME --kernel FILE [--initrd FILE] [--append STR] [--cpus N]',
  '                      [--memory MiB] [--disk FILE | --disk-size SIZE] [--json]',
  '',
  'Makes a new VM in the library ($NESTBOX_HOME/vms, else ~/.local/share/nestbox/vms, or',
  'the folder chosen in Preferences): a folder holding its vm.json. The kernel, initrd and',
  'an existing disk stay where they are; the VM refers to them by absolute path.',
  '',
  'Options:',
  '  --kernel FILE     the kernel to boot: bzImage or ELF vmlinux (required)',
  '  --initrd FILE     an initial ramdisk',
  '  --append STR      the kernel command line',
  `  --cpus N          virtual CPUs, ${vmLimits.minCpus} to ${vmLimits.maxCpus} (default 1)`,
  `  --memory MiB      guest RAM, ${vmLimits.minMemoryMiB} to ${vmLimits.maxMemoryMiB} MiB (default ${DEFAULT_MEMORY_MIB})`,
  '  --disk FILE       an existing raw or qcow2 image as the first disk (/dev/vda)',
  '  --disk-size SIZE  a new empty qcow2 disk of SIZE (10G, 512M…) in the VM folder',
  '  --json            print the new VM as JSON: {"id", "name", "folder"}',
  '  --help            show this help',
  '',
  'The VM gets NAT networking and a 1024×768 display; change them in the app.',
  '',
  'Exit status:',
  '  0  created',
  '  1  failed (e.g. the new disk could not be made)',
  '  2  bad arguments: a missing file, a value out of range, an invalid name',
].join('\n');

const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]); // "QFI\xfb"

/** qcow2 by its magic, raw otherwise (a bad qcow2 is reported when the VM starts). */
async function detectDiskFormat(file: string): Promise<VmDisk['format']> {
  const handle = await open(file, 'r');
  try {
    const magic = Buffer.alloc(4);
    const { bytesRead } = await handle.read(magic, 0, 4, 0);
    return bytesRead === 4 && magic.equals(QCOW2_MAGIC) ? 'qcow2' : 'raw';
  } finally {
    await handle.close();
  }
}

export const createCommand: Command = {
  name: 'create',
  summary: 'Create a VM in the library from a kernel (and a disk)',
  usage: USAGE,

  async run(args, context) {
    const parsed = parseVmCommand(this.usage, args, context, ['NAME'], {
      kernel: { type: 'string' },
      initrd: { type: 'string' },
      append: { type: 'string' },
      cpus: { type: 'string' },
      memory: { type: 'string' },
      disk: { type: 'string' },
      'disk-size': { type: 'string' },
      json: { type: 'boolean' },
    });
    if (!parsed) return ExitCode.ok;
    const {
      values,
      positionals: [name = ''],
    } = parsed;
    if (values.kernel === undefined) throw new UsageError('--kernel FILE is required');
    if (values.disk !== undefined && values['disk-size'] !== undefined) {
      throw new UsageError('give --disk FILE or --disk-size SIZE, not both');
    }
    const cpus = parseCount('cpus', values.cpus, vmLimits.minCpus, vmLimits.maxCpus);
    const memoryMiB = parseCount(
      'memory',
      values.memory,
      vmLimits.minMemoryMiB,
      vmLimits.maxMemoryMiB,
    );
    let newDiskBytes: number | undefined;
    if (values['disk-size'] !== undefined) {
      newDiskBytes = parseImageSize(values['disk-size']);
      if (newDiskBytes === undefined || newDiskBytes < 1024 * 1024) {
        throw new UsageError(
          `--disk-size must be a size like 10G or 512M (at least 1M), not "${values['disk-size']}"`,
        );
      }
    }
    // Absolute: vm.json resolves relative paths against the VM folder.
    const absolute = (file: string | undefined) =>
      file === undefined ? undefined : path.resolve(file);
    const kernel = absolute(requireFile('kernel', values.kernel)) ?? '';
    const initrd = absolute(requireFile('initrd', values.initrd));
    const diskFile = absolute(requireFile('disk', values.disk));
    const disks: VmDisk[] = diskFile
      ? [{ file: diskFile, format: await detectDiskFormat(diskFile) }]
      : [];

    const services = await vmServices(context, {
      createDiskImage: (file, options) => loadNativeAddon().imageCreate(file, options),
    });
    const spec: CreateVmSpec = {
      name,
      boot: {
        kind: 'kernel',
        kernel,
        ...(initrd !== undefined ? { initrd } : {}),
        cmdline: values.append ?? '',
      },
      hardware: {
        ...(cpus !== undefined ? { cpus } : {}),
        ...(memoryMiB !== undefined ? { memoryMiB } : {}),
        ...(disks.length > 0 ? { disks } : {}),
      },
      ...(newDiskBytes !== undefined ? { newDisk: { sizeBytes: newDiskBytes } } : {}),
    };
    let vm;
    try {
      vm = await services.library.create(spec);
    } catch (error) {
      if (error instanceof LibraryError && error.code === 'invalid-request') {
        throw new UsageError(error.message.replace(/^The new VM is not valid:\n/, ''));
      }
      throw error;
    }
    if (values.json) {
      context.stdout(
        JSON.stringify({ id: vm.id, name: vm.config.name, folder: vm.folder }, null, 2),
      );
    } else {
      const hardware = vm.config.hardware;
      const disk =
        newDiskBytes !== undefined
          ? `, a new ${formatBytes(newDiskBytes)} disk`
          : diskFile
            ? `, disk ${diskFile}`
            : '';
      context.stdout(`Created "${vm.config.name}" (${vm.id}) in ${vm.folder}`);
      context.stdout(
        `  ${hardware.cpus} vCPU, ${hardware.memoryMiB} MiB${disk}; start it with \`nestbox start ${JSON.stringify(vm.config.name)}\``,
      );
    }
    return ExitCode.ok;
  },
};
