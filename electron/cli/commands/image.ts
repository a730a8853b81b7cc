/**
 * `nestbox image create|info|check`: disk images through Nestbox's own block layer
 * (native/src/block), in the spirit of `qemu-img`.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import path from 'node:path';
import { loadNativeAddon } from '../../services/native/load-addon.ts';
import {
  formatBytes,
  parseImageSize,
  type DiskImageError,
  type DiskImageFormat,
  type ImageInfo,
} from '../../services/native/disk-image.ts';
import type { NativeAddon } from '../../services/native/native-addon.ts';
import { ExitCode, UsageError, type CliContext, type Command } from '../command.ts';

const USAGE = [
  'Usage: nestbox image create FILE --size SIZE [--format qcow2|raw] [--backing FILE]',
  '                            [--backing-format qcow2|raw] [--cluster-size SIZE]',
  '       nestbox image info FILE [--json]',
  '       nestbox image check FILE [--json]',
  '',
  'create  makes a new image (never replaces an existing file). SIZE: 10G, 512M, 64K or',
  '        bytes (binary units). qcow2 (the default) may have a backing file: the new',
  '        image then starts as a copy-on-write overlay of it, and --size defaults to the',
  "        backing file's size. A relative backing path is relative to FILE's folder.",
  'info    prints the format, virtual size, bytes allocated on disk, cluster size, the',
  '        backing chain with formats, and the dirty/corrupt flags.',
  'check   rebuilds the reference counts of a qcow2 image from its metadata and compares',
  '        them with the stored ones (like `qemu-img check`, without repairing).',
  '',
  'Exit status of check: 0 clean, 2 corruptions found, 3 only leaked clusters (harmless',
  'wasted space), 1 the image cannot be read. Other commands: 0 done, 1 failed,',
  '2 bad arguments.',
].join('\n');

type Options = NonNullable<ParseArgsConfig['options']>;

function parse<O extends Options>(args: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: true });
  } catch (error) {
    if (error instanceof TypeError && 'code' in error) throw new UsageError(error.message);
    throw error;
  }
}

function onlyFile(positionals: string[], subcommand: string): string {
  const [file, ...rest] = positionals;
  if (file === undefined) throw new UsageError(`image ${subcommand}: FILE is required`);
  if (rest.length > 0)
    throw new UsageError(`image ${subcommand}: unexpected argument "${rest[0]}"`);
  return file;
}

function parseFormat(value: string | undefined, option: string): DiskImageFormat | undefined {
  if (value === undefined) return undefined;
  if (value !== 'qcow2' && value !== 'raw') {
    throw new UsageError(`${option} must be qcow2 or raw, not "${value}"`);
  }
  return value;
}

function parseSize(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const bytes = parseImageSize(value);
  if (bytes === undefined) {
    throw new UsageError(`${option} must be a size like 10G, 512M or 65536, not "${value}"`);
  }
  return bytes;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function create(args: readonly string[], context: CliContext, addon: () => NativeAddon) {
  const { values, positionals } = parse(args, {
    size: { type: 'string' },
    format: { type: 'string' },
    backing: { type: 'string' },
    'backing-format': { type: 'string' },
    'cluster-size': { type: 'string' },
  });
  const file = onlyFile(positionals, 'create');
  const format = parseFormat(values.format, '--format') ?? 'qcow2';
  const size = parseSize(values.size, '--size');
  const clusterSize = parseSize(values['cluster-size'], '--cluster-size');
  const backingFormat = parseFormat(values['backing-format'], '--backing-format');
  if (size === undefined && values.backing === undefined) {
    throw new UsageError('image create: --size is required (unless --backing is given)');
  }
  if (format === 'raw' && (values.backing !== undefined || clusterSize !== undefined)) {
    throw new UsageError('image create: --backing and --cluster-size need --format qcow2');
  }
  if (size === 0) throw new UsageError('image create: --size must be more than 0');
  await addon().imageCreate(file, {
    format,
    ...(size !== undefined && { size }),
    ...(clusterSize !== undefined && { clusterSize }),
    ...(values.backing !== undefined && { backingFile: values.backing }),
    ...(backingFormat !== undefined && { backingFormat }),
  });
  const info = await addon().imageInfo(file);
  const backing = info.backingFile
    ? `, backing ${info.backingFile} (${info.backingFormat ?? '?'})`
    : '';
  context.stdout(
    `Created ${file}: ${info.format}, ${formatBytes(info.virtualSize)} (${info.virtualSize} bytes)${backing}`,
  );
  return ExitCode.ok;
}

function infoLines(info: ImageInfo): string[] {
  const lines = [
    `image: ${info.path}`,
    `file format: ${info.format}`,
    `virtual size: ${formatBytes(info.virtualSize)} (${info.virtualSize} bytes)`,
    `disk size: ${formatBytes(info.allocatedBytes)}`,
  ];
  if (info.format === 'qcow2') {
    lines.push(
      `cluster size: ${info.clusterSize}`,
      `qcow2 version: ${info.version} (${info.version === 2 ? 'compat 0.10, read-only in Nestbox' : 'compat 1.1'})`,
      `refcount bits: ${info.refcountBits}`,
      `compression type: ${info.compression}`,
      `dirty: ${info.dirty ? 'yes (not closed cleanly)' : 'no'}`,
      `corrupt: ${info.corrupt ? 'yes' : 'no'}`,
    );
    if (info.snapshots) lines.push(`internal snapshots: ${info.snapshots}`);
    if (info.backingFile) {
      lines.push(
        `backing file: ${info.backingFile}${info.backingFormat ? ` (format ${info.backingFormat})` : ''}`,
      );
    }
  }
  if (info.backingChain.length > 0) {
    lines.push('backing chain:');
    info.backingChain.forEach((layer, depth) => {
      lines.push(
        `  ${depth + 1}. ${layer.path} (${layer.format}, ${formatBytes(layer.virtualSize)})`,
      );
    });
  }
  if (info.backingError) lines.push(`backing chain error: ${info.backingError}`);
  return lines;
}

async function info(args: readonly string[], context: CliContext, addon: () => NativeAddon) {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } });
  const file = onlyFile(positionals, 'info');
  const result = await addon().imageInfo(file);
  if (values.json) {
    context.stdout(JSON.stringify(result, null, 2));
  } else {
    for (const line of infoLines(result)) context.stdout(line);
  }
  return result.backingError ? ExitCode.failure : ExitCode.ok;
}

/**
 * `qemu-img check`'s documented statuses (0 clean, 2 corrupt, 3 leaks only); 3 is
 * outside the shared ExitCode table, which knows no "leaks" outcome.
 */
function checkStatus(status: 0 | 2 | 3): ExitCode {
  return status as ExitCode;
}

async function check(args: readonly string[], context: CliContext, addon: () => NativeAddon) {
  const { values, positionals } = parse(args, { json: { type: 'boolean' } });
  const file = onlyFile(positionals, 'check');
  let result;
  try {
    result = await addon().imageCheck(file);
  } catch (error) {
    context.stderr(`nestbox image check: ${describeError(error)}`);
    return ExitCode.failure;
  }
  if (values.json) {
    context.stdout(JSON.stringify({ path: path.resolve(file), ...result }, null, 2));
    return checkStatus(result.status);
  }
  for (const message of result.messages) context.stdout(message);
  if (result.format === 'raw') {
    context.stdout('raw images have no metadata to check.');
  } else if (result.status === 0) {
    context.stdout('No errors were found on the image.');
  } else {
    if (result.corruptions > 0) {
      context.stdout(`${result.corruptions} errors were found on the image.`);
      context.stdout('Data may be corrupted, or further writes to the image may corrupt it.');
    }
    if (result.leaks > 0) {
      context.stdout(`${result.leaks} leaked clusters were found on the image.`);
      context.stdout('This means waste of disk space, but no harm to data.');
    }
  }
  if (result.format === 'qcow2' && result.totalClusters > 0) {
    const percent = ((100 * result.allocatedClusters) / result.totalClusters).toFixed(2);
    context.stdout(`${result.allocatedClusters}/${result.totalClusters} = ${percent}% allocated`);
    context.stdout(`Image end offset: ${result.imageEndOffset}`);
  }
  return checkStatus(result.status);
}

const SUBCOMMANDS = { create, info, check } as const;

export const imageCommand: Command = {
  name: 'image',
  summary: 'Create, inspect and check qcow2 and raw disk images',
  usage: USAGE,

  async run(args, context) {
    const [subcommand, ...rest] = args;
    if (subcommand === undefined || subcommand === '--help' || rest.includes('--help')) {
      context.stdout(this.usage);
      return subcommand === undefined ? ExitCode.usage : ExitCode.ok;
    }
    if (!Object.hasOwn(SUBCOMMANDS, subcommand)) {
      throw new UsageError(`unknown image command "${subcommand}" (create, info or check)`);
    }
    const run = SUBCOMMANDS[subcommand as keyof typeof SUBCOMMANDS];
    let cached: NativeAddon | undefined;
    const addon = () => (cached ??= loadNativeAddon());
    try {
      return await run(rest, context, addon);
    } catch (error) {
      if (error instanceof UsageError) throw error;
      const code = (error as DiskImageError).code;
      context.stderr(
        `nestbox image ${subcommand}: ${describeError(error)}${code ? ` [${code}]` : ''}`,
      );
      return ExitCode.failure;
    }
  },
};
