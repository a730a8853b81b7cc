/**
 * The VM's log, `<vm-folder>/logs/vm.log`: one timestamped line per entry, appended with
 * O_APPEND so the host's own lines and whatever the process prints to its stdout/stderr (the
 * launcher points them at the same file: uncaught errors, native aborts) interleave by line.
 * The log outlives the host; the launcher rotates it (one `vm.log.1`) before each start.
 */
import { closeSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import path from 'node:path';

/** Over this size, the launcher moves vm.log to vm.log.1 before a start. */
export const LOG_ROTATE_BYTES = 4 * 1024 * 1024;

export class VmLog {
  #fd: number | null;

  private constructor(
    readonly file: string,
    fd: number,
    private readonly now: () => Date,
  ) {
    this.#fd = fd;
  }

  /** Opens (creating the logs folder) for appending. */
  static open(file: string, now: () => Date = () => new Date()): VmLog {
    mkdirSync(path.dirname(file), { recursive: true });
    return new VmLog(file, openSync(file, 'a', 0o644), now);
  }

  /** Appends `message` (each of its lines) after a timestamp and a source tag. Never throws. */
  write(source: string, message: string): void {
    if (this.#fd === null) return;
    const stamp = this.now().toISOString();
    const text = message
      .split('\n')
      .map((line) => `${stamp} [${source}] ${line}\n`)
      .join('');
    try {
      writeSync(this.#fd, text);
    } catch {
      // A full disk must not take the VM down with it.
    }
  }

  close(): void {
    if (this.#fd === null) return;
    closeSync(this.#fd);
    this.#fd = null;
  }
}

/** Moves a large vm.log to vm.log.1 (replacing an older one), so the log stays bounded. */
export function rotateVmLog(file: string, limit = LOG_ROTATE_BYTES): void {
  try {
    if (statSync(file).size > limit) renameSync(file, `${file}.1`);
  } catch {
    // No log yet, or it cannot be moved: appending to it is fine.
  }
}

/** The last `lines` lines of the log, for a startup failure the host could not report. */
export function tailOfLog(text: string, lines = 20): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
