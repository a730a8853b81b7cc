/**
 * The typed surface of the addon's disk-image functions (native/src/binding/disk_image_binding.cc,
 * over native/src/block): create, inspect and check qcow2/raw images, and byte-level access
 * through a DiskImageHandle. Every function returns a promise: the file work runs on the
 * addon's image I/O thread, never on the JS thread.
 */

export type DiskImageFormat = 'qcow2' | 'raw';

/** `error.code` on rejections from the image functions. */
export type DiskImageErrorCode =
  | 'IMAGE_NOT_FOUND'
  | 'IMAGE_UNREADABLE'
  | 'IMAGE_CORRUPT'
  | 'IMAGE_UNSUPPORTED'
  | 'IMAGE_READ_ONLY'
  | 'IMAGE_OUT_OF_RANGE'
  | 'IMAGE_BACKING_CHAIN'
  | 'IMAGE_EXISTS'
  | 'IMAGE_INVALID_ARGUMENT'
  | 'IMAGE_IO_ERROR';

export interface DiskImageError extends Error {
  code?: DiskImageErrorCode;
}

export interface ImageCreateOptions {
  format?: DiskImageFormat;
  /** Bytes (rounded up to 512). Optional with a backing file: its size is used. */
  size?: number;
  /** qcow2 only: 512 B to 2 MiB, a power of two; default 64 KiB. */
  clusterSize?: number;
  /** qcow2 only; stored as given, a relative path is relative to the new image's folder. */
  backingFile?: string;
  /** Default: detected from the backing file. */
  backingFormat?: DiskImageFormat;
}

export interface BackingLayer {
  path: string;
  format: DiskImageFormat;
  virtualSize: number;
}

export interface ImageInfo {
  path: string;
  format: DiskImageFormat;
  virtualSize: number;
  fileSize: number;
  /** Bytes the file occupies on the host file system. */
  allocatedBytes: number;
  /** qcow2 only from here. */
  clusterSize?: number;
  version?: number;
  refcountBits?: number;
  compression?: 'deflate' | 'zstd';
  dirty?: boolean;
  corrupt?: boolean;
  snapshots?: number;
  /** As stored in the image. */
  backingFile?: string;
  backingFormat?: string;
  /** The opened chain below this image, top down. */
  backingChain: BackingLayer[];
  /** Set when the chain could not be opened (e.g. a missing backing file). */
  backingError?: string;
}

export interface ImageCheckResult {
  format: DiskImageFormat;
  corruptions: number;
  leaks: number;
  allocatedClusters: number;
  totalClusters: number;
  imageEndOffset: number;
  /** As `qemu-img check`: 0 clean, 2 corruptions, 3 leaked clusters only. */
  status: 0 | 2 | 3;
  /** The first problems found, one per line. */
  messages: string[];
}

/** An open image (and its backing chain). Operations run in the order they are called. */
export interface DiskImageHandle {
  readonly virtualSize: number;
  readonly format: DiskImageFormat;
  readonly readOnly: boolean;
  /** At most 64 MiB per call. */
  read(offset: number, length: number): Promise<Uint8Array>;
  write(offset: number, data: Uint8Array): Promise<void>;
  writeZeroes(offset: number, length: number): Promise<void>;
  discard(offset: number, length: number): Promise<void>;
  flush(): Promise<void>;
  /** Flushes and marks the image clean. Idempotent; always call it. */
  close(): Promise<void>;
}

export interface DiskImageAddon {
  imageCreate(path: string, options: ImageCreateOptions): Promise<void>;
  imageInfo(path: string): Promise<ImageInfo>;
  imageCheck(path: string): Promise<ImageCheckResult>;
  /** Opens, reads and closes (tests, tools). At most 64 MiB. */
  imageRead(path: string, offset: number, length: number): Promise<Uint8Array>;
  /** Opens for writing, writes and closes cleanly. */
  imageWrite(path: string, offset: number, data: Uint8Array): Promise<void>;
  openDiskImage(path: string, options?: { readOnly?: boolean }): Promise<DiskImageHandle>;
}

const SIZE_UNITS: Record<string, number> = { '': 0, b: 0, k: 10, m: 20, g: 30, t: 40, p: 50 };

/**
 * "10G", "512M", "64K", "1.5T" or a byte count (binary units, as qemu-img); undefined when
 * the text is not a size.
 */
export function parseImageSize(text: string): number | undefined {
  const match = /^(\d+(?:\.\d+)?)\s*([bkmgtp]?)(?:i?b)?$/i.exec(text.trim());
  if (!match) return undefined;
  const [, number, unit] = match;
  const shift = SIZE_UNITS[(unit ?? '').toLowerCase()];
  if (number === undefined || shift === undefined) return undefined;
  const bytes = Math.round(Number(number) * 2 ** shift);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  if (unit === 0) return `${bytes} bytes`;
  return `${Number.isInteger(value) ? value : value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}
