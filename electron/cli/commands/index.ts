/** Every `nestbox` subcommand, in the order `nestbox --help` lists them. */
import type { Command } from '../command.ts';
import { imageCommand } from './image.ts';
import { runCommand } from './run.ts';
import { serveCommand } from './serve.ts';

export const commands: readonly Command[] = [runCommand, imageCommand, serveCommand];
