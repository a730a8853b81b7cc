import { describe, expect, it } from 'vitest';
import { TrueColorDowngrade, downgradeSgrParameters, nearestPaletteIndex } from './true-color.ts';

describe('24-bit colours for the CSP-safe renderer', () => {
  it('finds the nearest palette colour in the cube or the grey ramp', () => {
    expect(nearestPaletteIndex(255, 0, 0)).toBe(196);
    expect(nearestPaletteIndex(0, 0, 0)).toBe(16);
    expect(nearestPaletteIndex(255, 255, 255)).toBe(231);
    expect(nearestPaletteIndex(128, 128, 128)).toBe(244);
    expect(nearestPaletteIndex(95, 135, 175)).toBe(67);
  });

  it('rewrites foreground and background colours, in both notations, and leaves the rest', () => {
    expect(downgradeSgrParameters('1;38;2;255;0;0;48;2;0;0;0')).toBe('1;38;5;196;48;5;16');
    expect(downgradeSgrParameters('38:2::255:0:0')).toBe('38:5:196');
    expect(downgradeSgrParameters('38:2:255:0:0')).toBe('38:5:196');
    // A palette colour whose index happens to be 2 is not a 24-bit colour.
    expect(downgradeSgrParameters('38;5;2;1')).toBe('38;5;2;1');
    expect(downgradeSgrParameters('0;31;4')).toBe('0;31;4');
  });

  it('holds back a sequence cut between two chunks until the rest arrives', () => {
    const filter = new TrueColorDowngrade();
    expect(filter.push('ok \x1b[38;2;25')).toBe('ok ');
    expect(filter.push('5;0;0mred\x1b')).toBe('\x1b[38;5;196mred');
    expect(filter.push('[0m done')).toBe('\x1b[0m done');
    expect(filter.push('plain text')).toBe('plain text');
  });
});
