/**
 * The main window's size, position and maximized flag, kept between runs in
 * `<userData>/window-state.json`. Whatever the file holds is validated: a corrupt file or a
 * position on a monitor that is no longer connected gives a sensible window, never an
 * invisible one. No 'electron' import; the caller passes the displays' work areas.
 */
import { readFile } from 'node:fs/promises';
import { atomicWriteFile } from '../services/atomic-write-file.ts';
import { minimumWindowSize } from './window-options.ts';

export interface Rectangle {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** x/y absent: let the window manager place (centre) the window. */
export interface WindowBounds {
  x?: number;
  y?: number;
  width: number;
  height: number;
}

export interface WindowState {
  bounds: WindowBounds;
  maximized: boolean;
}

export const defaultWindowState: WindowState = {
  bounds: { width: 1200, height: 800 },
  maximized: false,
};

const stateFileVersion = 1;
/** A title bar's worth must be on screen for the user to be able to grab the window. */
const minimumVisible = 48;

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function overlap(a: Rectangle, b: Rectangle): { width: number; height: number } {
  return {
    width: Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x),
    height: Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y),
  };
}

/** Validates what was read from disk against the displays connected now. */
export function sanitizeWindowState(raw: unknown, workAreas: readonly Rectangle[]): WindowState {
  if (typeof raw !== 'object' || raw === null) return defaultWindowState;
  const record = raw as Record<string, unknown>;
  const bounds = record['bounds'] as Record<string, unknown> | undefined;
  if (record['version'] !== stateFileVersion || typeof bounds !== 'object' || bounds === null) {
    return defaultWindowState;
  }
  const { x, y, width, height } = bounds;
  if (!isFiniteNumber(width) || !isFiniteNumber(height)) return defaultWindowState;

  const largest = workAreas.reduce<{ width: number; height: number }>(
    (max, area) => ({
      width: Math.max(max.width, area.width),
      height: Math.max(max.height, area.height),
    }),
    { width: minimumWindowSize.width, height: minimumWindowSize.height },
  );
  const size = {
    width: Math.round(Math.min(Math.max(width, minimumWindowSize.width), largest.width)),
    height: Math.round(Math.min(Math.max(height, minimumWindowSize.height), largest.height)),
  };
  const maximized = record['maximized'] === true;

  if (!isFiniteNumber(x) || !isFiniteNumber(y)) return { bounds: size, maximized };
  const placed = { x: Math.round(x), y: Math.round(y), ...size };
  const visible = workAreas.some((area) => {
    const shared = overlap(placed, area);
    return shared.width >= minimumVisible && shared.height >= minimumVisible;
  });
  return { bounds: visible ? placed : size, maximized };
}

export async function loadWindowState(
  filePath: string,
  workAreas: readonly Rectangle[],
): Promise<WindowState> {
  try {
    return sanitizeWindowState(JSON.parse(await readFile(filePath, 'utf8')), workAreas);
  } catch {
    // Missing on first run; unreadable or corrupt otherwise. Either way start from defaults.
    return defaultWindowState;
  }
}

export async function saveWindowState(filePath: string, state: WindowState): Promise<void> {
  const content = JSON.stringify({ version: stateFileVersion, ...state }, null, 2);
  await atomicWriteFile(filePath, `${content}\n`);
}
