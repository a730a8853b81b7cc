import { vi } from 'vitest';
import type { NestboxClient } from '../client/nestbox-client.ts';
import type { HostInfo } from '../client/contract.ts';

/** A HostInfo as a healthy machine reports it; override what a test is about. */
export function hostInfo(overrides: Partial<HostInfo> = {}): HostInfo {
  return {
    hostname: 'workstation',
    cpuCount: 8,
    memoryBytes: 16 * 1024 ** 3,
    kernelRelease: '6.1.0-27-amd64',
    kvm: { ok: true, devicePath: '/dev/kvm', apiVersion: 12 },
    versions: { nestbox: '0.1.0', node: '20.20.2', electron: null, chrome: null },
    ...overrides,
  };
}

/** A client whose hostInfo() is a mock the test scripts. */
export function fakeClient(hostInfoImpl: () => Promise<HostInfo> = async () => hostInfo()) {
  const client = {
    transport: 'preload' as const,
    hostInfo: vi.fn(hostInfoImpl),
    listVms: vi.fn(async () => ({
      root: '/home/user/.local/share/nestbox/vms',
      vms: [],
      broken: [],
    })),
  };
  return client satisfies NestboxClient;
}
