/**
 * Keyboard and pointer input end to end on real /dev/kvm, driven by the
 * input-echo guest (input-echo.c over guest_virtio.h), which prints every
 * byte it reads from the i8042 and, once it drives them, every event of the
 * virtio keyboard (00:14.0) and tablet (00:15.0):
 * - before a virtio keyboard driver runs, keys go to the PS/2 keyboard and
 *   arrive translated to scancode set 1 (the i8042's reset command byte has
 *   translation on): KeyA 1e/9e, ArrowLeft e0 4b/e0 cb, Ctrl+Alt+Del as one
 *   combo; pointer input has nowhere to go; unknown codes are refused;
 * - every code of addon.keyCodeNames() pressed and released through PS/2:
 *   a make code for each, all different, the set 1 break code derived from
 *   it, and the exact standard set 1 codes for the 105-key ISO layout;
 * - once the driver set DRIVER_OK, keys go to the virtio keyboard as
 *   EV_KEY + SYN_REPORT (every code again: the evdev code, the standard
 *   KEY_* for the ISO keys), a key pressed on PS/2 is still released there;
 *   the tablet reports EV_ABS scaled to 0..32767 over the current display
 *   size (also after the guest changes the mode), buttons as BTN_*, the wheel
 *   as REL_WHEEL / REL_HWHEEL; releaseAllInput() lets go of held keys and
 *   buttons.
 * Without a usable /dev/kvm these tests fail.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { GuestConsole } from './guest-console.ts';
import { addonWithKvm } from './kvm-addon.ts';
import type { NativeAddon } from '../../../electron/services/native/native-addon.ts';
import { buildGuests, type GuestImages } from './build-guests.ts';
import { kvmSkipReason } from '../kvm-for-tests.ts';

/** Generous: CPL-0 guest code is emulated on the CI machines (~0.6 µs per instruction). */
const STEP_TIMEOUT_MS = 60_000;

let addon: NativeAddon;
let guests: GuestImages;

before(() => {
  addon = addonWithKvm();
  guests = buildGuests();
});

/**
 * The 105-key ISO layout: KeyboardEvent.code, the IBM scancode set 1 make
 * code, the Linux evdev KEY_* code. Standard values, written down here
 * independently of the VMM's table.
 */
const ISO_105: readonly (readonly [code: string, set1: string, evdev: number])[] = [
  ['Escape', '01', 1],
  ['F1', '3b', 59],
  ['F2', '3c', 60],
  ['F3', '3d', 61],
  ['F4', '3e', 62],
  ['F5', '3f', 63],
  ['F6', '40', 64],
  ['F7', '41', 65],
  ['F8', '42', 66],
  ['F9', '43', 67],
  ['F10', '44', 68],
  ['F11', '57', 87],
  ['F12', '58', 88],
  ['Backquote', '29', 41],
  ['Digit1', '02', 2],
  ['Digit2', '03', 3],
  ['Digit3', '04', 4],
  ['Digit4', '05', 5],
  ['Digit5', '06', 6],
  ['Digit6', '07', 7],
  ['Digit7', '08', 8],
  ['Digit8', '09', 9],
  ['Digit9', '0a', 10],
  ['Digit0', '0b', 11],
  ['Minus', '0c', 12],
  ['Equal', '0d', 13],
  ['Backspace', '0e', 14],
  ['Tab', '0f', 15],
  ['KeyQ', '10', 16],
  ['KeyW', '11', 17],
  ['KeyE', '12', 18],
  ['KeyR', '13', 19],
  ['KeyT', '14', 20],
  ['KeyY', '15', 21],
  ['KeyU', '16', 22],
  ['KeyI', '17', 23],
  ['KeyO', '18', 24],
  ['KeyP', '19', 25],
  ['BracketLeft', '1a', 26],
  ['BracketRight', '1b', 27],
  ['Enter', '1c', 28],
  ['CapsLock', '3a', 58],
  ['KeyA', '1e', 30],
  ['KeyS', '1f', 31],
  ['KeyD', '20', 32],
  ['KeyF', '21', 33],
  ['KeyG', '22', 34],
  ['KeyH', '23', 35],
  ['KeyJ', '24', 36],
  ['KeyK', '25', 37],
  ['KeyL', '26', 38],
  ['Semicolon', '27', 39],
  ['Quote', '28', 40],
  ['Backslash', '2b', 43],
  ['ShiftLeft', '2a', 42],
  ['IntlBackslash', '56', 86],
  ['KeyZ', '2c', 44],
  ['KeyX', '2d', 45],
  ['KeyC', '2e', 46],
  ['KeyV', '2f', 47],
  ['KeyB', '30', 48],
  ['KeyN', '31', 49],
  ['KeyM', '32', 50],
  ['Comma', '33', 51],
  ['Period', '34', 52],
  ['Slash', '35', 53],
  ['ShiftRight', '36', 54],
  ['ControlLeft', '1d', 29],
  ['MetaLeft', 'e0 5b', 125],
  ['AltLeft', '38', 56],
  ['Space', '39', 57],
  ['AltRight', 'e0 38', 100],
  ['MetaRight', 'e0 5c', 126],
  ['ContextMenu', 'e0 5d', 127],
  ['ControlRight', 'e0 1d', 97],
  ['PrintScreen', 'e0 2a e0 37', 99],
  ['ScrollLock', '46', 70],
  ['Pause', 'e1 1d 45 e1 9d c5', 119],
  ['Insert', 'e0 52', 110],
  ['Home', 'e0 47', 102],
  ['PageUp', 'e0 49', 104],
  ['Delete', 'e0 53', 111],
  ['End', 'e0 4f', 107],
  ['PageDown', 'e0 51', 109],
  ['ArrowUp', 'e0 48', 103],
  ['ArrowLeft', 'e0 4b', 105],
  ['ArrowDown', 'e0 50', 108],
  ['ArrowRight', 'e0 4d', 106],
  ['NumLock', '45', 69],
  ['NumpadDivide', 'e0 35', 98],
  ['NumpadMultiply', '37', 55],
  ['NumpadSubtract', '4a', 74],
  ['Numpad7', '47', 71],
  ['Numpad8', '48', 72],
  ['Numpad9', '49', 73],
  ['NumpadAdd', '4e', 78],
  ['Numpad4', '4b', 75],
  ['Numpad5', '4c', 76],
  ['Numpad6', '4d', 77],
  ['Numpad1', '4f', 79],
  ['Numpad2', '50', 80],
  ['Numpad3', '51', 81],
  ['NumpadEnter', 'e0 1c', 96],
  ['Numpad0', '52', 82],
  ['NumpadDecimal', '53', 83],
];

/** Keys a PS/2 keyboard sends no break code for. */
const MAKE_ONLY = new Set(['Pause', 'Lang1', 'Lang2']);

/** The set 1 break code of a make code: its strokes (0xE0 + code, or a code) released in reverse. */
function set1Break(make: string[]): string[] {
  const strokes: string[][] = [];
  for (let i = 0; i < make.length; ++i) {
    if (make[i] === 'e0' && i + 1 < make.length) {
      strokes.push(['e0', make[i + 1] ?? '']);
      ++i;
    } else {
      strokes.push([make[i] ?? '']);
    }
  }
  return strokes
    .reverse()
    .flatMap((stroke) =>
      stroke.map((byte, index) =>
        index === stroke.length - 1 ? (Number.parseInt(byte, 16) | 0x80).toString(16) : byte,
      ),
    );
}

/** virtio_input.h scale_to_abs: pixel 0 → 0, extent - 1 → 32767, rounded; clamped. */
function scaleToAbs(pixel: number, extent: number): number {
  if (extent <= 1) return 0;
  const last = extent - 1;
  const clamped = Math.min(Math.max(pixel, 0), last);
  return Math.floor((clamped * 32767 + Math.floor(last / 2)) / last);
}

// ---- the guest's console ----

class InputConsole extends GuestConsole {
  /** Serial offset after the last "sync" consumed. */
  #consumed = 0;

  /**
   * Sends `command` and returns the lines the guest printed since the last
   * call, up to the line matching `answer` (not included) — all of them
   * complete lines, so for "s" everything the input sent before produced.
   */
  async exchange(command: string, answer: RegExp = /^sync$/): Promise<string[]> {
    assert.equal(this.session.sendSerialInput(command), 1, `the guest's COM1 took "${command}"`);
    let result: string[] = [];
    await this.until(`a line matching ${answer}`, () => {
      const text = this.serial.slice(this.#consumed);
      const lines = text.split('\n');
      let offset = 0;
      for (let i = 0; i < lines.length - 1; ++i) {
        const line = lines[i] ?? '';
        offset += line.length + 1;
        if (answer.test(line)) {
          result = lines.slice(0, i + 1);
          this.#consumed += offset;
          return true;
        }
      }
      return false;
    });
    return result;
  }

  /** What the pending input produced, split by source. */
  async sync(): Promise<{ ps2: string[]; keyboard: string[]; tablet: string[]; other: string[] }> {
    const lines = (await this.exchange('s')).slice(0, -1);
    const result = { ps2: [] as string[], keyboard: [] as string[], tablet: [] as string[] };
    const other: string[] = [];
    for (const line of lines) {
      if (line.startsWith('ps2 ')) result.ps2.push(line.slice(4));
      else if (line.startsWith('vin K ')) result.keyboard.push(line.slice(6));
      else if (line.startsWith('vin T ')) result.tablet.push(line.slice(6));
      else other.push(line);
    }
    return { ...result, other };
  }
}

const SYN = '0 0 0';

describe('the key table', () => {
  test('keyCodeNames() covers the 105-key ISO layout, without duplicates', () => {
    const names = addon.keyCodeNames();
    assert.equal(new Set(names).size, names.length, 'no code listed twice');
    const missing = ISO_105.map(([code]) => code).filter((code) => !names.includes(code));
    assert.deepEqual(missing, [], 'every ISO key is known');
    assert.equal(ISO_105.length, 105);
    assert.equal(new Set(ISO_105.map(([code]) => code)).size, 105);
  });
});

describe('input (input-echo guest)', { skip: kvmSkipReason() }, () => {
  test('PS/2 before the virtio driver, every key on both keyboards, the tablet', async (t) => {
    const guest = new InputConsole(
      addon,
      { kernelPath: guests.elf['input-echo'], memoryMiB: 64, cpus: 1, entropy: false },
      STEP_TIMEOUT_MS,
    );
    const session = guest.session;
    const input = session.input;
    const began = performance.now();
    const elapsed = () => `${((performance.now() - began) / 1000).toFixed(2)} s`;
    try {
      session.start();
      await guest.until('the guest to set up the i8042', () =>
        /^input-echo ready$/m.test(guest.serial),
      );

      await t.test('the i8042 as the guest finds it', async () => {
        const setup = await guest.exchange('s');
        assert.deepEqual(setup, [
          // Reset command byte 0x45: keyboard interrupt, system flag, translation.
          'i8042: cmd=44 was=45 ack=fa id=faab41',
          'input-echo ready',
          'sync',
        ]);
      });

      await t.test('PS/2: set 1 through the translator, combos, refusals', async () => {
        assert.equal(input.sendKey('KeyA', true), true);
        assert.equal(input.sendKey('KeyA', false), true);
        assert.deepEqual((await guest.sync()).ps2, ['1e', '9e'], 'KeyA make and break, set 1');

        assert.equal(input.sendKey('ArrowLeft', true), true);
        assert.equal(input.sendKey('ArrowLeft', false), true);
        assert.deepEqual((await guest.sync()).ps2, ['e0', '4b', 'e0', 'cb'], 'an extended key');

        assert.equal(input.sendKeyCombo(['ControlLeft', 'AltLeft', 'Delete']), true);
        assert.deepEqual(
          (await guest.sync()).ps2,
          ['1d', '38', 'e0', '53', 'e0', 'd3', 'b8', '9d'],
          'Ctrl+Alt+Del: pressed in order, released in reverse',
        );

        assert.equal(input.sendKey('NoSuchKey', true), false, 'an unknown code is refused');
        assert.equal(input.sendKey('keya', true), false, 'codes are case-sensitive');
        assert.equal(input.sendKeyCombo(['ControlLeft', 'NoSuchKey']), false);
        assert.equal(input.pointerMove(10, 10), false, 'no tablet driver yet');
        assert.equal(input.pointerButton(0, true), false, 'no tablet driver yet');
        assert.equal(input.wheel(0, 1), false, 'no tablet driver yet');

        assert.equal(input.sendKey('ShiftLeft', true), true);
        input.releaseAllInput();
        assert.deepEqual((await guest.sync()).ps2, ['2a', 'aa'], 'releaseAllInput() on PS/2');
      });

      await t.test('PS/2: every code of keyCodeNames(), pressed and released', async () => {
        const names = addon.keyCodeNames();
        const started = performance.now();
        const makes = new Map<string, string>();
        const iso = new Map(ISO_105.map(([code, set1]) => [code, set1]));
        for (const code of names) {
          assert.equal(input.sendKey(code, true), true, `${code} pressed`);
          const press = await guest.sync();
          assert.equal(input.sendKey(code, false), true, `${code} released`);
          const release = await guest.sync();
          assert.deepEqual([press.keyboard, press.tablet, press.other], [[], [], []], code);
          assert.ok(press.ps2.length > 0, `${code}: a make code`);
          const make = press.ps2.join(' ');
          const twin = [...makes].find(([, other]) => other === make);
          assert.equal(twin, undefined, `${code} and ${twin?.[0]} send the same make code ${make}`);
          makes.set(code, make);
          const standard = iso.get(code);
          if (standard !== undefined) assert.equal(make, standard, `${code}: the set 1 make code`);
          assert.deepEqual(
            release.ps2,
            MAKE_ONLY.has(code) ? [] : set1Break(press.ps2),
            `${code}: the set 1 break code of ${make}`,
          );
        }
        console.log(
          `# PS/2: ${names.length} keys in ${((performance.now() - started) / 1000).toFixed(2)} s`,
        );
      });

      await t.test('the virtio keyboard and tablet come up; keys move over', async () => {
        // Held on PS/2 while the driver comes up: released there too.
        assert.equal(input.sendKey('ControlRight', true), true);
        assert.deepEqual((await guest.sync()).ps2, ['e0', '1d']);
        const lines = await guest.exchange('v', /^virtio (ready|failed)$/);
        assert.deepEqual(lines, [
          'virtio K slot=14 name="Nestbox Keyboard" abs-x=none queue=64 status=0f',
          'virtio T slot=15 name="Nestbox Tablet" abs-x=0..32767 queue=64 status=0f',
          'virtio ready',
        ]);
        assert.equal(input.sendKey('ControlRight', false), true);
        const release = await guest.sync();
        assert.deepEqual(release.ps2, ['e0', '9d'], 'released where it was pressed');
        assert.deepEqual(release.keyboard, []);

        assert.equal(input.sendKey('KeyA', true), true);
        const press = await guest.sync();
        assert.deepEqual(press.keyboard, ['1 30 1', SYN], 'EV_KEY KEY_A 1, SYN_REPORT');
        assert.deepEqual(press.ps2, [], 'nothing on PS/2 once the virtio driver runs');
        assert.equal(input.sendKey('KeyA', true), true, 'host autorepeat');
        assert.equal(input.sendKey('KeyA', false), true);
        assert.deepEqual(
          (await guest.sync()).keyboard,
          ['1 30 0', SYN],
          'no repeat from the host (EV_REP: the guest repeats), then the release',
        );

        assert.equal(input.sendKeyCombo(['ControlLeft', 'AltLeft', 'Delete']), true);
        assert.deepEqual((await guest.sync()).keyboard, [
          '1 29 1',
          SYN,
          '1 56 1',
          SYN,
          '1 111 1',
          SYN,
          '1 111 0',
          SYN,
          '1 56 0',
          SYN,
          '1 29 0',
          SYN,
        ]);

        assert.equal(input.sendKey('KeyB', true), true);
        input.releaseAllInput();
        assert.deepEqual((await guest.sync()).keyboard, ['1 48 1', SYN, '1 48 0', SYN]);
      });

      await t.test('virtio: every code of keyCodeNames(), pressed and released', async () => {
        const names = addon.keyCodeNames();
        const started = performance.now();
        const evdevOf = new Map<number, string>();
        const iso = new Map(ISO_105.map(([code, , evdev]) => [code, evdev]));
        for (const code of names) {
          assert.equal(input.sendKey(code, true), true, code);
          assert.equal(input.sendKey(code, false), true, code);
          const events = await guest.sync();
          assert.deepEqual([events.ps2, events.tablet, events.other], [[], [], []], code);
          const match = /^1 (\d+) 1$/.exec(events.keyboard[0] ?? '');
          assert.ok(match, `${code}: a key press: ${events.keyboard.join(' | ')}`);
          const evdev = Number(match[1]);
          assert.deepEqual(events.keyboard, [`1 ${evdev} 1`, SYN, `1 ${evdev} 0`, SYN], code);
          assert.equal(
            evdevOf.get(evdev),
            undefined,
            `${code} and ${evdevOf.get(evdev)}: ${evdev}`,
          );
          evdevOf.set(evdev, code);
          const standard = iso.get(code);
          if (standard !== undefined) assert.equal(evdev, standard, `${code}: KEY_* ${standard}`);
        }
        console.log(
          `# virtio: ${names.length} keys in ${((performance.now() - started) / 1000).toFixed(2)} s`,
        );
      });

      await t.test('the tablet: absolute position, buttons, wheel', async () => {
        // The direct-boot mode: 1024x768.
        assert.equal(input.pointerMove(100, 200), true);
        assert.deepEqual((await guest.sync()).tablet, [
          `3 0 ${scaleToAbs(100, 1024)}`,
          `3 1 ${scaleToAbs(200, 768)}`,
          SYN,
        ]);
        assert.equal(scaleToAbs(100, 1024), 3203);
        assert.equal(input.pointerMove(0, 0), true);
        assert.equal(input.pointerMove(1023, 767), true);
        assert.equal(input.pointerMove(-50, 5000), true);
        assert.deepEqual(
          (await guest.sync()).tablet,
          ['3 0 0', '3 1 0', SYN, '3 0 32767', '3 1 32767', SYN, '3 0 0', '3 1 32767', SYN],
          'the corners are the ends of the axis; outside is clamped to the edge',
        );

        assert.equal(input.pointerButton(0, true), true);
        assert.equal(input.pointerButton(0, false), true);
        assert.equal(input.pointerButton(2, true), true);
        assert.equal(input.pointerButton(1, true), true);
        assert.deepEqual((await guest.sync()).tablet, [
          '1 272 1',
          SYN,
          '1 272 0',
          SYN,
          '1 273 1',
          SYN,
          '1 274 1',
          SYN,
        ]);
        input.releaseAllInput();
        const released = (await guest.sync()).tablet;
        assert.deepEqual(
          [...released].sort(),
          ['1 273 0', '1 274 0', SYN, SYN].sort(),
          `releaseAllInput() lets go of the buttons: ${released.join(' | ')}`,
        );

        assert.equal(input.wheel(0, 1), true);
        assert.equal(input.wheel(0, -2), true);
        assert.equal(input.wheel(3, 0), true);
        assert.deepEqual(
          (await guest.sync()).tablet,
          ['2 8 -1', SYN, '2 8 2', SYN, '2 6 3', SYN],
          'REL_WHEEL positive away from the user (DOM dy > 0 is -1), REL_HWHEEL as dx',
        );
      });

      await t.test('the tablet follows a mode change (640x480)', async () => {
        const from = guest.mark;
        assert.deepEqual(await guest.exchange('m', /^mode 640x480/), ['mode 640x480 ok']);
        await guest.until('the 640x480 mode event', () =>
          guest
            .since(from, 'display-mode')
            .some(({ event }) => event.mode?.width === 640 && event.mode.height === 480),
        );
        assert.equal(input.pointerMove(320, 240), true);
        assert.equal(input.pointerMove(639, 479), true);
        assert.equal(input.pointerMove(1000, 700), true);
        assert.deepEqual((await guest.sync()).tablet, [
          `3 0 ${scaleToAbs(320, 640)}`,
          `3 1 ${scaleToAbs(240, 480)}`,
          SYN,
          '3 0 32767',
          '3 1 32767',
          SYN,
          '3 0 32767',
          '3 1 32767',
          SYN,
        ]);
        assert.equal(scaleToAbs(320, 640), 16409);
      });

      await t.test('the guest stops', async () => {
        assert.deepEqual(await guest.exchange('q', /^bye$/), ['bye']);
        assert.deepEqual(await session.ended, { state: 'stopped', reason: 'halted' });
        assert.deepEqual(
          guest.events.filter(({ event }) => event.type === 'error' || event.type === 'reset'),
          [],
        );
        console.log(`# input-echo: ${elapsed()}`);
      });
    } finally {
      if (session.state === 'running' || session.state === 'paused') await session.powerOff();
      session.close();
    }
  });
});
