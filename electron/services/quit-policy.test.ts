/**
 * Quitting the app with VMs running: each preference, against real VM host processes around the
 * scripted counting machine (no /dev/kvm needed), and a VM whose suspend fails is left running.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  createCountingVm,
  openCountingStack,
  processGone,
  until,
  type CountingStack,
} from '../serve/testing/counting-vm-harness.ts';
import { SCRIPTED_SAVE_MS } from '../serve/testing/scripted-machines.ts';
import type { LibraryVm } from './library/vm-library.ts';
import { applyQuitPolicy } from './quit-policy.ts';

let stack: CountingStack;
let first: LibraryVm;
let second: LibraryVm;
let stopped: LibraryVm;

before(async () => {
  stack = await openCountingStack();
  first = await createCountingVm(stack, 'first');
  second = await createCountingVm(stack, 'second');
  stopped = await createCountingVm(stack, 'never started');
});

after(async () => {
  await stack?.close();
});

async function state(vm: LibraryVm): Promise<string> {
  return (await stack.services.registry.status(vm)).state;
}

async function startBoth(): Promise<number[]> {
  const pids = [];
  for (const vm of [first, second]) pids.push((await stack.services.registry.start(vm)).pid);
  return pids;
}

test('keep-running (the default) leaves every VM running and touches no other', async () => {
  const pids = await startBoth();
  const outcomes = await applyQuitPolicy('keep-running', stack.services);
  assert.deepEqual(outcomes.map((o) => [o.name, o.result]).sort(), [
    ['first', 'kept-running'],
    ['second', 'kept-running'],
  ]);
  assert.equal(await state(first), 'running');
  assert.equal(await state(second), 'running');
  assert.equal(await state(stopped), 'off');
  await applyQuitPolicy('power-off', stack.services);
  for (const pid of pids) await processGone(pid);
});

test('suspend saves every running VM, and starting one continues it', async () => {
  const pids = await startBoth();
  const outcomes = await applyQuitPolicy('suspend', stack.services);
  assert.deepEqual(outcomes.map((o) => o.result).sort(), ['suspended', 'suspended']);
  assert.ok(outcomes.every((o) => o.problem === undefined));
  for (const pid of pids) await processGone(pid);
  assert.equal(await state(first), 'suspended');
  assert.equal(await state(second), 'suspended');
  assert.equal(await state(stopped), 'off');
  await stack.services.registry.start(first);
  await until('first to run again', async () => (await state(first)) === 'running');
});

test('power-off stops every running VM', async () => {
  // `first` runs (resumed above); `second` is suspended and stays so.
  const outcomes = await applyQuitPolicy('power-off', stack.services);
  assert.deepEqual(
    outcomes.map((o) => [o.name, o.result]),
    [['first', 'powered-off']],
  );
  await until('first to be off', async () => (await state(first)) === 'off');
  assert.equal(await state(second), 'suspended');
});

test('a VM whose suspend does not finish in time is reported as left running, never lost', async () => {
  // A machine that takes 3 s to save, and a quit that waits 300 ms for it.
  const slow = await openCountingStack({ [SCRIPTED_SAVE_MS]: '3000' });
  try {
    const vm = await createCountingVm(slow, 'slow');
    const { pid } = await slow.services.registry.start(vm);
    const outcomes = await applyQuitPolicy('suspend', slow.services, { timeoutMs: 300 });
    assert.equal(outcomes.length, 1);
    assert.equal(outcomes[0]?.result, 'kept-running');
    assert.match(outcomes[0]?.problem ?? '', /longer than 300 ms/);
    // The suspend it asked for still completes: the VM's state is saved, not lost.
    await processGone(pid);
    assert.equal((await slow.services.registry.status(vm)).state, 'suspended');
  } finally {
    await slow.close();
  }
});
