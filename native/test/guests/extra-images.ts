/**
 * Test-guest images beyond what build-guests.ts makes: any program wrapped as
 * a bzImage (boot-check, for the boot-protocol test) and as a Multiboot image
 * (for running the same guest code under QEMU in benchmarks). Built with the
 * system gcc into native/test/guests/out/extra/, rebuilt when inputs change.
 * The bzImage is packed here independently of build-guests.ts, from the
 * protocol text (Documentation/arch/x86/boot.rst).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CFLAGS, LOAD_ADDRESS } from './build-guests.ts';

const guestsDir = dirname(fileURLToPath(import.meta.url));
const outDir = join(guestsDir, 'out', 'extra');

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { cwd: guestsDir, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const failure = error as { stderr?: string; message: string };
    throw new Error(`${command} ${args.join(' ')} failed:\n${failure.stderr ?? failure.message}`, {
      cause: error,
    });
  }
}

/** Links entry + program.c; returns the flat image and the end of bss. Cached by content. */
function linkFlat(entry: string, program: string): { flat: Buffer; end: number; key: string } {
  const hash = createHash('sha256');
  hash.update(CFLAGS.join(' '));
  for (const name of [entry, `${program}.c`, 'guest_io.h', 'guest.ld']) {
    hash.update(readFileSync(join(guestsDir, name)));
  }
  const key = `${program}-${entry.replace(/\W/g, '_')}-${hash.digest('hex').slice(0, 16)}`;
  const elf = join(outDir, `${key}.elf`);
  const bin = join(outDir, `${key}.bin`);
  if (!existsSync(elf) || !existsSync(bin)) {
    mkdirSync(outDir, { recursive: true });
    run('gcc', [...CFLAGS, '-T', 'guest.ld', '-o', elf, entry, `${program}.c`]);
    run('objcopy', ['-O', 'binary', elf, bin]);
  }
  const endLine = run('nm', [elf])
    .split('\n')
    .find((line) => line.endsWith(' _end'));
  if (!endLine) throw new Error(`no _end symbol in ${elf}`);
  return { flat: readFileSync(bin), end: parseInt(endLine.split(' ')[0] ?? '', 16), key };
}

const SETUP_SECTS = 4;

/**
 * A bzImage: boot sector and SETUP_SECTS empty setup sectors carrying a
 * protocol 2.15 header, then the protected-mode code (whose 64-bit entry is
 * 0x200 bytes in, as entry-bzimage.S lays it out).
 */
export function packBzImage(protectedMode: Buffer, initSize: number): Buffer {
  const setup = Buffer.alloc((SETUP_SECTS + 1) * 512);
  setup.writeUInt8(SETUP_SECTS, 0x1f1); // setup_sects
  setup.writeUInt32LE(Math.ceil(protectedMode.length / 16), 0x1f4); // syssize
  setup.writeUInt16LE(0xaa55, 0x1fe); // boot_flag
  setup.writeUInt8(0xeb, 0x200); // jump: short, to the end of the header
  setup.writeUInt8(0x268 - 0x202, 0x201);
  setup.write('HdrS', 0x202, 'latin1');
  setup.writeUInt16LE(0x020f, 0x206); // version 2.15
  setup.writeUInt8(0x01, 0x211); // loadflags: LOADED_HIGH
  setup.writeUInt32LE(LOAD_ADDRESS, 0x214); // code32_start
  setup.writeUInt32LE(0x7fffffff, 0x22c); // initrd_addr_max
  setup.writeUInt32LE(0x200000, 0x230); // kernel_alignment
  setup.writeUInt8(0, 0x234); // relocatable_kernel: no, it runs where linked
  setup.writeUInt16LE(0x01, 0x236); // xloadflags: XLF_KERNEL_64
  setup.writeUInt32LE(2047, 0x238); // cmdline_size
  setup.writeBigUInt64LE(BigInt(LOAD_ADDRESS), 0x258); // pref_address
  setup.writeUInt32LE(initSize, 0x260); // init_size
  return Buffer.concat([setup, protectedMode]);
}

/** `program` as a bzImage the VMM's Linux loader boots. */
export function guestBzImage(program: string): string {
  const { flat, end, key } = linkFlat('entry-bzimage.S', program);
  const path = join(outDir, `${key}.bzImage`);
  if (!existsSync(path)) {
    const initSize = Math.ceil((end - LOAD_ADDRESS) / 4096) * 4096;
    writeFileSync(path, packBzImage(flat, initSize));
  }
  return path;
}

/** `program` as a flat Multiboot v1 image (a.out kludge) for `qemu-system-x86_64 -kernel`. */
export function guestMultibootImage(program: string): string {
  return join(outDir, `${linkFlat('entry-multiboot.S', program).key}.bin`);
}
