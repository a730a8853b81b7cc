/**
 * Pointer positions and wheel turns as the guest's absolute tablet takes them: framebuffer
 * pixels, and whole wheel detents. Pure, so the scaling arithmetic is tested without a canvas.
 */

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

export interface GuestSize {
  width: number;
  height: number;
}

/**
 * The guest pixel under a point of the page, given where the canvas is drawn (its
 * bounding box, whatever the scale) and the guest's resolution. Points outside the canvas
 * are clamped to its edge, so a drag that leaves it still ends at the border.
 */
export function toGuestPoint(
  clientX: number,
  clientY: number,
  canvas: Box,
  guest: GuestSize,
): { x: number; y: number } | null {
  if (canvas.width <= 0 || canvas.height <= 0 || guest.width <= 0 || guest.height <= 0) {
    return null;
  }
  const x = Math.floor(((clientX - canvas.left) * guest.width) / canvas.width);
  const y = Math.floor(((clientY - canvas.top) * guest.height) / canvas.height);
  return {
    x: Math.min(guest.width - 1, Math.max(0, x)),
    y: Math.min(guest.height - 1, Math.max(0, y)),
  };
}

/** DOM `MouseEvent.button` values the VM host accepts (main, middle, secondary, back, forward). */
export function isGuestButton(button: number): boolean {
  return Number.isInteger(button) && button >= 0 && button <= 4;
}

const PIXELS_PER_DETENT = 100;
const LINES_PER_DETENT = 3;

/**
 * Wheel events come in pixels (Chromium: about 100 a notch, less from touchpads), lines
 * (3 a notch) or pages. The guest wants detents: this adds up the small deltas and hands out
 * whole detents, keeping the remainder for the next event.
 */
export class WheelAccumulator {
  #x = 0;
  #y = 0;

  add(deltaX: number, deltaY: number, deltaMode: number): { dx: number; dy: number } | null {
    const scale =
      deltaMode === 1 ? 1 / LINES_PER_DETENT : deltaMode === 2 ? 1 : 1 / PIXELS_PER_DETENT;
    this.#x += deltaX * scale;
    this.#y += deltaY * scale;
    const dx = Math.trunc(this.#x);
    const dy = Math.trunc(this.#y);
    this.#x -= dx;
    this.#y -= dy;
    return dx === 0 && dy === 0 ? null : { dx, dy };
  }
}
