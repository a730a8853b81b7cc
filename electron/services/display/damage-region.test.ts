import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Rect } from '../../common/display-frame-format.ts';
import { DamageRegion } from './damage-region.ts';

const W = 1024;
const H = 768;

function region(rects: Rect[], maxRects?: number): readonly Rect[] {
  const damage = new DamageRegion(maxRects);
  for (const rect of rects) damage.add(rect, W, H);
  return damage.rects();
}

function covers(rects: readonly Rect[], x: number, y: number): boolean {
  return rects.some((r) => x >= r.x && x < r.x + r.width && y >= r.y && y < r.y + r.height);
}

test('tiles side by side merge into one rectangle', () => {
  const tiles = [0, 64, 128].map((x) => ({ x, y: 0, width: 64, height: 64 }));
  assert.deepEqual(region(tiles), [{ x: 0, y: 0, width: 192, height: 64 }]);
});

test('a contained rectangle adds nothing; a containing one replaces', () => {
  assert.deepEqual(
    region([
      { x: 10, y: 10, width: 100, height: 100 },
      { x: 20, y: 20, width: 5, height: 5 },
    ]),
    [{ x: 10, y: 10, width: 100, height: 100 }],
  );
  assert.deepEqual(
    region([
      { x: 20, y: 20, width: 5, height: 5 },
      { x: 500, y: 500, width: 5, height: 5 },
      { x: 10, y: 10, width: 100, height: 100 },
    ]),
    [
      { x: 500, y: 500, width: 5, height: 5 },
      { x: 10, y: 10, width: 100, height: 100 },
    ],
  );
});

test('distant rectangles stay apart, and so do neighbours whose box would waste too much', () => {
  const apart = [
    { x: 0, y: 0, width: 10, height: 10 },
    { x: 900, y: 700, width: 10, height: 10 },
  ];
  assert.deepEqual(region(apart), apart);
  const lShape = [
    { x: 0, y: 0, width: 200, height: 10 },
    { x: 0, y: 10, width: 10, height: 200 },
  ];
  assert.deepEqual(region(lShape), lShape);
});

test('rectangles are clipped to the screen; empty and outside ones are dropped', () => {
  assert.deepEqual(
    region([
      { x: -5, y: 760, width: 20, height: 20 },
      { x: 2000, y: 0, width: 5, height: 5 },
      { x: 5, y: 5, width: 0, height: 5 },
      { x: Number.NaN, y: 0, width: 5, height: 5 },
    ]),
    [{ x: 0, y: 760, width: 15, height: 8 }],
  );
});

test('the count stays bounded and every damaged pixel stays covered', () => {
  const added: Rect[] = [];
  for (let i = 0; i < 500; i++) {
    added.push({ x: (i * 131) % 1000, y: (i * 71) % 740, width: 1 + (i % 7), height: 1 + (i % 5) });
  }
  const rects = region(added, 8);
  assert.ok(rects.length <= 8);
  for (const r of added) {
    assert.ok(covers(rects, r.x, r.y) && covers(rects, r.x + r.width - 1, r.y + r.height - 1));
  }
});

test('heavily overlapping rectangles collapse to their bounding box', () => {
  assert.deepEqual(
    region([
      { x: 0, y: 0, width: 100, height: 60 },
      { x: 0, y: 40, width: 60, height: 60 },
      { x: 40, y: 40, width: 60, height: 60 },
    ]),
    [{ x: 0, y: 0, width: 100, height: 100 }],
  );
});

test('clear() empties it, and a bad limit is refused', () => {
  const damage = new DamageRegion();
  damage.add({ x: 0, y: 0, width: 1, height: 1 }, W, H);
  assert.equal(damage.isEmpty, false);
  damage.clear();
  assert.equal(damage.isEmpty, true);
  assert.throws(() => new DamageRegion(0), /positive integer/);
});
