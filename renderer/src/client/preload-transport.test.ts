import { afterEach, describe, expect, it, vi } from 'vitest';
import type { PreloadApi } from './contract.ts';
import { createClient } from './create-client.ts';
import { hostInfo } from '../test/fakes.ts';

describe('preload transport (Electron)', () => {
  afterEach(() => {
    delete window.nestbox;
  });

  it('uses window.nestbox when the preload provides it, and never fetches', async () => {
    const fetchMock = vi.fn<typeof fetch>();
    vi.stubGlobal('fetch', fetchMock);
    const api: PreloadApi = {
      hostInfo: vi.fn(async () => hostInfo({ hostname: 'desk' })),
      listVms: vi.fn(async () => ({ root: '/vms', vms: [], broken: [] })),
    };
    window.nestbox = api;

    const client = createClient();

    expect(client.transport).toBe('preload');
    await expect(client.hostInfo()).resolves.toMatchObject({ hostname: 'desk' });
    expect(api.hostInfo).toHaveBeenCalledTimes(1);
    expect(fetchMock).not.toHaveBeenCalled();
  });

  it("shows the service's message without Electron's IPC wrapping", async () => {
    window.nestbox = {
      listVms: async () => ({ root: '/vms', vms: [], broken: [] }),
      hostInfo: async () => {
        throw new Error(
          "Error invoking remote method 'host.info': Error: Could not read /proc/meminfo",
        );
      },
    };

    await expect(createClient().hostInfo()).rejects.toThrow(/^Could not read \/proc\/meminfo$/);
  });
});
