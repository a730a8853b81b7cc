/**
 * xterm's DOM renderer draws 24-bit colours (SGR 38;2;r;g;b and 48;2;r;g;b) with style
 * attributes, which the page's CSP refuses (see adopted-styles.ts). Guest output is therefore
 * passed through this filter, which rewrites them to the nearest of the 256 palette colours —
 * drawn with classes — before xterm sees them. A sequence split between two chunks is held
 * back until the rest arrives.
 */

// eslint-disable-next-line no-control-regex -- ESC is what we look for
const SGR = /\x1b\[([0-9;:]*)m/g;
// eslint-disable-next-line no-control-regex -- an unfinished CSI at the end of a chunk
const UNFINISHED = /\x1b(?:\[[0-9;:]*)?$/;
/** Longer than any real SGR: flushed as it is rather than held forever. */
const MAX_HELD = 256;

const cubeLevels = [0, 95, 135, 175, 215, 255];

function nearestLevel(value: number): number {
  let best = 0;
  for (let i = 1; i < cubeLevels.length; i += 1) {
    if (Math.abs((cubeLevels[i] ?? 0) - value) < Math.abs((cubeLevels[best] ?? 0) - value)) {
      best = i;
    }
  }
  return best;
}

/** The xterm-256 palette index nearest to an RGB colour (the 6×6×6 cube or the grey ramp). */
export function nearestPaletteIndex(r: number, g: number, b: number): number {
  const [ri, gi, bi] = [nearestLevel(r), nearestLevel(g), nearestLevel(b)];
  const cube = [cubeLevels[ri] ?? 0, cubeLevels[gi] ?? 0, cubeLevels[bi] ?? 0];
  const grayStep = Math.max(0, Math.min(23, Math.round(((r + g + b) / 3 - 8) / 10)));
  const gray = 8 + grayStep * 10;
  const distance = (x: number, y: number, z: number) => (r - x) ** 2 + (g - y) ** 2 + (b - z) ** 2;
  return distance(gray, gray, gray) < distance(cube[0] ?? 0, cube[1] ?? 0, cube[2] ?? 0)
    ? 232 + grayStep
    : 16 + 36 * ri + 6 * gi + bi;
}

function channel(text: string | undefined): number {
  const value = Number(text);
  return Number.isInteger(value) ? Math.max(0, Math.min(255, value)) : 0;
}

/** SGR parameters with every 24-bit foreground or background colour made a palette colour. */
export function downgradeSgrParameters(parameters: string): string {
  const parts = parameters.split(';');
  const out: string[] = [];
  for (let i = 0; i < parts.length; i += 1) {
    const part = parts[i] ?? '';
    if (part.includes(':')) {
      // ITU form: 38:2:<colour space>:r:g:b, or 38:2:r:g:b as often written.
      const sub = part.split(':');
      if ((sub[0] === '38' || sub[0] === '48') && sub[1] === '2' && sub.length >= 5) {
        const [r, g, b] = sub.slice(-3);
        out.push(`${sub[0]}:5:${nearestPaletteIndex(channel(r), channel(g), channel(b))}`);
      } else {
        out.push(part);
      }
      continue;
    }
    if ((part === '38' || part === '48') && parts[i + 1] === '2') {
      const index = nearestPaletteIndex(
        channel(parts[i + 2]),
        channel(parts[i + 3]),
        channel(parts[i + 4]),
      );
      out.push(part, '5', String(index));
      i += 4;
      continue;
    }
    if ((part === '38' || part === '48') && parts[i + 1] === '5') {
      // A palette colour already: keep it, and do not read its index as a command.
      out.push(part, '5', parts[i + 2] ?? '0');
      i += 2;
      continue;
    }
    out.push(part);
  }
  return out.join(';');
}

/** A stream filter: feed it the decoded output chunk by chunk. */
export class TrueColorDowngrade {
  #held = '';

  push(chunk: string): string {
    let text = this.#held + chunk;
    this.#held = '';
    const unfinished = UNFINISHED.exec(text);
    if (unfinished && text.length - unfinished.index <= MAX_HELD) {
      this.#held = text.slice(unfinished.index);
      text = text.slice(0, unfinished.index);
    }
    if (!text.includes('\x1b[')) return text;
    return text.replace(SGR, (whole, parameters: string) =>
      /(^|;)[34]8[;:]2/.test(parameters) ? `\x1b[${downgradeSgrParameters(parameters)}m` : whole,
    );
  }
}
