/**
 * Port-I/O exit cost: the port-loop guest writes an unclaimed port 20000 times
 * (each write is one exit to the VMM and back) between two serial lines; the
 * host timestamps both lines and divides by the count. Median of several runs,
 * Nestbox beside QEMU on the same guest code (a Multiboot build of the same
 * guest_main, see boot-latency.bench.ts). The figure includes the guest's own
 * loop instructions, which on a nested, emulating KVM are not free.
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
const EXITS = 20_000; // PORT_LOOP_COUNT in port-loop.c
const TIMEOUT_MS = 60_000;
const MARKS = ['port-loop start', 'port-loop done'];

async function measure(
  label: string,
  command: string,
  args: string[],
): Promise<number | undefined> {
  const perExit: number[] = [];
  for (let i = 0; i < RUNS; ++i) {
    const run = await timeRun(command, args, MARKS, TIMEOUT_MS);
    const [start, done] = run.marks;
    if (run.timedOut || start === undefined || done === undefined) {
      console.log(`${label}: ${failure(run, TIMEOUT_MS)}`);
      return undefined;
    }
    perExit.push(((done - start) * 1000) / EXITS);
  }
  const result = median(perExit);
  console.log(
    `${label}: ${result.toFixed(2)} µs per port-I/O exit round trip (median of ${RUNS}; ` +
      `runs ${perExit.map((value) => value.toFixed(2)).join(', ')} µs)`,
  );
  return result;
}

const guests = buildGuests();
const nestbox = nestboxCommand();
const ours = await measure('Nestbox', nestbox.command, [
  ...nestbox.args,
  'run',
  '--kernel',
  guests.elf['port-loop'],
]);
let peer: number | undefined;
if (hasQemu()) {
  peer = await measure('QEMU', QEMU, [...QEMU_ARGS, '-kernel', guestMultibootImage('port-loop')]);
} else {
  console.log(`QEMU: ${QEMU} is not installed`);
}
if (ours === undefined) process.exit(1);
console.log(`port-I/O ratio: a Nestbox exit costs ${ratio(ours, peer)}`);
