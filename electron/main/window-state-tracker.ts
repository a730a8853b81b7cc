/**
 * Saves a window's bounds and maximized flag as the user changes them (debounced), so the
 * next start reopens it where it was, even after a crash.
 */
import type { BrowserWindow } from 'electron';
import { saveWindowState, type WindowState } from './window-state.ts';

const saveDelayMs = 500;

export class WindowStateTracker {
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(
    private readonly window: BrowserWindow,
    private readonly filePath: string,
  ) {
    const schedule = () => this.schedule();
    window.on('resize', schedule);
    window.on('move', schedule);
    window.on('maximize', schedule);
    window.on('unmaximize', schedule);
    // Capture on 'close', while the window still has its bounds.
    window.on('close', () => this.saveNow());
  }

  /** Resolves when every save started so far has reached the disk. */
  flush(): Promise<void> {
    if (this.timer) this.saveNow();
    return this.writing;
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.saveNow(), saveDelayMs);
  }

  private saveNow(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.window.isDestroyed()) return;
    const state: WindowState = {
      // Normal bounds: a maximized window reopens maximized, and un-maximizes to where it was.
      bounds: this.window.getNormalBounds(),
      maximized: this.window.isMaximized(),
    };
    // Serialised, so an older state can never land after a newer one.
    this.writing = this.writing
      .then(() => saveWindowState(this.filePath, state))
      .catch((error: unknown) => console.warn('nestbox: could not save the window state:', error));
  }
}
