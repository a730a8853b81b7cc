/** Every `nestbox` subcommand, in the order `nestbox --help` lists them. */
import type { Command } from '../command.ts';
import { cloneCommand } from './clone.ts';
import { consoleCommand } from './console.ts';
import { createCommand } from './create.ts';
import { deleteCommand } from './delete.ts';
import { imageCommand } from './image.ts';
import { importCommand } from './import.ts';
import { listCommand } from './list.ts';
import { pauseCommand } from './pause.ts';
import { resetCommand } from './reset.ts';
import { resumeCommand } from './resume.ts';
import { runCommand } from './run.ts';
import { screenshotCommand } from './screenshot.ts';
import { serveCommand } from './serve.ts';
import { snapshotCommand } from './snapshot.ts';
import { startCommand } from './start.ts';
import { suspendCommand } from './suspend.ts';
import { stopCommand } from './stop.ts';

export const commands: readonly Command[] = [
  runCommand,
  imageCommand,
  serveCommand,
  createCommand,
  importCommand,
  listCommand,
  startCommand,
  stopCommand,
  pauseCommand,
  resumeCommand,
  suspendCommand,
  resetCommand,
  consoleCommand,
  screenshotCommand,
  snapshotCommand,
  cloneCommand,
  deleteCommand,
];
