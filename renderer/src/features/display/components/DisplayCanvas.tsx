import {
  useEffect,
  useId,
  useMemo,
  useRef,
  useState,
  type KeyboardEvent,
  type PointerEvent,
} from 'react';
import { KeyboardIcon } from '../../../components/icons.tsx';
import type { DisplayMode } from '../../../../../electron/common/display-frame-format.ts';
import type { DisplayConnection } from '../display-connection.ts';
import {
  KeyboardCapture,
  formatHotkey,
  parseReleaseHotkey,
  releaseHint,
  type CaptureAction,
} from '../keyboard/keyboard-map.ts';
import { DisplayPainter, canvasSurface, type DisplaySurface } from '../painter/frame-painter.ts';
import { WheelAccumulator, isGuestButton, toGuestPoint } from '../pointer/pointer-map.ts';
import './display.css';

export type DisplayScale = 'fit' | 'actual';

interface DisplayCanvasProps {
  connection: DisplayConnection;
  /** The VM's name, for the screen's accessible name. */
  vmName: string;
  /** From preferences (hotkeys.releaseKeyboard); Ctrl+Alt when unset or unreadable. */
  releaseHotkey?: string;
  initialScale?: DisplayScale;
  /** Where frames are drawn; the canvas's 2D context unless a test gives another. */
  createSurface?: (canvas: HTMLCanvasElement) => DisplaySurface | null;
  /** Runs a callback before the next repaint; requestAnimationFrame unless a test gives another. */
  schedule?: (callback: () => void) => void;
}

type StreamState =
  | { kind: 'waiting' }
  | { kind: 'on'; mode: DisplayMode }
  | { kind: 'off' }
  | { kind: 'broken'; message: string }
  | { kind: 'ended'; message: string };

const defaultSchedule = (callback: () => void) => void requestAnimationFrame(callback);

/**
 * A VM's screen. Frames are painted straight onto the canvas by DisplayPainter; React only
 * re-renders when the mode, the scale or the keyboard capture changes. The pointer works
 * without a grab (the guest has an absolute tablet); the keyboard is captured on a click (or
 * Enter) and released with the release combination, shown while captured.
 */
export function DisplayCanvas({
  connection,
  vmName,
  releaseHotkey,
  initialScale = 'fit',
  createSurface = canvasSurface,
  schedule = defaultSchedule,
}: DisplayCanvasProps) {
  const canvasRef = useRef<HTMLCanvasElement>(null);
  const [stream, setStream] = useState<StreamState>({ kind: 'waiting' });
  const [scale, setScale] = useState<DisplayScale>(initialScale);
  const [captured, setCaptured] = useState(false);
  const hintId = useId();
  const hotkey = useMemo(() => parseReleaseHotkey(releaseHotkey), [releaseHotkey]);
  const capture = useMemo(() => new KeyboardCapture(hotkey), [hotkey]);
  const guestSize = useRef<DisplayMode | null>(null);
  const wheel = useMemo(() => new WheelAccumulator(), []);
  const pendingMove = useRef<{ x: number; y: number } | null>(null);

  useEffect(() => {
    const canvas = canvasRef.current;
    const surface = canvas ? createSurface(canvas) : null;
    if (!surface) {
      setStream({ kind: 'broken', message: 'This window cannot draw the display (no 2D canvas).' });
      return;
    }
    const painter = new DisplayPainter({
      surface,
      schedule,
      ack: (sequence) => connection.ack(sequence),
      onMode: (mode) => {
        guestSize.current = mode;
        setStream(mode ? { kind: 'on', mode } : { kind: 'off' });
      },
      onError: (error) => setStream({ kind: 'broken', message: error.message }),
    });
    const stop = connection.onMessage((data) => painter.handle(data));
    const stopEnd = connection.onEnd?.((reason) => {
      guestSize.current = null;
      setStream({ kind: 'ended', message: reason });
    });
    return () => {
      stop();
      stopEnd?.();
      painter.dispose();
    };
  }, [connection, createSurface, schedule]);

  // Wheel listeners must be non-passive to keep the page from scrolling; React's are passive.
  useEffect(() => {
    const canvas = canvasRef.current;
    if (!canvas) return;
    const onWheel = (event: WheelEvent) => {
      if (!guestSize.current) return;
      event.preventDefault();
      const detents = wheel.add(event.deltaX, event.deltaY, event.deltaMode);
      if (detents) connection.wheel(detents.dx, detents.dy);
    };
    canvas.addEventListener('wheel', onWheel, { passive: false });
    return () => canvas.removeEventListener('wheel', onWheel);
  }, [connection, wheel]);

  function perform(actions: readonly CaptureAction[]) {
    for (const action of actions) {
      if (action.type === 'key') connection.sendKey(action.code, action.pressed);
      else setCaptured(false);
    }
  }

  function startCapture() {
    if (captured || !guestSize.current) return;
    setCaptured(true);
    canvasRef.current?.focus();
  }

  function onKeyDown(event: KeyboardEvent<HTMLCanvasElement>) {
    if (!captured) {
      if (event.key === 'Enter' && guestSize.current) {
        event.preventDefault();
        startCapture();
      }
      return;
    }
    // Every key belongs to the guest while captured: Tab, Backspace, F5 included.
    event.preventDefault();
    event.stopPropagation();
    perform(capture.keyDown(event.nativeEvent));
  }

  function onKeyUp(event: KeyboardEvent<HTMLCanvasElement>) {
    if (!captured) return;
    event.preventDefault();
    event.stopPropagation();
    perform(capture.keyUp(event.nativeEvent));
  }

  function onBlur() {
    if (!captured) return;
    perform(capture.releaseAll());
    connection.releaseAll?.();
    setCaptured(false);
  }

  function guestPoint(event: PointerEvent<HTMLCanvasElement>) {
    const mode = guestSize.current;
    if (!mode) return null;
    return toGuestPoint(
      event.clientX,
      event.clientY,
      event.currentTarget.getBoundingClientRect(),
      mode,
    );
  }

  function onPointerMove(event: PointerEvent<HTMLCanvasElement>) {
    const point = guestPoint(event);
    if (!point) return;
    // Many moves a frame: send only the newest, once per repaint.
    const alreadyQueued = pendingMove.current !== null;
    pendingMove.current = point;
    if (alreadyQueued) return;
    schedule(() => {
      const latest = pendingMove.current;
      pendingMove.current = null;
      if (latest) connection.pointerMove(latest.x, latest.y);
    });
  }

  function onPointerDown(event: PointerEvent<HTMLCanvasElement>) {
    const point = guestPoint(event);
    if (!point || !isGuestButton(event.button)) return;
    event.preventDefault();
    startCapture();
    event.currentTarget.setPointerCapture?.(event.pointerId);
    pendingMove.current = null;
    connection.pointerMove(point.x, point.y);
    connection.pointerButton(event.button, true);
  }

  function onPointerUp(event: PointerEvent<HTMLCanvasElement>) {
    if (!guestSize.current || !isGuestButton(event.button)) return;
    const point = guestPoint(event);
    if (point) connection.pointerMove(point.x, point.y);
    connection.pointerButton(event.button, false);
  }

  const hotkeyText = formatHotkey(hotkey);
  return (
    <div className={`display display--${scale}`}>
      <div className="display__toolbar">
        <span className="display__resolution" data-testid="guest-resolution">
          {stream.kind === 'on'
            ? `${stream.mode.width} × ${stream.mode.height}`
            : stream.kind === 'off'
              ? 'Display off'
              : stream.kind === 'waiting'
                ? 'Connecting…'
                : 'No picture'}
        </span>
        <span
          id={hintId}
          className={captured ? 'display__hint display__hint--captured' : 'display__hint'}
        >
          <KeyboardIcon width={16} height={16} />
          {captured
            ? releaseHint(hotkey)
            : stream.kind === 'on'
              ? 'Click the screen to type into the VM'
              : null}
        </span>
        <div className="display__scale" role="group" aria-label="Scale">
          <button
            type="button"
            className="display__scale-button"
            aria-pressed={scale === 'fit'}
            onClick={() => setScale('fit')}
          >
            Fit
          </button>
          <button
            type="button"
            className="display__scale-button"
            aria-pressed={scale === 'actual'}
            onClick={() => setScale('actual')}
            title="Actual size: one guest pixel per screen pixel"
          >
            1:1
          </button>
        </div>
      </div>
      <div className="display__viewport">
        <canvas
          ref={canvasRef}
          className="display__canvas"
          tabIndex={0}
          role="img"
          aria-label={`Screen of ${vmName}`}
          aria-describedby={hintId}
          data-captured={captured || undefined}
          hidden={stream.kind !== 'on'}
          onKeyDown={onKeyDown}
          onKeyUp={onKeyUp}
          onBlur={onBlur}
          onPointerMove={onPointerMove}
          onPointerDown={onPointerDown}
          onPointerUp={onPointerUp}
          onContextMenu={(event) => event.preventDefault()}
        />
        {stream.kind !== 'on' && (
          <p className="display__placeholder">
            {stream.kind === 'waiting' && 'Waiting for the VM’s display…'}
            {stream.kind === 'off' && 'The guest has turned its display off.'}
            {stream.kind === 'broken' && `The display stopped: ${stream.message}`}
            {stream.kind === 'ended' && `The display ended: ${stream.message}`}
          </p>
        )}
      </div>
      <p className="visually-hidden">
        While the screen has the keyboard, every key goes to the VM; press {hotkeyText} to release
        it.
      </p>
    </div>
  );
}
