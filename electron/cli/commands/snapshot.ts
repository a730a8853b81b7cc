/**
 * `nestbox snapshot take|list|revert|delete|rename`: a VM's snapshot tree (docs/snapshots.md).
 * A running VM's request goes to its VM host (a take then saves memory too); a VM that is off
 * is handled here, on its disks.
 */
import { formatBytes } from '../../services/native/disk-image.ts';
import { loadNativeAddon } from '../../services/native/load-addon.ts';
import type { SnapshotNode, SnapshotTree } from '../../services/snapshots/snapshot-store.ts';
import { VmSnapshots } from '../../services/vm-host/vm-snapshots.ts';
import { ExitCode, UsageError, type CliContext, type Command } from '../command.ts';
import { NAME_HELP, lookupVm, parseVmCommand, vmServices } from '../vm-commands.ts';

const USAGE = [
  'Usage: nestbox snapshot take NAME SNAPSHOT [--description TEXT] [--json]',
  '       nestbox snapshot list NAME [--json]',
  '       nestbox snapshot revert NAME SNAPSHOT [--json]',
  '       nestbox snapshot delete NAME SNAPSHOT [--json]',
  '       nestbox snapshot rename NAME SNAPSHOT NEWNAME [--description TEXT] [--json]',
  '',
  'take    snapshots the VM. Running (or paused): its memory, devices and disks, so',
  '        reverting continues exactly there. Off: its disks.',
  'list    the tree of snapshots, oldest first, and where the VM is now ("you are here").',
  'revert  goes back to a snapshot: what the VM did since is discarded. A snapshot with',
  '        memory continues running (a VM that is off is left suspended there: starting',
  '        it continues the snapshot); a disk-only snapshot leaves the VM off.',
  'delete  removes a snapshot; its disk changes are merged into what depends on them, so',
  '        no other snapshot and not the current state lose anything. Prints the space',
  '        freed.',
  'rename  gives a snapshot a new name (and, with --description, a new description).',
  '',
  NAME_HELP,
  "SNAPSHOT is a snapshot's name (when only one has it) or its id (`snapshot list --json`).",
  '',
  'Exit status: 0 done, 1 failed (no such VM or snapshot, or the operation was refused:',
  'the message says why), 2 bad arguments.',
].join('\n');

const jsonOption = { json: { type: 'boolean' } } as const;
const describeOption = { description: { type: 'string' } } as const;

function printJson(context: CliContext, value: unknown): void {
  context.stdout(JSON.stringify(value, null, 2));
}

/** The tree as indented lines, the current position marked. */
export function formatSnapshotTree(tree: SnapshotTree): string[] {
  if (tree.nodes.length === 0) {
    return tree.suspended
      ? ['no snapshots', '(suspended: starting the VM continues its saved state)']
      : ['no snapshots'];
  }
  const byId = new Map(tree.nodes.map((node) => [node.id, node]));
  const lines: string[] = [];
  const visit = (node: SnapshotNode, depth: number) => {
    const marks = [
      node.kind === 'memory' ? 'with memory' : 'disks only',
      new Date(node.createdAt).toLocaleString('en-GB', { hour12: false }),
      ...(node.protectedBy.length > 0
        ? [`used by ${node.protectedBy.length} linked clone(s)`]
        : []),
    ];
    lines.push(`${'  '.repeat(depth)}${node.name}  (${marks.join(', ')})  ${node.id.slice(0, 8)}`);
    if (node.description) lines.push(`${'  '.repeat(depth + 1)}${node.description}`);
    if (tree.currentId === node.id) lines.push(`${'  '.repeat(depth + 1)}→ you are here`);
    for (const child of node.children) {
      const childNode = byId.get(child);
      if (childNode) visit(childNode, depth + 1);
    }
  };
  for (const root of tree.roots) {
    const node = byId.get(root);
    if (node) visit(node, 0);
  }
  if (tree.currentId === null) lines.push('→ you are here: before the first snapshot');
  if (tree.suspended) lines.push('(suspended: starting the VM continues its saved state)');
  if (tree.diskProblem) lines.push(`(disks changed: ${tree.diskProblem})`);
  if (tree.retainedLayers > 0) {
    lines.push(
      `(${tree.retainedLayers} disk layer(s) of deleted snapshots merge when the VM stops)`,
    );
  }
  return lines;
}

export const snapshotCommand: Command = {
  name: 'snapshot',
  summary: 'take, list, revert, delete and rename snapshots of a VM',
  usage: USAGE,

  async run(args, context) {
    const [subcommand, ...rest] = args;
    if (subcommand === undefined || subcommand === '--help' || subcommand === '-h') {
      context.stdout(USAGE);
      return subcommand === undefined ? ExitCode.usage : ExitCode.ok;
    }
    const services = await vmServices(context);
    const snapshots = new VmSnapshots(services, loadNativeAddon);
    switch (subcommand) {
      case 'take': {
        const parsed = parseVmCommand(USAGE, rest, context, ['NAME', 'SNAPSHOT'], {
          ...jsonOption,
          ...describeOption,
        });
        if (!parsed) return ExitCode.ok;
        const [name = '', snapshotName = ''] = parsed.positionals;
        const vm = await lookupVm(services, name);
        let lastPercent = -1;
        const result = await snapshots.take(vm, snapshotName, {
          ...(parsed.values.description === undefined
            ? {}
            : { description: parsed.values.description }),
          onProgress: (done, total) => {
            const percent = total > 0 ? Math.floor((done / total) * 100) : 100;
            if (!parsed.values.json && percent >= lastPercent + 25) {
              lastPercent = percent;
              context.stderr(`saving memory: ${percent}%`);
            }
          },
        });
        if (parsed.values.json) printJson(context, result);
        else {
          context.stdout(
            `took snapshot "${result.snapshot.name}" of "${vm.config.name}" ` +
              `(${result.withMemory ? 'with memory' : 'disks only'}; id ${result.snapshot.id})`,
          );
        }
        return ExitCode.ok;
      }
      case 'list': {
        const parsed = parseVmCommand(USAGE, rest, context, ['NAME'], jsonOption);
        if (!parsed) return ExitCode.ok;
        const vm = await lookupVm(services, parsed.positionals[0] ?? '');
        const tree = await snapshots.list(vm);
        if (parsed.values.json) printJson(context, tree);
        else for (const line of formatSnapshotTree(tree)) context.stdout(line);
        return ExitCode.ok;
      }
      case 'revert': {
        const parsed = parseVmCommand(USAGE, rest, context, ['NAME', 'SNAPSHOT'], jsonOption);
        if (!parsed) return ExitCode.ok;
        const [name = '', snapshot = ''] = parsed.positionals;
        const vm = await lookupVm(services, name);
        const result = await snapshots.revert(vm, snapshot);
        if (parsed.values.json) printJson(context, result);
        else {
          const after =
            result.state === 'running'
              ? 'it is running'
              : result.state === 'suspended'
                ? 'starting it continues the snapshot'
                : 'it is off';
          context.stdout(
            `"${vm.config.name}" reverted to snapshot "${result.snapshot.name}"; ${after}`,
          );
        }
        return ExitCode.ok;
      }
      case 'delete': {
        const parsed = parseVmCommand(USAGE, rest, context, ['NAME', 'SNAPSHOT'], jsonOption);
        if (!parsed) return ExitCode.ok;
        const [name = '', snapshot = ''] = parsed.positionals;
        const vm = await lookupVm(services, name);
        const result = await snapshots.delete(vm, snapshot);
        if (parsed.values.json) printJson(context, result);
        else {
          const waiting =
            result.retainedLayers > 0
              ? `; ${result.retainedLayers} disk layer(s) merge when the VM stops`
              : '';
          context.stdout(
            `deleted snapshot "${result.snapshot.name}": ${formatBytes(result.freedBytes)} freed${waiting}`,
          );
        }
        return ExitCode.ok;
      }
      case 'rename': {
        const parsed = parseVmCommand(USAGE, rest, context, ['NAME', 'SNAPSHOT', 'NEWNAME'], {
          ...jsonOption,
          ...describeOption,
        });
        if (!parsed) return ExitCode.ok;
        const [name = '', snapshot = '', newName = ''] = parsed.positionals;
        const vm = await lookupVm(services, name);
        const node = await snapshots.rename(vm, snapshot, {
          name: newName,
          ...(parsed.values.description === undefined
            ? {}
            : { description: parsed.values.description }),
        });
        if (parsed.values.json) printJson(context, node);
        else context.stdout(`renamed snapshot ${node.id.slice(0, 8)} to "${node.name}"`);
        return ExitCode.ok;
      }
      default:
        throw new UsageError(`unknown snapshot command "${subcommand}"`);
    }
  },
};
