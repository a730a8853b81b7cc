import { describe, expect, it } from 'vitest';
import {
  KeyboardCapture,
  formatHotkey,
  guestCodeFor,
  parseReleaseHotkey,
  releaseHint,
  type CaptureAction,
  type KeyInput,
} from './keyboard-map.ts';

const key = (code: string, extra: Partial<KeyInput> = {}): KeyInput => ({
  code,
  key: '',
  ...extra,
});
const down = (code: string, pressed = true): CaptureAction => ({ type: 'key', code, pressed });
const up = (code: string): CaptureAction => down(code, false);

describe('guestCodeFor', () => {
  it('passes physical keys through by their code, whatever the layout prints on them', () => {
    expect(guestCodeFor(key('KeyQ', { key: 'a' }))).toBe('KeyQ'); // AZERTY's A
    expect(guestCodeFor(key('Digit1', { key: '&' }))).toBe('Digit1');
    expect(guestCodeFor(key('IntlBackslash', { key: '<' }))).toBe('IntlBackslash');
    expect(guestCodeFor(key('NumpadEnter'))).toBe('NumpadEnter');
    expect(guestCodeFor(key('AltRight', { key: 'AltGraph' }))).toBe('AltRight');
    expect(guestCodeFor(key('F24'))).toBe('F24');
  });

  it('maps modifiers with their side', () => {
    for (const code of [
      'ControlLeft',
      'ControlRight',
      'ShiftLeft',
      'ShiftRight',
      'AltLeft',
      'MetaLeft',
      'MetaRight',
    ]) {
      expect(guestCodeFor(key(code))).toBe(code);
    }
  });

  it('renames the codes older browsers used', () => {
    expect(guestCodeFor(key('OSLeft'))).toBe('MetaLeft');
    expect(guestCodeFor(key('OSRight'))).toBe('MetaRight');
    expect(guestCodeFor(key('VolumeUp'))).toBe('AudioVolumeUp');
  });

  it('falls back to the key’s meaning when the browser gives no code', () => {
    expect(guestCodeFor(key('', { key: 'g' }))).toBe('KeyG');
    expect(guestCodeFor(key('Unidentified', { key: 'G' }))).toBe('KeyG');
    expect(guestCodeFor(key('', { key: '7' }))).toBe('Digit7');
    expect(guestCodeFor(key('', { key: ' ' }))).toBe('Space');
    expect(guestCodeFor(key('', { key: 'Enter' }))).toBe('Enter');
    expect(guestCodeFor(key('', { key: 'Control' }))).toBe('ControlLeft');
    expect(guestCodeFor(key('', { key: 'F5' }))).toBe('F5');
  });

  it('returns null for keys the guest has no equivalent of', () => {
    expect(guestCodeFor(key('Fn'))).toBeNull();
    expect(guestCodeFor(key('BrightnessUp'))).toBeNull();
    expect(guestCodeFor(key('', { key: 'é' }))).toBeNull();
    expect(guestCodeFor(key('Unidentified', { key: 'Unidentified' }))).toBeNull();
  });
});

describe('the release hotkey', () => {
  it('reads normalized combinations and says them as people do', () => {
    expect(formatHotkey(parseReleaseHotkey('Ctrl+Alt'))).toBe('Ctrl+Alt');
    expect(formatHotkey(parseReleaseHotkey('Ctrl+Alt+KeyG'))).toBe('Ctrl+Alt+G');
    expect(formatHotkey(parseReleaseHotkey('Shift+Super+F12'))).toBe('Shift+Super+F12');
    expect(releaseHint(parseReleaseHotkey('Ctrl+Alt'))).toBe('Press Ctrl+Alt to release');
  });

  it('falls back to Ctrl+Alt for anything that would leave no way out', () => {
    for (const text of [undefined, '', 'Ctrl', 'KeyG', 'Ctrl+Alt+KeyG+KeyH', 'Hyper+KeyG']) {
      expect(formatHotkey(parseReleaseHotkey(text))).toBe('Ctrl+Alt');
    }
  });
});

describe('KeyboardCapture', () => {
  it('sends presses and releases, and drops auto-repeat', () => {
    const capture = new KeyboardCapture('Ctrl+Alt');
    expect(capture.keyDown(key('KeyA'))).toEqual([down('KeyA')]);
    expect(capture.keyDown(key('KeyA', { repeat: true }))).toEqual([]);
    expect(capture.keyUp(key('KeyA'))).toEqual([up('KeyA')]);
    expect(capture.held).toEqual([]);
  });

  it('sends modifiers as keys of their own, e.g. Shift+A', () => {
    const capture = new KeyboardCapture('Ctrl+Alt');
    expect(capture.keyDown(key('ShiftLeft', { shiftKey: true }))).toEqual([down('ShiftLeft')]);
    expect(capture.keyDown(key('KeyA', { shiftKey: true }))).toEqual([down('KeyA')]);
    expect(capture.keyUp(key('KeyA'))).toEqual([up('KeyA')]);
    expect(capture.keyUp(key('ShiftLeft'))).toEqual([up('ShiftLeft')]);
  });

  it('releases on Ctrl+Alt let go, after the guest saw both keys go up', () => {
    const capture = new KeyboardCapture('Ctrl+Alt');
    expect(capture.keyDown(key('ControlLeft'))).toEqual([down('ControlLeft')]);
    expect(capture.keyDown(key('AltLeft'))).toEqual([down('AltLeft')]);
    expect(capture.keyUp(key('AltLeft'))).toEqual([
      up('AltLeft'),
      up('ControlLeft'),
      { type: 'release' },
    ]);
    expect(capture.held).toEqual([]);
  });

  it('lets Ctrl+Alt+Delete and Ctrl+Alt+F2 through to the guest', () => {
    const capture = new KeyboardCapture('Ctrl+Alt');
    capture.keyDown(key('ControlLeft'));
    capture.keyDown(key('AltLeft'));
    expect(capture.keyDown(key('Delete'))).toEqual([down('Delete')]);
    expect(capture.keyUp(key('Delete'))).toEqual([up('Delete')]);
    expect(capture.keyUp(key('AltLeft'))).toEqual([up('AltLeft')]);
    expect(capture.keyUp(key('ControlLeft'))).toEqual([up('ControlLeft')]);
  });

  it('does not release on Ctrl+Alt+Shift, nor on Ctrl or Alt alone', () => {
    const capture = new KeyboardCapture('Ctrl+Alt');
    capture.keyDown(key('ControlRight'));
    expect(capture.keyUp(key('ControlRight'))).toEqual([up('ControlRight')]);
    capture.keyDown(key('ControlLeft'));
    capture.keyDown(key('AltRight'));
    capture.keyDown(key('ShiftLeft'));
    expect(capture.keyUp(key('ShiftLeft'))).toEqual([up('ShiftLeft')]);
    expect(capture.keyUp(key('AltRight'))).toEqual([up('AltRight')]);
  });

  it('releases on the key of a combination with one, without sending that key', () => {
    const capture = new KeyboardCapture('Ctrl+Alt+KeyG');
    capture.keyDown(key('ControlLeft'));
    capture.keyDown(key('AltLeft'));
    expect(capture.keyDown(key('KeyG'))).toEqual([
      up('AltLeft'),
      up('ControlLeft'),
      { type: 'release' },
    ]);
    // Ctrl+Alt alone does nothing special with this hotkey.
    capture.keyDown(key('ControlLeft'));
    capture.keyDown(key('AltLeft'));
    expect(capture.keyUp(key('AltLeft'))).toEqual([up('AltLeft')]);
    // And G without the modifiers is just a G.
    capture.keyUp(key('ControlLeft'));
    expect(capture.keyDown(key('KeyG'))).toEqual([down('KeyG')]);
  });

  it('ignores unknown keys and keys it never sent', () => {
    const capture = new KeyboardCapture(undefined);
    expect(capture.keyDown(key('Fn'))).toEqual([]);
    expect(capture.keyUp(key('KeyZ'))).toEqual([]);
    expect(capture.keyDown(key('KeyZ', { isComposing: true }))).toEqual([]);
  });

  it('lets go of everything held, newest first, when focus leaves', () => {
    const capture = new KeyboardCapture('Ctrl+Alt');
    capture.keyDown(key('ShiftLeft'));
    capture.keyDown(key('KeyX'));
    expect(capture.releaseAll()).toEqual([up('KeyX'), up('ShiftLeft')]);
    expect(capture.held).toEqual([]);
  });
});
