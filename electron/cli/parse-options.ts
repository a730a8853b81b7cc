/** `util.parseArgs` in strict mode, with its errors turned into UsageError (exit code 2). */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from './command.ts';

type OptionsConfig = NonNullable<ParseArgsConfig['options']>;

export function parseOptions<O extends OptionsConfig>(args: readonly string[], options: O) {
  try {
    return parseArgs({ args: [...args], options, strict: true, allowPositionals: false });
  } catch (error) {
    if (error instanceof TypeError && 'code' in error) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}
