/**
 * What the display needs from a transport: display-stream messages in (docs/display-stream.md),
 * acknowledgements and input out. The Electron MessagePort and the `nestbox serve` WebSocket
 * (`vm.display` subscription, plus `vms.input`) both fit behind it.
 */
export interface DisplayConnection {
  /** Each message as it arrives (an ArrayBuffer); returns a function that stops listening. */
  onMessage(listener: (data: ArrayBuffer) => void): () => void;
  /** Every message up to `sequence` is handled (painted): paces the stream. */
  ack(sequence: number): void;
  /** A key by its `KeyboardEvent.code`. */
  sendKey(code: string, pressed: boolean): void;
  /** The pointer at guest framebuffer pixel (x, y). */
  pointerMove(x: number, y: number): void;
  /** As MouseEvent.button: 0 main, 1 middle, 2 secondary, 3 back, 4 forward. */
  pointerButton(button: number, pressed: boolean): void;
  /** Wheel detents; dy > 0 scrolls down. */
  wheel(dx: number, dy: number): void;
  /** Lets go of every key and button still held; optional (key-ups are sent anyway). */
  releaseAll?(): void;
  /** The stream ended on its own (the VM stopped, the link dropped), with a sentence why. */
  onEnd?(listener: (reason: string) => void): () => void;
}
