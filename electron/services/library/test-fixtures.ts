/** Shared by the library's tests: a valid vm.json and temp-folder helpers. */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { VmConfig } from './vm-config.ts';

export function sampleConfig(overrides: Partial<VmConfig> = {}): VmConfig {
  return {
    schemaVersion: 1,
    id: '3f2b8c1e-5d4a-4c1b-9e0f-1a2b3c4d5e6f',
    name: 'Alpine',
    notes: '',
    guestOs: 'linux',
    createdAt: '2025-01-31T12:00:00.000Z',
    hardware: {
      cpus: 2,
      memoryMiB: 1024,
      disks: [{ file: 'disk.qcow2', format: 'qcow2' }],
      network: {
        mode: 'nat',
        macAddress: '02:5e:7a:10:22:9c',
        portForwards: [
          { protocol: 'tcp', hostAddress: '127.0.0.1', hostPort: 2222, guestPort: 22 },
        ],
      },
      display: { width: 1024, height: 768, vramMiB: 16 },
      serial: true,
    },
    boot: { kind: 'kernel', kernel: 'vmlinuz', initrd: 'initrd.img', cmdline: 'console=ttyS0' },
    ...overrides,
  };
}

/** A fresh temp folder, removed by the returned cleanup. */
export async function makeTempDir(
  prefix: string,
): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `nestbox-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}
