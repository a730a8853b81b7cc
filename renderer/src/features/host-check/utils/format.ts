const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

// The UI is English; format numbers the same way everywhere.
const oneDecimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

/** Memory as people read it: "15.6 GiB", or MiB below 1 GiB. */
export function formatMemory(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return 'Unknown';
  if (bytes >= GiB) return `${oneDecimal.format(bytes / GiB)} GiB`;
  return `${oneDecimal.format(Math.round(bytes / MiB))} MiB`;
}

export function formatCpuCount(count: number): string {
  return count === 1 ? '1 logical CPU' : `${count} logical CPUs`;
}
