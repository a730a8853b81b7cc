/** `nestbox clone NAME NEWNAME [--linked] [--snapshot SNAPSHOT]`: a new VM from another. */
import { loadNativeAddon } from '../../services/native/load-addon.ts';
import { cloneVm } from '../../services/vm-host/vm-clone.ts';
import { isActive } from '../../services/vm-host/vm-host-registry.ts';
import { VmSnapshots } from '../../services/vm-host/vm-snapshots.ts';
import { ExitCode, type Command } from '../command.ts';
import { NAME_HELP, VM_EXIT_STATUS, lookupVm, parseVmCommand, vmServices } from '../vm-commands.ts';

export const cloneCommand: Command = {
  name: 'clone',
  summary: 'Make a new VM from another: a full copy, or a linked clone of a snapshot',
  usage: [
    'Usage: nestbox clone NAME NEWNAME [--snapshot SNAPSHOT] [--linked] [--json]',
    '',
    'Makes a new VM named NEWNAME with the hardware and boot settings of NAME, a new id and',
    'MAC address, and disks of its own:',
    '  full (default)  every disk copied into one standalone file: the current state (NAME',
    "                  must be off) or, with --snapshot, that snapshot's",
    "  --linked        made at once: each disk starts as an empty overlay on the snapshot's",
    '                  disk layers, which stay shared; that snapshot cannot be deleted',
    '                  while the clone exists. Needs --snapshot.',
    NAME_HELP,
    '',
    'Options:',
    '  --snapshot SNAPSHOT  clone this snapshot (its name or id)',
    '  --linked             a linked clone',
    '  --json               print the new VM as JSON: {"id", "name", "folder"}',
    '  --help               show this help',
    '',
    VM_EXIT_STATUS,
  ].join('\n'),

  async run(args, context) {
    const parsed = parseVmCommand(this.usage, args, context, ['NAME', 'NEWNAME'], {
      json: { type: 'boolean' },
      linked: { type: 'boolean' },
      snapshot: { type: 'string' },
    });
    if (!parsed) return ExitCode.ok;
    const [name = '', newName = ''] = parsed.positionals;
    const { values } = parsed;
    const services = await vmServices(context, {
      createDiskImage: (file, options) => loadNativeAddon().imageCreate(file, options),
    });
    const source = await lookupVm(services, name);
    const status = await services.registry.status(source);
    const running = isActive(status.state);
    const snapshots = new VmSnapshots(services, loadNativeAddon);
    const store = await snapshots.openStore(source, { running });
    let lastPercent = -1;
    const clone = await cloneVm(
      {
        library: services.library,
        addon: loadNativeAddon,
        store,
        sourceRunning: running,
        protect: (snapshotId, cloneVmId) => snapshots.protect(source, snapshotId, cloneVmId, true),
      },
      source,
      newName,
      {
        ...(values.linked ? { linked: true } : {}),
        ...(values.snapshot === undefined ? {} : { snapshot: values.snapshot }),
        onProgress: (done, total) => {
          const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
          if (!values.json && percent >= lastPercent + 10) {
            lastPercent = percent;
            context.stderr(`copying disks: ${percent}%`);
          }
        },
      },
    );
    if (values.json) {
      context.stdout(
        JSON.stringify({ id: clone.id, name: clone.config.name, folder: clone.folder }, null, 2),
      );
    } else {
      context.stdout(
        `Cloned "${source.config.name}" as "${clone.config.name}" ` +
          `(${values.linked ? 'linked' : 'full'}; ${clone.folder})`,
      );
    }
    return ExitCode.ok;
  },
};
