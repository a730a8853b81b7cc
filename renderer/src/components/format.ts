// Numbers, sizes, dates and errors, formatted the same way on every screen. The UI is English.

const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const TiB = 1024 ** 4;

const upToOneDecimal = new Intl.NumberFormat('en', { maximumFractionDigits: 1 });

/** "512 MiB", "1.5 GiB", "640 KiB". */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) return 'unknown size';
  if (bytes >= TiB) return `${upToOneDecimal.format(bytes / TiB)} TiB`;
  if (bytes >= GiB) return `${upToOneDecimal.format(bytes / GiB)} GiB`;
  if (bytes >= MiB) return `${upToOneDecimal.format(bytes / MiB)} MiB`;
  if (bytes >= KiB) return `${upToOneDecimal.format(bytes / KiB)} KiB`;
  return bytes === 1 ? '1 byte' : `${bytes} bytes`;
}

/** Guest memory, given in MiB as vm.json keeps it: "1 GiB", "1.5 GiB", "768 MiB". */
export function formatMiB(mib: number): string {
  return formatBytes(mib * MiB);
}

const dateTime = new Intl.DateTimeFormat('en', { dateStyle: 'medium', timeStyle: 'short' });

/** "Jan 31, 2025, 12:00 PM" in the viewer's time zone; the raw text if it is not a date. */
export function formatDateTime(iso: string): string {
  const time = Date.parse(iso);
  return Number.isNaN(time) ? iso : dateTime.format(time);
}

/** A sentence for the user from whatever a promise rejected with. */
export function errorMessage(reason: unknown): string {
  if (reason instanceof Error && reason.message.trim() !== '') return reason.message;
  if (typeof reason === 'string' && reason.trim() !== '') return reason;
  return 'Something went wrong, and no reason was given.';
}

/** Field problems a service attached to an error (NestboxClientError.issues), if any. */
export function errorIssues(reason: unknown): { path: string; message: string }[] {
  if (typeof reason !== 'object' || reason === null || !('issues' in reason)) return [];
  const { issues } = reason as { issues: unknown };
  if (!Array.isArray(issues)) return [];
  return issues.filter(
    (issue): issue is { path: string; message: string } =>
      typeof issue === 'object' &&
      issue !== null &&
      typeof (issue as { path?: unknown }).path === 'string' &&
      typeof (issue as { message?: unknown }).message === 'string',
  );
}
