import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeAck, encodeMode } from '../../common/display-frame-format.ts';
import { CreditViewerSink, WebSocketViewerSink, type Timers } from './viewer-sink.ts';

const tick = () => new Promise<void>((resolve) => queueMicrotask(resolve));

test('credit sink: at most maxInFlight unacknowledged messages, acks are cumulative', async () => {
  const posted: ArrayBuffer[] = [];
  const sink = new CreditViewerSink((message) => posted.push(message), { maxInFlight: 2 });
  assert.equal(sink.ready(), true);
  sink.send(encodeMode(0, null));
  sink.send(encodeMode(1, null));
  assert.equal(posted.length, 2, 'messages go straight to the transport');
  assert.equal(sink.inFlight, 2);
  assert.equal(sink.ready(), false);

  let woken = 0;
  sink.whenReady(() => woken++);
  assert.equal(sink.handleMessage(encodeAck(1)), true, 'one ACK for both');
  assert.equal(woken, 0, 'never called synchronously');
  await tick();
  assert.equal(woken, 1);
  assert.equal(sink.inFlight, 0);
  sink.send(encodeMode(2, null));
  await tick();
  assert.equal(woken, 1, 'a wait is answered once');
});

test('credit sink: stale, future and malformed acknowledgements change nothing', () => {
  const sink = new CreditViewerSink(() => {}, { maxInFlight: 1 });
  assert.equal(sink.acknowledge(0), false, 'nothing sent yet');
  sink.send(encodeMode(0, null));
  assert.equal(sink.acknowledge(5), false, 'never sent');
  assert.equal(sink.handleMessage('ack 0'), false);
  assert.equal(sink.handleMessage(new Uint8Array(3)), false);
  assert.equal(sink.handleMessage(encodeMode(0, null)), false, 'not an ACK');
  assert.equal(sink.ready(), false);
  assert.equal(sink.acknowledge(0), true);
  assert.equal(sink.acknowledge(0), false, 'already acknowledged');
  assert.equal(sink.ready(), true);
});

test('credit sink: sequences wrap around 2^32', () => {
  const sink = new CreditViewerSink(() => {}, { maxInFlight: 3 });
  sink.send(encodeMode(0xfffffffe, null));
  sink.send(encodeMode(0xffffffff, null));
  sink.send(encodeMode(0, null));
  assert.equal(sink.inFlight, 3);
  assert.equal(sink.acknowledge(0xffffffff), true);
  assert.equal(sink.inFlight, 1);
  assert.equal(sink.acknowledge(0), true);
  assert.equal(sink.inFlight, 0);
  assert.throws(() => new CreditViewerSink(() => {}, { maxInFlight: 0 }), /positive integer/);
});

/** Timers the test fires by hand, counting what is scheduled. */
function manualTimers(): Timers & { pending: (() => void)[]; fire(): void } {
  const pending: (() => void)[] = [];
  return {
    pending,
    setTimeout(callback) {
      pending.push(callback);
      return callback;
    },
    clearTimeout(handle) {
      const index = pending.indexOf(handle as () => void);
      if (index >= 0) pending.splice(index, 1);
    },
    fire() {
      const due = pending.splice(0);
      for (const callback of due) callback();
    },
  };
}

test('WebSocket sink: ready below the high-water mark, polls only while a wait is outstanding', () => {
  const socket = {
    bufferedAmount: 0,
    sent: [] as ArrayBuffer[],
    send(data: ArrayBuffer) {
      this.sent.push(data);
    },
  };
  const timers = manualTimers();
  const sink = new WebSocketViewerSink(socket, { highWaterMark: 100, timers });
  sink.send(encodeMode(0, null));
  assert.equal(socket.sent.length, 1);
  assert.equal(sink.ready(), true);
  assert.equal(timers.pending.length, 0, 'no timer while nobody waits');

  socket.bufferedAmount = 100;
  assert.equal(sink.ready(), false);
  let woken = 0;
  sink.whenReady(() => woken++);
  assert.equal(timers.pending.length, 1);
  timers.fire();
  assert.equal(woken, 0, 'still full: polls again');
  assert.equal(timers.pending.length, 1);
  socket.bufferedAmount = 10;
  timers.fire();
  assert.equal(woken, 1);
  assert.equal(timers.pending.length, 0, 'polling stops once answered');

  socket.bufferedAmount = 500;
  sink.whenReady(() => woken++);
  sink.whenReady(null);
  assert.equal(timers.pending.length, 0, 'cancelling stops the poll');
});
