import { describe, expect, it } from 'vitest';
import { WheelAccumulator, isGuestButton, toGuestPoint } from './pointer-map.ts';

describe('toGuestPoint', () => {
  const guest = { width: 1024, height: 768 };

  it('maps a point of the canvas at 1:1', () => {
    const box = { left: 100, top: 50, width: 1024, height: 768 };
    expect(toGuestPoint(100, 50, box, guest)).toEqual({ x: 0, y: 0 });
    expect(toGuestPoint(612.7, 434.2, box, guest)).toEqual({ x: 512, y: 384 });
  });

  it('scales a canvas drawn smaller (fit) back to guest pixels', () => {
    const box = { left: 0, top: 0, width: 512, height: 384 };
    expect(toGuestPoint(256, 192, box, guest)).toEqual({ x: 512, y: 384 });
    expect(toGuestPoint(511.9, 383.9, box, guest)).toEqual({ x: 1023, y: 767 });
  });

  it('clamps points outside the canvas to its edge', () => {
    const box = { left: 10, top: 10, width: 1024, height: 768 };
    expect(toGuestPoint(0, 0, box, guest)).toEqual({ x: 0, y: 0 });
    expect(toGuestPoint(5000, 5000, box, guest)).toEqual({ x: 1023, y: 767 });
  });

  it('gives nothing for a canvas that is not laid out', () => {
    expect(toGuestPoint(1, 1, { left: 0, top: 0, width: 0, height: 0 }, guest)).toBeNull();
  });
});

describe('isGuestButton', () => {
  it('accepts main, middle, secondary, back and forward', () => {
    expect([0, 1, 2, 3, 4].every(isGuestButton)).toBe(true);
    expect(isGuestButton(5)).toBe(false);
    expect(isGuestButton(-1)).toBe(false);
  });
});

describe('WheelAccumulator', () => {
  it('turns pixel deltas into detents and keeps the remainder', () => {
    const wheel = new WheelAccumulator();
    expect(wheel.add(0, 100, 0)).toEqual({ dx: 0, dy: 1 });
    expect(wheel.add(0, 40, 0)).toBeNull();
    expect(wheel.add(0, 70, 0)).toEqual({ dx: 0, dy: 1 });
    expect(wheel.add(0, -300, 0)).toEqual({ dx: 0, dy: -2 });
  });

  it('counts three lines, or one page, as a detent', () => {
    const wheel = new WheelAccumulator();
    expect(wheel.add(0, 3, 1)).toEqual({ dx: 0, dy: 1 });
    expect(wheel.add(-1, 0, 2)).toEqual({ dx: -1, dy: 0 });
  });
});
