/** `util.parseArgs` in strict mode, with its errors turned into UsageError (exit code 2). */
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
