/** A field key as the user knows it, for summaries ("Port forward 2, host port"). */
const labels: Record<string, string> = {
  name: 'Name',
  notes: 'Notes',
  kernel: 'Kernel',
  initrd: 'Initial ramdisk',
  cmdline: 'Kernel command line',
  cpus: 'Processors',
  memoryMiB: 'Memory',
  newDiskSize: 'Disk size',
  existingDiskPath: 'Disk image',
  disks: 'Disks',
  portForwards: 'Port forwards',
  displayWidth: 'Display width',
  displayHeight: 'Display height',
};

const parts: Record<string, string> = {
  hostAddress: 'host address',
  hostPort: 'host port',
  guestPort: 'guest port',
  file: 'image',
};

export function fieldLabel(field: string): string {
  const nested = /^(portForwards|disks)\.(\d+)\.(\w+)$/.exec(field);
  if (nested) {
    const [, list, index, part] = nested;
    const noun = list === 'portForwards' ? 'Port forward' : 'Disk';
    return `${noun} ${Number(index) + 1}, ${parts[part ?? ''] ?? part}`;
  }
  return labels[field] ?? field;
}
