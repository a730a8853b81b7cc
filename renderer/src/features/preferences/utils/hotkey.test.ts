import { describe, expect, it } from 'vitest';
import { HotkeyRecorder, describeHotkey } from './hotkey.ts';

function record(events: [code: string, pressed: boolean][]) {
  const recorder = new HotkeyRecorder();
  return events.map(([code, pressed]) => (pressed ? recorder.keyDown(code) : recorder.keyUp(code)));
}

describe('HotkeyRecorder', () => {
  it('records modifiers alone when they are let go, in the stored order', () => {
    const results = record([
      ['AltLeft', true],
      ['ControlRight', true],
      ['AltLeft', false],
      ['ControlRight', false],
    ]);
    expect(results.at(-2)).toEqual({ kind: 'pending', preview: 'Ctrl+Alt' });
    expect(results.at(-1)).toEqual({ kind: 'done', hotkey: 'Ctrl+Alt' });
  });

  it('records modifiers and a key at the key', () => {
    const results = record([
      ['ControlLeft', true],
      ['ShiftLeft', true],
      ['KeyG', true],
    ]);
    expect(results.at(-1)).toEqual({ kind: 'done', hotkey: 'Ctrl+Shift+KeyG' });
  });

  it('refuses what settings.json would refuse', () => {
    expect(record([['KeyG', true]]).at(-1)).toMatchObject({
      kind: 'invalid',
      message: 'Use at least one of Ctrl, Alt, Shift or Super.',
    });
    expect(
      record([
        ['ControlLeft', true],
        ['ControlLeft', false],
      ]).at(-1),
    ).toMatchObject({ kind: 'invalid', message: expect.stringMatching(/one modifier alone/) });
    expect(
      record([
        ['AltLeft', true],
        ['Semicolon', true],
      ]).at(-1),
    ).toMatchObject({ kind: 'invalid', message: 'Semicolon can’t be part of a shortcut.' });
  });

  it('cancels on Escape alone, but takes Ctrl+Escape', () => {
    expect(record([['Escape', true]])).toEqual([{ kind: 'cancelled' }]);
    expect(
      record([
        ['ControlLeft', true],
        ['Escape', true],
      ]).at(-1),
    ).toEqual({ kind: 'done', hotkey: 'Ctrl+Escape' });
  });
});

describe('describeHotkey', () => {
  it('reads as printed on the keys', () => {
    expect(describeHotkey('Ctrl+Alt+KeyG')).toBe('Ctrl+Alt+G');
    expect(describeHotkey('Super+Digit1')).toBe('Super+1');
    expect(describeHotkey('Ctrl+ArrowUp')).toBe('Ctrl+Up');
  });
});
