import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { test } from 'node:test';
import { KeyedMutex } from './keyed-mutex.ts';

test('tasks with one key run one at a time, in order', async () => {
  const mutex = new KeyedMutex();
  const log: string[] = [];
  let inside = 0;
  let most = 0;
  const task = (name: string, ms: number) =>
    mutex.run('vm', async () => {
      inside += 1;
      most = Math.max(most, inside);
      log.push(`start ${name}`);
      await delay(ms);
      log.push(`end ${name}`);
      inside -= 1;
      return name;
    });
  const results = await Promise.all([task('a', 20), task('b', 1), task('c', 5)]);
  assert.deepEqual(results, ['a', 'b', 'c']);
  assert.equal(most, 1);
  assert.deepEqual(log, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
  assert.equal(mutex.isBusy('vm'), false);
});

test('a failing task releases the key for the next one', async () => {
  const mutex = new KeyedMutex();
  const first = mutex.run('vm', async () => {
    throw new Error('boom');
  });
  const second = mutex.run('vm', async () => 'ran');
  await assert.rejects(first, /boom/);
  assert.equal(await second, 'ran');
});

test('different keys run concurrently', async () => {
  const mutex = new KeyedMutex();
  let releaseA!: () => void;
  const aWaits = new Promise<void>((resolve) => {
    releaseA = resolve;
  });
  const a = mutex.run('a', async () => {
    await aWaits;
    return 'a';
  });
  // If keys were serialized globally, b could not finish while a waits for it.
  const b = mutex.run('b', async () => {
    releaseA();
    return 'b';
  });
  assert.deepEqual(await Promise.all([a, b]), ['a', 'b']);
});
