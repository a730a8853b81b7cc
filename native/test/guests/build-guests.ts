/**
 * Builds the freestanding test guests with the system gcc into
 * native/test/guests/out/: each program as an ELF, a flat binary, and (for
 * hello) a bzImage-shaped image with a real Linux setup header, so the VMM's
 * Linux loader path runs on real KVM. Skips the build when the inputs (sources,
 * flags, this script) are unchanged.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const guestsDir = dirname(fileURLToPath(import.meta.url));
const outDir = join(guestsDir, 'out');

/** Where the guests are linked (guest.ld) and where the VMM loads them. */
export const LOAD_ADDRESS = 0x100000;

/** The freestanding flags every test guest is built with. */
export const CFLAGS = [
  '-std=c11',
  '-O2',
  '-Wall',
  '-Wextra',
  '-Werror',
  '-ffreestanding',
  '-nostdlib',
  '-static',
  '-fno-pic',
  '-no-pie',
  '-mno-red-zone',
  '-mgeneral-regs-only',
  '-fno-stack-protector',
  '-fno-asynchronous-unwind-tables',
  '-Wl,--build-id=none',
  '-Wl,-z,noexecstack',
  '-Wl,-z,max-page-size=0x1000',
];

/** The programs, each a C file linked after an entry stub. */
const PROGRAMS = [
  'hello',
  'port-probe',
  'triple-fault',
  'spin',
  'boot-check',
  'echo',
  'port-loop',
  'timer',
  'smp',
  'poweroff',
  'kbd-reset',
  'counter',
  'acpi-button',
  'jump-to-mmio',
  'pci-enum',
  'virtio-blk-guest',
  'virtio-rng-guest',
  'virtio-net-guest',
  'display-pattern',
  'input-echo',
  'bench-display',
  'snapshot-counter',
  'fill-ram',
] as const;
export type GuestProgram = (typeof PROGRAMS)[number];

export interface GuestImages {
  /** ELF executables, loaded by program headers. */
  elf: Record<GuestProgram, string>;
  /** The same code as raw bytes, to be loaded at 1 MiB. */
  flat: Record<GuestProgram, string>;
  /** hello wrapped as a bzImage (boot protocol 2.15, 64-bit entry at +0x200). */
  helloBzImage: string;
}

function run(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { cwd: guestsDir, encoding: 'utf8', stdio: 'pipe' });
  } catch (error) {
    const failure = error as { stderr?: string; message: string };
    throw new Error(
      `building test guests: ${command} ${args.join(' ')} failed:\n${failure.stderr ?? failure.message}`,
      { cause: error },
    );
  }
}

function link(output: string, sources: string[]): void {
  run('gcc', [...CFLAGS, '-T', 'guest.ld', '-o', output, ...sources]);
}

function toFlat(elf: string, flat: string): void {
  run('objcopy', ['-O', 'binary', elf, flat]);
}

/** The address of `_end` (end of bss), from the symbol table. */
function endOfImage(elf: string): number {
  const line = run('nm', [elf])
    .split('\n')
    .find((entry) => entry.endsWith(' _end'));
  if (!line) {
    throw new Error(`building test guests: no _end symbol in ${elf}`);
  }
  return parseInt(line.split(' ')[0] ?? '', 16);
}

/** Setup header offsets (Documentation/arch/x86/boot.rst). */
const HEADER = {
  setupSects: 0x1f1,
  syssize: 0x1f4,
  bootFlag: 0x1fe,
  jump: 0x200,
  magic: 0x202,
  version: 0x206,
  typeOfLoader: 0x210,
  loadflags: 0x211,
  code32Start: 0x214,
  kernelAlignment: 0x230,
  relocatableKernel: 0x234,
  minAlignment: 0x235,
  xloadflags: 0x236,
  cmdlineSize: 0x238,
  prefAddress: 0x258,
  initSize: 0x260,
  end: 0x268, // end of a protocol 2.15 header
} as const;
const SETUP_SECTS = 4;
const LOADED_HIGH = 0x01;
const XLF_KERNEL_64 = 0x01;

/**
 * A bzImage around a protected-mode image: boot sector plus SETUP_SECTS
 * sectors of (empty) real-mode setup carrying the header, then the code.
 */
function makeBzImage(protectedMode: Buffer, initSize: number): Buffer {
  const setup = Buffer.alloc((SETUP_SECTS + 1) * 512);
  setup.writeUInt8(SETUP_SECTS, HEADER.setupSects);
  setup.writeUInt32LE(Math.ceil(protectedMode.length / 16), HEADER.syssize);
  setup.writeUInt16LE(0xaa55, HEADER.bootFlag);
  setup.writeUInt8(0xeb, HEADER.jump); // jmp short over the header
  setup.writeUInt8(HEADER.end - HEADER.magic, HEADER.jump + 1);
  setup.write('HdrS', HEADER.magic, 'latin1');
  setup.writeUInt16LE(0x020f, HEADER.version);
  setup.writeUInt8(0, HEADER.typeOfLoader);
  setup.writeUInt8(LOADED_HIGH, HEADER.loadflags);
  setup.writeUInt32LE(LOAD_ADDRESS, HEADER.code32Start);
  setup.writeUInt32LE(0x200000, HEADER.kernelAlignment);
  setup.writeUInt8(0, HEADER.relocatableKernel);
  setup.writeUInt8(21, HEADER.minAlignment);
  setup.writeUInt16LE(XLF_KERNEL_64, HEADER.xloadflags);
  setup.writeUInt32LE(2047, HEADER.cmdlineSize);
  setup.writeBigUInt64LE(BigInt(LOAD_ADDRESS), HEADER.prefAddress);
  setup.writeUInt32LE(initSize, HEADER.initSize);
  return Buffer.concat([setup, protectedMode]);
}

function inputsHash(): string {
  const hash = createHash('sha256');
  hash.update(CFLAGS.join(' '));
  hash.update(readFileSync(fileURLToPath(import.meta.url)));
  for (const name of readdirSync(guestsDir).sort()) {
    if (/\.(c|h|S|ld)$/.test(name)) {
      hash.update(name);
      hash.update(readFileSync(join(guestsDir, name)));
    }
  }
  return hash.digest('hex');
}

function images(): GuestImages {
  const elf = {} as Record<GuestProgram, string>;
  const flat = {} as Record<GuestProgram, string>;
  for (const program of PROGRAMS) {
    elf[program] = join(outDir, `${program}.elf`);
    flat[program] = join(outDir, `${program}.bin`);
  }
  return { elf, flat, helloBzImage: join(outDir, 'hello.bzImage') };
}

export function buildGuests(): GuestImages {
  const result = images();
  const stamp = join(outDir, '.inputs-sha256');
  const hash = inputsHash();
  const outputs = [
    ...Object.values(result.elf),
    ...Object.values(result.flat),
    result.helloBzImage,
  ];
  if (
    existsSync(stamp) &&
    readFileSync(stamp, 'utf8') === hash &&
    outputs.every((path) => existsSync(path))
  ) {
    return result;
  }

  mkdirSync(outDir, { recursive: true });
  for (const program of PROGRAMS) {
    link(result.elf[program], ['entry.S', `${program}.c`]);
    toFlat(result.elf[program], result.flat[program]);
  }

  const protectedModeElf = join(outDir, 'hello-bzimage.elf');
  const protectedModeBin = join(outDir, 'hello-bzimage.bin');
  link(protectedModeElf, ['entry-bzimage.S', 'hello.c']);
  toFlat(protectedModeElf, protectedModeBin);
  // The kernel's whole footprint, bss included, rounded to a page.
  const initSize = Math.ceil((endOfImage(protectedModeElf) - LOAD_ADDRESS) / 4096) * 4096;
  writeFileSync(result.helloBzImage, makeBzImage(readFileSync(protectedModeBin), initSize));

  writeFileSync(stamp, hash);
  return result;
}
