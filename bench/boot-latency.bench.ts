/**
 * Boot latency: from starting the VMM to the first byte the guest writes on
 * its serial port, for a trivial guest (hello), median of several runs,
 * `nestbox run` beside QEMU in the same run.
 *
 * "Same payload": the very same guest_main (native/test/guests/hello.c), built
 * with the same flags; Nestbox boots it as an ELF entered in 64-bit mode,
 * QEMU as a Multiboot image (`-kernel`) whose 32-bit entry stub
 * (entry-multiboot.S) switches to long mode first. Both include process start-up.
 */
import { buildGuests } from '../native/test/guests/build-guests.ts';
import { guestMultibootImage } from '../native/test/guests/extra-images.ts';
import {
  failure,
  QEMU,
  QEMU_ARGS,
  hasQemu,
  median,
  nestboxCommand,
  ratio,
  timeRun,
} from './bench-support.ts';

const RUNS = 5;
const TIMEOUT_MS = 20_000;
const GREETING = 'Hello from a Nestbox test guest';

async function measure(
  label: string,
  command: string,
  args: string[],
): Promise<number | undefined> {
  const times: number[] = [];
  for (let i = 0; i < RUNS; ++i) {
    const run = await timeRun(command, args, [GREETING], TIMEOUT_MS);
    if (run.timedOut || run.firstByte === undefined) {
      console.log(`${label}: ${failure(run, TIMEOUT_MS)}`);
      return undefined;
    }
    times.push(run.firstByte);
  }
  const result = median(times);
  console.log(
    `${label}: first serial byte after ${result.toFixed(1)} ms (median of ${RUNS}; ` +
      `runs ${times.map((time) => time.toFixed(0)).join(', ')} ms)`,
  );
  return result;
}

const guests = buildGuests();
const nestbox = nestboxCommand();
const ours = await measure('Nestbox', nestbox.command, [
  ...nestbox.args,
  'run',
  '--kernel',
  guests.elf.hello,
  '--memory',
  '256',
]);
let peer: number | undefined;
if (hasQemu()) {
  peer = await measure('QEMU', QEMU, [...QEMU_ARGS, '-kernel', guestMultibootImage('hello')]);
} else {
  console.log(`QEMU: ${QEMU} is not installed`);
}
if (ours === undefined) process.exit(1);
console.log(`boot latency ratio: Nestbox takes ${ratio(ours, peer)}`);
