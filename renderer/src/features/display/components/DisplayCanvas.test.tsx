import { act, fireEvent, render, screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it, vi } from 'vitest';
import { encodeFrame, encodeMode } from '../../../../../electron/common/display-frame-format.ts';
import type { DisplayConnection } from '../display-connection.ts';
import type { DisplaySurface, PixelImage } from '../painter/frame-painter.ts';
import { DisplayCanvas } from './DisplayCanvas.tsx';

function fakeConnection() {
  let listener: ((data: ArrayBuffer) => void) | null = null;
  const connection = {
    onMessage: vi.fn((next: (data: ArrayBuffer) => void) => {
      listener = next;
      return () => {
        listener = null;
      };
    }),
    ack: vi.fn(),
    sendKey: vi.fn(),
    pointerMove: vi.fn(),
    pointerButton: vi.fn(),
    wheel: vi.fn(),
    releaseAll: vi.fn(),
  } satisfies DisplayConnection;
  const emit = (data: ArrayBuffer) => act(() => listener?.(data));
  return { connection, emit, listening: () => listener !== null };
}

function fakeSurface() {
  const presents: unknown[] = [];
  const surface: DisplaySurface = {
    resize: (width, height): PixelImage => ({
      width,
      height,
      data: new Uint8ClampedArray(width * height * 4),
    }),
    present: (_image, dirty) => presents.push(dirty),
  };
  return { create: () => surface, presents };
}

const now = (callback: () => void) => callback();

function setup(releaseHotkey?: string) {
  const { connection, emit, listening } = fakeConnection();
  const surface = fakeSurface();
  const view = render(
    <DisplayCanvas
      connection={connection}
      vmName="Alpine"
      releaseHotkey={releaseHotkey}
      createSurface={surface.create}
      schedule={now}
    />,
  );
  // Hidden (and so out of the accessibility tree) until the stream has a picture.
  const canvas = view.container.querySelector('canvas') as HTMLCanvasElement;
  // jsdom lays nothing out: give the canvas the box a 640×480 guest would get at 1:2.
  canvas.getBoundingClientRect = () => new DOMRect(10, 20, 320, 240);
  const showMode = () => emit(encodeMode(0, { width: 640, height: 480, format: 'x8r8g8b8' }));
  return { connection, emit, listening, surface, canvas, showMode, ...view };
}

describe('DisplayCanvas', () => {
  it('waits for the stream, then shows the guest resolution and acknowledges what it painted', () => {
    const { connection, emit, showMode, surface } = setup();
    expect(screen.getByTestId('guest-resolution')).toHaveTextContent('Connecting…');
    expect(screen.getByText('Waiting for the VM’s display…')).toBeInTheDocument();

    showMode();
    expect(screen.getByRole('img', { name: 'Screen of Alpine' })).toBeVisible();
    expect(screen.getByTestId('guest-resolution')).toHaveTextContent('640 × 480');
    expect(connection.ack).toHaveBeenLastCalledWith(0);

    emit(
      encodeFrame({
        sequence: 1,
        width: 640,
        height: 480,
        pixels: new Uint8Array(640 * 480 * 4),
        stride: 640 * 4,
        rects: [{ x: 0, y: 0, width: 640, height: 480 }],
        full: true,
      }),
    );
    expect(surface.presents).toEqual([{ x: 0, y: 0, width: 640, height: 480 }]);
    expect(connection.ack).toHaveBeenLastCalledWith(1);
  });

  it('says when the guest turns its display off, and when the stream breaks', () => {
    const { emit } = setup();
    emit(encodeMode(0, null));
    expect(screen.getByText('The guest has turned its display off.')).toBeInTheDocument();
    expect(screen.getByTestId('guest-resolution')).toHaveTextContent('Display off');
    emit(encodeMode(5, null)); // out of order
    expect(screen.getByText(/The display stopped: .*out of order/)).toBeInTheDocument();
  });

  it('captures the keyboard on a click, sends keys, and releases on Ctrl+Alt with a visible hint', async () => {
    const user = userEvent.setup();
    const { connection, canvas, showMode } = setup();
    showMode();
    expect(screen.getByText('Click the screen to type into the VM')).toBeInTheDocument();

    await user.pointer({
      keys: '[MouseLeft]',
      target: canvas,
      coords: { clientX: 170, clientY: 140 },
    });
    expect(canvas).toHaveFocus();
    expect(screen.getByText('Press Ctrl+Alt to release')).toBeInTheDocument();
    expect(connection.pointerMove).toHaveBeenCalledWith(320, 240);
    expect(connection.pointerButton).toHaveBeenCalledWith(0, true);
    expect(connection.pointerButton).toHaveBeenCalledWith(0, false);

    await user.keyboard('a');
    expect(connection.sendKey.mock.calls).toEqual([
      ['KeyA', true],
      ['KeyA', false],
    ]);

    connection.sendKey.mockClear();
    await user.keyboard('{Control>}{Alt>}{/Alt}{/Control}');
    expect(connection.sendKey.mock.calls).toEqual([
      ['ControlLeft', true],
      ['AltLeft', true],
      ['AltLeft', false],
      ['ControlLeft', false],
    ]);
    expect(screen.queryByText('Press Ctrl+Alt to release')).not.toBeInTheDocument();

    // Released: keys no longer go to the guest.
    connection.sendKey.mockClear();
    await user.keyboard('b');
    expect(connection.sendKey).not.toHaveBeenCalled();
  });

  it('captures with Enter from the keyboard too, and shows the hotkey from preferences', async () => {
    const user = userEvent.setup();
    const { connection, canvas, showMode } = setup('Ctrl+Alt+KeyG');
    showMode();
    canvas.focus();
    await user.keyboard('{Enter}');
    expect(screen.getByText('Press Ctrl+Alt+G to release')).toBeInTheDocument();
    expect(connection.sendKey).not.toHaveBeenCalled();
    await user.keyboard('{Control>}{Alt>}g{/Alt}{/Control}');
    expect(screen.queryByText('Press Ctrl+Alt+G to release')).not.toBeInTheDocument();
    expect(connection.sendKey.mock.calls.some(([code]) => code === 'KeyG')).toBe(false);
  });

  it('lets go of held keys when focus leaves the screen', async () => {
    const user = userEvent.setup();
    const { connection, canvas, showMode } = setup();
    showMode();
    await user.click(canvas);
    await user.keyboard('{Shift>}');
    act(() => canvas.blur());
    expect(connection.sendKey).toHaveBeenLastCalledWith('ShiftLeft', false);
    expect(connection.releaseAll).toHaveBeenCalled();
    expect(screen.queryByText('Press Ctrl+Alt to release')).not.toBeInTheDocument();
  });

  it('turns wheel turns into detents', () => {
    const { connection, canvas, showMode } = setup();
    showMode();
    fireEvent.wheel(canvas, { deltaY: 100, deltaMode: 0 });
    expect(connection.wheel).toHaveBeenCalledWith(0, 1);
  });

  it('switches between fit and actual size', async () => {
    const user = userEvent.setup();
    setup();
    const fit = screen.getByRole('button', { name: 'Fit' });
    const actual = screen.getByRole('button', { name: '1:1' });
    expect(fit).toHaveAttribute('aria-pressed', 'true');
    await user.click(actual);
    expect(actual).toHaveAttribute('aria-pressed', 'true');
    expect(fit).toHaveAttribute('aria-pressed', 'false');
  });

  it('says when the stream ends on its own', () => {
    const { connection, showMode, rerender } = setup();
    let ended: (reason: string) => void = () => {};
    const withEnd = {
      ...connection,
      onEnd: (listener: (reason: string) => void) => {
        ended = listener;
        return () => {};
      },
    };
    rerender(
      <DisplayCanvas
        connection={withEnd}
        vmName="Alpine"
        createSurface={fakeSurface().create}
        schedule={now}
      />,
    );
    showMode();
    act(() => ended('the VM stopped.'));
    expect(screen.getByText('The display ended: the VM stopped.')).toBeInTheDocument();
  });

  it('stops listening when it goes away', () => {
    const { listening, unmount } = setup();
    expect(listening()).toBe(true);
    unmount();
    expect(listening()).toBe(false);
  });
});
