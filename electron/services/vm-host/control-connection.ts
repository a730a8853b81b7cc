/**
 * The host's side of one client connection: frames in (decoded and validated), frames out,
 * and the client's subscriptions. Every protocol violation ends here with a `protocol-error`
 * event and a disconnect; nothing a client sends can throw into the host.
 */
import type { Socket } from 'node:net';
import type { DisplayViewer } from '../display/display-stream.ts';
import type { CreditViewerSink } from '../display/viewer-sink.ts';
import {
  FrameDecoder,
  FrameTag,
  HostProtocolError,
  MAX_CLIENT_FRAME_BYTES,
  clientFrameTags,
  encodeJsonFrame,
  frameHeader,
  parseRequestFrame,
  resultPrefix,
  type EventMessage,
  type HostErrorCode,
  type HostEventMap,
  type HostEventName,
  type RequestMessage,
  type ResponseMessage,
} from './protocol.ts';

/** How long a disconnected client gets to read its last message before the socket is destroyed. */
const CLOSE_GRACE_MS = 1000;

export interface ConnectionHandlers {
  onRequest(connection: ControlConnection, request: RequestMessage): void;
  onSerialInput(connection: ControlConnection, bytes: Uint8Array): void;
  onDisplayMessage(connection: ControlConnection, bytes: Uint8Array): void;
  onClose(connection: ControlConnection): void;
  onProtocolError(connection: ControlConnection, error: HostProtocolError): void;
}

export class ControlConnection {
  readonly #decoder = new FrameDecoder(MAX_CLIENT_FRAME_BYTES, clientFrameTags);
  #closing = false;
  #closed = false;
  /** Subscribed to serial output. */
  serial = false;
  /** Subscribed to the display stream (the viewer is added right after the answer). */
  displayWanted = false;
  display: { viewer: DisplayViewer; sink: CreditViewerSink } | null = null;

  constructor(
    readonly socket: Socket,
    private readonly handlers: ConnectionHandlers,
    /** Bytes queued for this client beyond which it is dropped as too slow. */
    private readonly maxBufferedBytes: number,
  ) {
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.#closed = true;
      this.handlers.onClose(this);
    });
  }

  get open(): boolean {
    return !this.#closing && !this.#closed;
  }

  sendEvent<E extends HostEventName>(event: E, data: HostEventMap[E]): void {
    const message: EventMessage = { event, data };
    this.#write(encodeJsonFrame(message));
  }

  sendResponse(response: ResponseMessage): void {
    this.#write(encodeJsonFrame(response));
  }

  sendResult(id: number, bytes: Uint8Array): void {
    if (!this.open) return;
    const prefix = resultPrefix(id);
    this.socket.cork();
    this.socket.write(frameHeader(FrameTag.result, prefix.length + bytes.byteLength));
    this.socket.write(prefix);
    this.#write(bytes);
    this.socket.uncork();
  }

  sendSerial(bytes: Uint8Array): void {
    if (!this.open) return;
    this.socket.cork();
    this.socket.write(frameHeader(FrameTag.serial, bytes.byteLength));
    this.#write(bytes);
    this.socket.uncork();
  }

  /** One display-stream message; throws once the connection is closing (the stream drops the viewer). */
  sendDisplay(message: ArrayBuffer): void {
    if (!this.open) throw new Error('the client has disconnected');
    this.socket.cork();
    this.socket.write(frameHeader(FrameTag.display, message.byteLength));
    this.#write(new Uint8Array(message));
    this.socket.uncork();
  }

  /** Tells the client why, then disconnects it. */
  fail(code: HostErrorCode, message: string): void {
    if (!this.open) return;
    const event: EventMessage = { event: 'protocol-error', data: { code, message } };
    this.#closing = true;
    this.socket.write(encodeJsonFrame(event));
    this.#end();
  }

  /** Ends the connection after what is queued; destroys it if the client does not read. */
  close(): void {
    if (!this.open) return;
    this.#closing = true;
    this.#end();
  }

  destroy(): void {
    this.#closing = true;
    this.socket.destroy();
  }

  #end(): void {
    this.socket.end();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  #write(bytes: Uint8Array): void {
    if (!this.open) return;
    this.socket.write(bytes);
    if (this.socket.writableLength > this.maxBufferedBytes) {
      this.fail(
        'too-slow',
        `more than ${this.maxBufferedBytes} bytes are waiting for this client to read them`,
      );
    }
  }

  #receive(chunk: Buffer): void {
    if (!this.open) return;
    try {
      for (const frame of this.#decoder.push(chunk)) {
        if (!this.open) return;
        switch (frame.tag) {
          case FrameTag.json:
            this.handlers.onRequest(this, parseRequestFrame(frame.payload));
            break;
          case FrameTag.serial:
            this.handlers.onSerialInput(this, frame.payload);
            break;
          case FrameTag.display:
            this.handlers.onDisplayMessage(this, frame.payload);
            break;
          default:
            throw new HostProtocolError('bad-frame', `a client may not send tag ${frame.tag}`);
        }
      }
    } catch (error) {
      const protocolError =
        error instanceof HostProtocolError
          ? error
          : new HostProtocolError('failed', error instanceof Error ? error.message : String(error));
      this.handlers.onProtocolError(this, protocolError);
      this.fail(protocolError.code, protocolError.message);
    }
  }
}
