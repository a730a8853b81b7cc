/**
 * A client of one VM host's control socket: typed calls, events, serial and display frames.
 * What the host sends is validated as carefully as the host validates clients: a host that
 * breaks the protocol closes the connection with an error, it never throws into the caller.
 */
import { connect, type Socket } from 'node:net';
import {
  FrameDecoder,
  FrameTag,
  HostProtocolError,
  MAX_HOST_FRAME_BYTES,
  PROTOCOL_VERSION,
  encodeBinaryFrame,
  encodeJsonFrame,
  hostFrameTags,
  paramsParsers,
  parseHostJsonFrame,
  type HelloEvent,
  type HostErrorCode,
  type HostEventMap,
  type HostEventName,
  type HostMethod,
  type ParamsOf,
  type RequestMessage,
  type ResultOf,
} from './protocol.ts';

const DEFAULT_CONNECT_TIMEOUT_MS = 5000;

/** A call or connection failed: `code` is the host's (HostErrorCode) or the client's own. */
export class VmHostError extends Error {
  override readonly name = 'VmHostError';

  constructor(
    readonly code: HostErrorCode | 'not-running' | 'disconnected' | 'timeout' | 'protocol-version',
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export interface ConnectOptions {
  /** Gives up connecting (and waiting for the host's hello) after this long. */
  timeoutMs?: number;
}

export interface CallOptions {
  timeoutMs?: number;
}

type EventListener<E extends HostEventName> = (data: HostEventMap[E]) => void;

interface PendingCall {
  method: HostMethod;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout | undefined;
}

/** Call with params only for methods that take them. */
type CallArgs<M extends HostMethod> =
  ParamsOf<M> extends undefined
    ? [params?: undefined, options?: CallOptions]
    : [params: ParamsOf<M>, options?: CallOptions];

export class VmHostClient {
  readonly #socket: Socket;
  readonly #decoder = new FrameDecoder(MAX_HOST_FRAME_BYTES, hostFrameTags);
  readonly #pending = new Map<number, PendingCall>();
  readonly #eventListeners = new Map<HostEventName, Set<(data: never) => void>>();
  readonly #serialListeners = new Set<(bytes: Uint8Array) => void>();
  readonly #displayListeners = new Set<(message: Uint8Array) => void>();
  #nextId = 1;
  #closeError: VmHostError | undefined;
  readonly closed: Promise<VmHostError | undefined>;
  #resolveClosed!: (error: VmHostError | undefined) => void;
  #hello: HelloEvent | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', (error) => {
      this.#closeWith(new VmHostError('disconnected', error.message, { cause: error }));
    });
    socket.on('close', () => this.#closeWith(undefined));
  }

  /** Connects and waits for the host's hello; VmHostError 'not-running' when nobody listens. */
  static async connect(socketPath: string, options: ConnectOptions = {}): Promise<VmHostClient> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const socket = connect(socketPath);
    const client = new VmHostClient(socket);
    let timer: NodeJS.Timeout | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new VmHostError('timeout', `the VM host at ${socketPath} did not answer`)),
          timeoutMs,
        );
        socket.once('error', (error: NodeJS.ErrnoException) => {
          const notThere = ['ENOENT', 'ECONNREFUSED', 'ENOTSOCK'].includes(error.code ?? '');
          reject(
            new VmHostError(
              notThere ? 'not-running' : 'disconnected',
              notThere
                ? `no VM host listens at ${socketPath}`
                : `cannot connect to ${socketPath}: ${error.message}`,
              { cause: error },
            ),
          );
        });
        const offHello = client.on('hello', () => {
          offHello();
          resolve();
        });
        void client.closed.then((error) =>
          reject(error ?? new VmHostError('disconnected', 'the VM host closed the connection')),
        );
      });
    } catch (error) {
      client.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    const hello = client.#hello;
    if (!hello || hello.protocolVersion !== PROTOCOL_VERSION) {
      client.destroy();
      throw new VmHostError(
        'protocol-version',
        `the VM host speaks protocol ${hello?.protocolVersion ?? '?'}, this client ${PROTOCOL_VERSION}; ` +
          'power the VM off and start it again with this version of Nestbox',
      );
    }
    return client;
  }

  /** What the host said on connecting. */
  get hello(): HelloEvent {
    if (!this.#hello) throw new Error('not connected');
    return this.#hello;
  }

  get isOpen(): boolean {
    return this.#closeError === undefined && !this.#socket.destroyed;
  }

  /** Calls a method; rejects with VmHostError (the host's code, or 'disconnected', 'timeout'). */
  call<M extends HostMethod>(method: M, ...[params, options]: CallArgs<M>): Promise<ResultOf<M>> {
    // Checked here too, so bad params fail without a round trip. (A method this client does
    // not know goes to the host, which may be newer.)
    try {
      if (Object.hasOwn(paramsParsers, method)) paramsParsers[method](params);
    } catch (error) {
      return Promise.reject(error as Error);
    }
    if (!this.isOpen) {
      return Promise.reject(
        this.#closeError ?? new VmHostError('disconnected', 'the connection is closed'),
      );
    }
    const id = this.#nextId++;
    const request: RequestMessage = { id, method, ...(params !== undefined ? { params } : {}) };
    return new Promise<ResultOf<M>>((resolve, reject) => {
      const timeoutMs = options?.timeoutMs;
      const timer =
        timeoutMs !== undefined
          ? setTimeout(() => {
              this.#pending.delete(id);
              reject(new VmHostError('timeout', `${method} got no answer in ${timeoutMs} ms`));
            }, timeoutMs)
          : undefined;
      this.#pending.set(id, {
        method,
        resolve: resolve as (value: unknown) => void,
        reject,
        timer,
      });
      this.#socket.write(encodeJsonFrame(request));
    });
  }

  on<E extends HostEventName>(event: E, listener: EventListener<E>): () => void {
    let listeners = this.#eventListeners.get(event);
    if (!listeners) {
      listeners = new Set();
      this.#eventListeners.set(event, listeners);
    }
    const stored = listener as (data: never) => void;
    listeners.add(stored);
    return () => listeners.delete(stored);
  }

  /** Guest serial output (after `subscribe({ serial: true })`). */
  onSerial(listener: (bytes: Uint8Array) => void): () => void {
    this.#serialListeners.add(listener);
    return () => this.#serialListeners.delete(listener);
  }

  /** Display-stream messages (after `subscribe({ display: true })`); ACK each with sendDisplay. */
  onDisplay(listener: (message: Uint8Array) => void): () => void {
    this.#displayListeners.add(listener);
    return () => this.#displayListeners.delete(listener);
  }

  /** Bytes for the guest's COM1, without an answer (a SERIAL frame). */
  sendSerialBytes(bytes: Uint8Array): void {
    if (this.isOpen && bytes.byteLength > 0) {
      this.#socket.write(encodeBinaryFrame(FrameTag.serial, bytes));
    }
  }

  /** A display-stream message to the host (an ACK: encodeAck(sequence)). */
  sendDisplay(message: ArrayBuffer | Uint8Array): void {
    const bytes = message instanceof Uint8Array ? message : new Uint8Array(message);
    if (this.isOpen) this.#socket.write(encodeBinaryFrame(FrameTag.display, bytes));
  }

  /** Closes after what was written has gone out. */
  async close(): Promise<void> {
    if (!this.#socket.destroyed) this.#socket.end();
    await this.closed;
  }

  destroy(): void {
    this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    try {
      for (const frame of this.#decoder.push(chunk)) {
        switch (frame.tag) {
          case FrameTag.json:
            this.#receiveJson(frame.payload);
            break;
          case FrameTag.serial:
            for (const listener of [...this.#serialListeners]) listener(frame.payload);
            break;
          case FrameTag.display:
            for (const listener of [...this.#displayListeners]) listener(frame.payload);
            break;
          case FrameTag.result:
            this.#receiveResult(frame.payload);
            break;
        }
      }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      this.#closeWith(
        new VmHostError(
          error instanceof HostProtocolError ? error.code : 'failed',
          `the VM host broke the protocol: ${message}`,
        ),
      );
      this.#socket.destroy();
    }
  }

  #receiveJson(payload: Uint8Array): void {
    const parsed = parseHostJsonFrame(payload);
    if (parsed.kind === 'event') {
      const { event, data } = parsed.message;
      if (event === 'hello') this.#hello = data as HelloEvent;
      if (event === 'protocol-error') {
        const error = data as { code?: HostErrorCode; message?: string };
        this.#closeError ??= new VmHostError(
          error.code ?? 'failed',
          `the VM host disconnected this client: ${error.message ?? 'protocol error'}`,
        );
      }
      const listeners = this.#eventListeners.get(event as HostEventName);
      for (const listener of [...(listeners ?? [])]) (listener as (data: unknown) => void)(data);
      return;
    }
    const response = parsed.message;
    const call = this.#take(response.id);
    if (!call) return;
    if ('error' in response) {
      call.reject(new VmHostError(response.error.code, response.error.message));
    } else {
      call.resolve(response.result);
    }
  }

  #receiveResult(payload: Uint8Array): void {
    if (payload.byteLength < 4)
      throw new HostProtocolError('bad-frame', 'a RESULT frame without an id');
    const id = Buffer.from(payload.buffer, payload.byteOffset, 4).readUInt32BE(0);
    const call = this.#take(id);
    call?.resolve(payload.subarray(4));
  }

  #take(id: number): PendingCall | undefined {
    const call = this.#pending.get(id);
    if (!call) return undefined;
    this.#pending.delete(id);
    clearTimeout(call.timer);
    return call;
  }

  #closeWith(error: VmHostError | undefined): void {
    if (error) this.#closeError ??= error;
    if (!this.#socket.destroyed && error) this.#socket.destroy();
    if (this.#socket.destroyed || error) {
      const reason =
        this.#closeError ?? new VmHostError('disconnected', 'the VM host closed the connection');
      for (const [id, call] of this.#pending) {
        this.#pending.delete(id);
        clearTimeout(call.timer);
        call.reject(reason);
      }
      this.#resolveClosed(this.#closeError);
    }
  }
}
