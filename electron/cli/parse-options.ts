/** `util.parseArgs` in strict mode, with its errors turned into UsageError (exit code 2). */
import { statSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './command.ts';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

export function parseOptions<O extends OptionsConfig, P extends boolean = false>(
  args: readonly string[],
  options: O,
  { allowPositionals }: { allowPositionals?: P } = {},
) {
  try {
    return parseArgs({
      args: [...args],
      options,
      strict: true,
      allowPositionals: (allowPositionals ?? false) as P,
    });
  } catch (error) {
    if (error instanceof TypeError && 'code' in error) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}

/** A whole number option within [min, max]; undefined when not given. */
export function parseCount(option: string, value: string | undefined, min: number, max: number) {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number < min || number > max) {
    throw new UsageError(
      `--${option} must be a whole number from ${min} to ${max}, not "${value}"`,
    );
  }
  return number;
}

/** A file option that must name a readable regular file; undefined when not given. */
export function requireFile(option: string, path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  if (path === '') throw new UsageError(`--${option} needs a file path`);
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new UsageError(`${option} file not found: ${path}`);
    }
    throw new UsageError(`cannot read ${option} file ${path}: ${(error as Error).message}`);
  }
  if (!isFile) throw new UsageError(`${option} ${path} is not a regular file`);
  return path;
}
