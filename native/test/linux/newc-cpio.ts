/**
 * A minimal writer of "newc" cpio archives (the format Linux unpacks as an
 * initramfs): per entry a 110-byte ASCII header of 13 eight-digit hex fields
 * after the magic "070701", the NUL-terminated name, the data, each padded to
 * 4 bytes; then the "TRAILER!!!" entry.
 */
export type CpioEntry =
  | { name: string; type: 'file'; mode: number; data: Buffer }
  | { name: string; type: 'directory'; mode: number }
  | { name: string; type: 'char-device'; mode: number; major: number; minor: number };

const TYPE_BITS = { file: 0o100000, directory: 0o040000, 'char-device': 0o020000 } as const;

function pad4(length: number): Buffer {
  return Buffer.alloc((4 - (length % 4)) % 4);
}

function hex8(value: number): string {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff) {
    throw new Error(`cpio: field value ${value} does not fit 32 bits`);
  }
  return value.toString(16).padStart(8, '0');
}

function record(
  name: string,
  inode: number,
  mode: number,
  data: Buffer,
  links: number,
  device: [number, number],
): Buffer[] {
  const nameBytes = Buffer.from(`${name}\0`);
  const header =
    '070701' +
    [
      inode,
      mode,
      0, // uid
      0, // gid
      links,
      0, // mtime
      data.length,
      0, // dev major
      0, // dev minor
      device[0], // rdev major
      device[1], // rdev minor
      nameBytes.length,
      0, // check (unused by newc)
    ]
      .map(hex8)
      .join('');
  const head = Buffer.concat([Buffer.from(header, 'latin1'), nameBytes]);
  return [head, pad4(head.length), data, pad4(data.length)];
}

export function newcArchive(entries: readonly CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  entries.forEach((entry, index) => {
    const mode = TYPE_BITS[entry.type] | (entry.mode & 0o7777);
    const data = entry.type === 'file' ? entry.data : Buffer.alloc(0);
    const device: [number, number] =
      entry.type === 'char-device' ? [entry.major, entry.minor] : [0, 0];
    parts.push(
      ...record(entry.name, index + 1, mode, data, entry.type === 'directory' ? 2 : 1, device),
    );
  });
  parts.push(...record('TRAILER!!!', 0, 0, Buffer.alloc(0), 1, [0, 0]));
  return Buffer.concat(parts);
}
