/**
 * The part of a screen a viewer has not seen yet: a small set of rectangles that grows as the
 * guest draws and empties when the viewer is sent a frame. It stays bounded however long a
 * viewer lags — rectangles that touch merge when that wastes little area, containment drops
 * the smaller one, and past `maxRects` (or when the rectangles overlap more than they save)
 * everything collapses to the bounding box. Over-covering is always safe: a frame encodes the
 * current pixels of whatever the region says.
 */
import type { Rect } from '../../common/display-frame-format.ts';

export const DEFAULT_MAX_DAMAGE_RECTS = 64;

/** Merging two touching rectangles is worth it when the box wastes at most this share of it. */
const MERGE_WASTE_RATIO = 0.25;

function area(r: Rect): number {
  return r.width * r.height;
}

function contains(outer: Rect, inner: Rect): boolean {
  return (
    inner.x >= outer.x &&
    inner.y >= outer.y &&
    inner.x + inner.width <= outer.x + outer.width &&
    inner.y + inner.height <= outer.y + outer.height
  );
}

function boundingBox(a: Rect, b: Rect): Rect {
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  return {
    x,
    y,
    width: Math.max(a.x + a.width, b.x + b.width) - x,
    height: Math.max(a.y + a.height, b.y + b.height) - y,
  };
}

/** Overlap area, or -1 when the rectangles neither overlap nor share an edge. */
function overlapOrTouch(a: Rect, b: Rect): number {
  const w = Math.min(a.x + a.width, b.x + b.width) - Math.max(a.x, b.x);
  const h = Math.min(a.y + a.height, b.y + b.height) - Math.max(a.y, b.y);
  if (w < 0 || h < 0 || (w === 0 && h === 0)) return -1;
  return w * h;
}

function worthMerging(a: Rect, b: Rect): boolean {
  const overlap = overlapOrTouch(a, b);
  if (overlap < 0) return false;
  const box = area(boundingBox(a, b));
  const covered = area(a) + area(b) - overlap;
  return box - covered <= box * MERGE_WASTE_RATIO;
}

export class DamageRegion {
  private list: Rect[] = [];

  constructor(private readonly maxRects = DEFAULT_MAX_DAMAGE_RECTS) {
    if (!Number.isInteger(maxRects) || maxRects < 1) {
      throw new RangeError(`maxRects must be a positive integer, got ${maxRects}`);
    }
  }

  get isEmpty(): boolean {
    return this.list.length === 0;
  }

  /** The rectangles to send: inside the bounds given to add(), at most `maxRects`. */
  rects(): readonly Rect[] {
    return this.list;
  }

  clear(): void {
    this.list = [];
  }

  /** Adds `rect` clipped to a `width` × `height` screen; empty or outside rectangles do nothing. */
  add(rect: Rect, width: number, height: number): void {
    const x = Math.max(0, Math.floor(rect.x));
    const y = Math.max(0, Math.floor(rect.y));
    const right = Math.min(width, Math.ceil(rect.x + rect.width));
    const bottom = Math.min(height, Math.ceil(rect.y + rect.height));
    if (!(right > x && bottom > y)) return; // also drops NaN
    let next: Rect = { x, y, width: right - x, height: bottom - y };

    // Fold `next` into the list until nothing more merges with it.
    for (let i = 0; i < this.list.length;) {
      const existing = this.list[i] as Rect;
      if (contains(existing, next)) return;
      if (contains(next, existing) || worthMerging(existing, next)) {
        next = boundingBox(existing, next);
        this.list.splice(i, 1);
        i = 0; // the grown rectangle may now swallow earlier ones
        continue;
      }
      i++;
    }
    this.list.push(next);

    if (this.list.length > this.maxRects || this.overlapsMoreThanItSaves()) this.collapse();
  }

  private overlapsMoreThanItSaves(): boolean {
    if (this.list.length < 2) return false;
    const total = this.list.reduce((sum, r) => sum + area(r), 0);
    return total >= area(this.list.reduce(boundingBox));
  }

  private collapse(): void {
    this.list = [this.list.reduce(boundingBox)];
  }
}
