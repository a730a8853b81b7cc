/**
 * The control protocol's framing and validation, and the serial input queue: what keeps a
 * bad client from hurting a host, checked without a VM.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  FrameDecoder,
  FrameTag,
  HostProtocolError,
  MAX_CLIENT_FRAME_BYTES,
  clientFrameTags,
  encodeBinaryFrame,
  encodeJsonFrame,
  frameHeader,
  paramsParsers,
  parseHostJsonFrame,
  parseRequestFrame,
  serialParamsBytes,
} from './protocol.ts';
import { SerialHistory } from './serial-history.ts';
import { SerialInputQueue } from './serial-input-queue.ts';

const json = (value: unknown) => Buffer.from(JSON.stringify(value));

describe('frames', () => {
  test('frames survive any split into chunks, several per chunk or one byte at a time', () => {
    const stream = Buffer.concat([
      encodeJsonFrame({ id: 1, method: 'status' }),
      encodeBinaryFrame(FrameTag.serial, Buffer.from('hello')),
      encodeBinaryFrame(FrameTag.display, new Uint8Array(0)),
      encodeBinaryFrame(FrameTag.serial, Buffer.alloc(70_000, 7)),
    ]);
    for (const chunkSize of [1, 3, 5, 6, 64, 65_536, stream.length]) {
      const decoder = new FrameDecoder(MAX_CLIENT_FRAME_BYTES, clientFrameTags);
      const frames = [];
      for (let offset = 0; offset < stream.length; offset += chunkSize) {
        frames.push(...decoder.push(stream.subarray(offset, offset + chunkSize)));
      }
      assert.deepEqual(
        frames.map((frame) => [frame.tag, frame.payload.length]),
        [
          [FrameTag.json, json({ id: 1, method: 'status' }).length],
          [FrameTag.serial, 5],
          [FrameTag.display, 0],
          [FrameTag.serial, 70_000],
        ],
        `chunks of ${chunkSize}`,
      );
      assert.equal(frames[1]?.payload.toString(), 'hello');
      assert.equal(decoder.buffered, 0);
    }
  });

  test('an oversized frame is refused from its header, before its body is buffered', () => {
    const decoder = new FrameDecoder(1024, clientFrameTags);
    assert.throws(() => decoder.push(frameHeader(FrameTag.json, 1024)), {
      name: 'HostProtocolError',
      code: 'frame-too-large',
    });
    const huge = Buffer.from([0xff, 0xff, 0xff, 0xff, FrameTag.json]);
    assert.throws(() => new FrameDecoder(1024, clientFrameTags).push(huge), {
      code: 'frame-too-large',
    });
  });

  test('a zero length or an unknown tag is a bad frame; clients may not send RESULT', () => {
    const decoder = () => new FrameDecoder(1024, clientFrameTags);
    assert.throws(() => decoder().push(Buffer.from([0, 0, 0, 0, 1])), { code: 'bad-frame' });
    assert.throws(() => decoder().push(Buffer.from([0, 0, 0, 1, 9])), { code: 'bad-frame' });
    assert.throws(() => decoder().push(frameHeader(FrameTag.result, 4)), { code: 'bad-frame' });
  });
});

describe('messages', () => {
  test('requests: id, method and optional params, nothing else', () => {
    assert.deepEqual(parseRequestFrame(json({ id: 7, method: 'pause' })), {
      id: 7,
      method: 'pause',
    });
    assert.deepEqual(parseRequestFrame(json({ id: 1, method: 'sendKey', params: { a: 1 } })), {
      id: 1,
      method: 'sendKey',
      params: { a: 1 },
    });
    const bad: [Buffer, RegExp][] = [
      [Buffer.from('not json'), /not UTF-8 JSON/],
      [Buffer.from([0xc3, 0x28]), /not UTF-8 JSON/],
      [json([1, 2]), /not an object/],
      [json(null), /not an object/],
      [json({ method: 'status' }), /id must be an integer/],
      [json({ id: 0, method: 'status' }), /id must be an integer/],
      [json({ id: 1.5, method: 'status' }), /id must be an integer/],
      [json({ id: 2 ** 32, method: 'status' }), /id must be an integer/],
      [json({ id: 1 }), /method must be a short string/],
      [json({ id: 1, method: 'x'.repeat(65) }), /method must be a short string/],
      [json({ id: 1, method: 'status', params: [1] }), /params must be an object/],
      [json({ id: 1, method: 'status', extra: true }), /unknown field "extra"/],
    ];
    for (const [payload, message] of bad) {
      assert.throws(() => parseRequestFrame(payload), { code: 'bad-message', message });
    }
  });

  test('host messages: responses and events, checked the same way', () => {
    assert.deepEqual(parseHostJsonFrame(json({ id: 3, result: { ok: 1 } })), {
      kind: 'response',
      message: { id: 3, result: { ok: 1 } },
    });
    assert.deepEqual(parseHostJsonFrame(json({ event: 'log', data: { message: 'x' } })), {
      kind: 'event',
      message: { event: 'log', data: { message: 'x' } },
    });
    assert.equal(
      parseHostJsonFrame(json({ id: 3, error: { code: 'failed', message: 'no' } })).kind,
      'response',
    );
    assert.throws(() => parseHostJsonFrame(json({ id: 3 })), { code: 'bad-message' });
    assert.throws(() => parseHostJsonFrame(json({ id: 3, error: 'no' })), { code: 'bad-message' });
    assert.throws(() => parseHostJsonFrame(json({ result: 1 })), { code: 'bad-message' });
  });

  test('params are validated per method', () => {
    assert.equal(paramsParsers.status(undefined), undefined);
    assert.equal(paramsParsers.status({}), undefined);
    assert.throws(() => paramsParsers.status({ x: 1 }), {
      code: 'invalid-params',
      message: /unknown parameter "x"/,
    });
    assert.deepEqual(paramsParsers.subscribe({ serial: true }), { serial: true });
    assert.throws(() => paramsParsers.subscribe({ serial: 'yes' }), { code: 'invalid-params' });
    assert.throws(() => paramsParsers.sendSerial({}), /exactly one of text or base64/);
    assert.throws(() => paramsParsers.sendSerial({ text: 'a', base64: 'YQ==' }), /exactly one/);
    assert.throws(() => paramsParsers.sendSerial({ base64: 'not base64!' }), /base64/);
    assert.deepEqual(serialParamsBytes({ text: 'hé' }), Buffer.from('hé'));
    assert.deepEqual(serialParamsBytes({ base64: 'AAH/' }), Buffer.from([0, 1, 255]));
    assert.deepEqual(paramsParsers.sendKey({ code: 'KeyA', pressed: true }), {
      code: 'KeyA',
      pressed: true,
    });
    assert.throws(() => paramsParsers.sendKey({ code: '<script>', pressed: true }), {
      code: 'invalid-params',
    });
    assert.throws(() => paramsParsers.sendKeyCombo({ codes: [] }), { code: 'invalid-params' });
    assert.throws(() => paramsParsers.pointerMove({ x: -1, y: 0 }), { code: 'invalid-params' });
    assert.throws(() => paramsParsers.pointerButton({ button: 5, pressed: true }), {
      code: 'invalid-params',
    });
    assert.deepEqual(paramsParsers.wheel({ dx: 0, dy: -3 }), { dx: 0, dy: -3 });
  });
});

describe('serial input queue', () => {
  test('what the UART refuses is offered again, in order, until the guest took it all', async () => {
    const delivered: number[] = [];
    let room = 3;
    const queue = new SerialInputQueue(
      (bytes) => {
        const taken = Math.min(room, bytes.byteLength);
        delivered.push(...bytes.subarray(0, taken));
        room -= taken;
        return taken;
      },
      { retryMs: 1 },
    );
    queue.push(Uint8Array.from([1, 2, 3, 4, 5]));
    queue.push(Uint8Array.from([6, 7]));
    assert.deepEqual(delivered, [1, 2, 3]);
    assert.equal(queue.queued, 4);
    room = 100;
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(delivered, [1, 2, 3, 4, 5, 6, 7]);
    assert.equal(queue.queued, 0);
    queue.close();
  });

  test('it is bounded: past the capacity input is refused, not buffered', () => {
    const queue = new SerialInputQueue(() => 0, { capacity: 8, retryMs: 1000 });
    queue.push(new Uint8Array(8));
    assert.throws(
      () => queue.push(new Uint8Array(1)),
      (error: unknown) => {
        return error instanceof HostProtocolError && error.code === 'input-full';
      },
    );
    queue.close();
    assert.throws(() => queue.push(new Uint8Array(1)), { code: 'shutting-down' });
  });

  test('a machine that throws (stopped) drops the queue instead of retrying forever', () => {
    const queue = new SerialInputQueue(() => {
      throw new Error('stopped');
    });
    queue.push(new Uint8Array(4));
    assert.equal(queue.queued, 0);
  });
});

test('serial history keeps the newest bytes up to its capacity', () => {
  const history = new SerialHistory(8);
  assert.deepEqual([...history.contents()], []);
  history.add(Buffer.from('abc'));
  history.add(Buffer.from('defgh'));
  assert.equal(Buffer.from(history.contents()).toString(), 'abcdefgh');
  history.add(Buffer.from('ij'));
  assert.equal(Buffer.from(history.contents()).toString(), 'cdefghij');
  history.add(Buffer.from('0123456789'));
  assert.equal(Buffer.from(history.contents()).toString(), '23456789');
});
