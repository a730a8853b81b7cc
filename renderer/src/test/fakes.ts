import { vi } from 'vitest';
import {
  createNestboxClient,
  type NestboxClient,
  type Transport,
} from '../client/nestbox-client.ts';
import type {
  AppSettings,
  AppSettingsPatch,
  AppSettingsState,
  CreateVmRequest,
  HostInfo,
  SnapshotDeleteResult,
  SnapshotNode as WireSnapshotNode,
  SnapshotRevertResult,
  SnapshotTakeResult,
  SnapshotTree,
  VmConfig,
  VmDetails,
  VmList,
  VmPatch,
  VmProgress,
  VmRunStatus,
  VmSummary,
} from '../client/contract.ts';
import type { AppServices } from '../app/services.ts';
import type { LibraryApi } from '../features/library/api/library-api.ts';
import type { PreferencesApi } from '../features/preferences/api/preferences-api.ts';
import type { SnapshotsApi } from '../features/snapshots/api/snapshots-api.ts';
import type { NewVmApi, VmSettingsApi } from '../features/vm-config/api/vm-config-api.ts';

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

/** Answers no request (a test that needs one mocks it) and sends no event. */
const unansweredTransport: Transport = {
  kind: 'preload',
  request: (channel) => Promise.reject(new Error(`${channel} is not faked in this test`)),
  subscribe: () => ({ send: async () => undefined, close: () => undefined }),
};

/** A client whose hostInfo() is a mock the test scripts. */
export function fakeClient(hostInfoImpl: () => Promise<HostInfo> = async () => hostInfo()) {
  const client = {
    ...createNestboxClient(unansweredTransport),
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

// ---- library and VM fakes for the feature tests ------------------------------------------------

/** A VM's config as vm.json holds it; override what a test is about. */
export function vmConfig(overrides: Partial<VmConfig> = {}): VmConfig {
  return {
    schemaVersion: 1,
    id: '3f2b8c1e-5d4a-4c1b-9e0f-1a2b3c4d5e6f',
    name: 'Alpine Linux',
    notes: 'Build box for the musl port.',
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
    boot: {
      kind: 'kernel',
      kernel: 'vmlinuz-virt',
      initrd: 'initramfs-virt',
      cmdline: 'console=ttyS0 root=/dev/vda',
    },
    ...overrides,
  };
}

export function vmDetails(
  overrides: Partial<Omit<VmDetails, 'config'>> & { config?: Partial<VmConfig> } = {},
): VmDetails {
  const { config, ...rest } = overrides;
  const full = vmConfig(config);
  return {
    id: full.id,
    folder: `/home/user/.local/share/nestbox/vms/${full.name}`,
    imported: false,
    config: full,
    state: 'off',
    ...rest,
  };
}

export function vmSummary(overrides: Partial<VmSummary> = {}): VmSummary {
  const name = overrides.name ?? 'Alpine Linux';
  return {
    id: '3f2b8c1e-5d4a-4c1b-9e0f-1a2b3c4d5e6f',
    name,
    folder: `/home/user/.local/share/nestbox/vms/${name}`,
    state: 'off',
    ...overrides,
  };
}

export function vmList(vms: VmSummary[] = [], broken: VmList['broken'] = []): VmList {
  return { root: '/home/user/.local/share/nestbox/vms', vms, broken };
}

export function appSettings(overrides: Partial<AppSettings> = {}): AppSettings {
  return {
    schemaVersion: 1,
    vmFolder: null,
    theme: 'system',
    hotkeys: { releaseKeyboard: 'Ctrl+Alt' },
    confirmations: { deleteVm: true, revertSnapshot: true },
    onQuitWithRunningVms: 'keep-running',
    ...overrides,
  };
}

/** Every service the features use, as mocks: a library of `list`, and answers that work. */
export function fakeServices(list: VmList = vmList()) {
  const status = (id: string, state: VmSummary['state']): VmRunStatus => ({ id, state });
  const library = {
    listVms: vi.fn(async () => list),
    getVm: vi.fn(async (id: string) => vmDetails({ id, config: { id } })),
    power: {
      start: vi.fn(async (id: string) => status(id, 'running')),
      shutdown: vi.fn(async (id: string) => status(id, 'running')),
      powerOff: vi.fn(async (id: string) => status(id, 'off')),
      pause: vi.fn(async (id: string) => status(id, 'paused')),
      resume: vi.fn(async (id: string) => status(id, 'running')),
      reset: vi.fn(async (id: string) => status(id, 'running')),
    },
    deleteVm: vi.fn(async (target: { id: string } | { folder: string }) => ({
      folder: 'folder' in target ? target.folder : '/vms/x',
      method: 'desktop-trash' as const,
    })),
  } satisfies LibraryApi;
  const newVm = {
    createVm: vi.fn(async (request: CreateVmRequest) =>
      vmDetails({ config: { name: request.name } }),
    ),
    hostInfo: vi.fn(async () => hostInfo()),
  } satisfies NewVmApi;
  const vmSettings = {
    getVm: library.getVm,
    updateVm: vi.fn(async (id: string, _patch: VmPatch) => vmDetails({ id })),
    hostInfo: vi.fn(async () => hostInfo()),
  } satisfies VmSettingsApi;
  const preferences = {
    getSettings: vi.fn(async (): Promise<AppSettingsState> => ({ settings: appSettings() })),
    /** As settings.update answers: the whole settings with the change merged in. */
    updateSettings: vi.fn(async (patch: AppSettingsPatch): Promise<AppSettings> => {
      const base = appSettings();
      return {
        ...base,
        ...patch,
        hotkeys: { ...base.hotkeys, ...patch.hotkeys },
        confirmations: { ...base.confirmations, ...patch.confirmations },
      };
    }),
  } satisfies PreferencesApi;
  return { library, newVm, vmSettings, preferences } satisfies AppServices;
}

// ---- snapshots -------------------------------------------------------------------------------

/** A snapshot as `snapshots.list` reports it; override what a test is about. */
export function wireSnapshot(overrides: Partial<WireSnapshotNode> = {}): WireSnapshotNode {
  return {
    id: 'a1b2c3d4-0000-4000-8000-000000000001',
    parentId: null,
    name: 'Base install',
    description: '',
    createdAt: '2025-01-01T10:00:00.000Z',
    kind: 'disk',
    thumbnail: false,
    protectedBy: [],
    children: [],
    ...overrides,
  };
}

/** A SnapshotTree of `nodes` (children and roots worked out), at `currentId`. */
export function snapshotTree(
  nodes: WireSnapshotNode[],
  currentId: string | null,
  overrides: Partial<Omit<SnapshotTree, 'nodes' | 'currentId'>> = {},
): SnapshotTree {
  const withChildren = nodes.map((node) => ({
    ...node,
    children: nodes.filter((child) => child.parentId === node.id).map((child) => child.id),
  }));
  return {
    nodes: withChildren,
    roots: nodes.filter((node) => node.parentId === null).map((node) => node.id),
    currentId,
    retainedLayers: 0,
    diskProblem: null,
    suspended: false,
    ...overrides,
  };
}

/**
 * A SnapshotsApi over a tree kept in memory, answering as the services do: a take adds a
 * snapshot at "you are here" and moves there, a revert moves there, a delete removes it.
 */
export function fakeSnapshotsApi(
  initial: WireSnapshotNode[] = [],
  initialCurrent: string | null = null,
) {
  let nodes = [...initial];
  let currentId = initialCurrent;
  let taken = 0;
  const find = (id: string) => {
    const node = nodes.find((candidate) => candidate.id === id);
    if (!node) throw new Error(`No snapshot with the id ${id}.`);
    return node;
  };
  const api = {
    list: vi.fn(async (_vmId: string) => snapshotTree(nodes, currentId)),
    thumbnail: vi.fn(async (_vmId: string, id: string) => `data:image/png;base64,${id}`),
    take: vi.fn(
      async (
        _vmId: string,
        { name, description }: { name: string; description?: string },
      ): Promise<SnapshotTakeResult> => {
        taken += 1;
        const snapshot = wireSnapshot({
          id: `taken-${taken}`,
          parentId: currentId,
          name,
          description: description ?? '',
          createdAt: `2025-03-0${taken}T10:00:00.000Z`,
        });
        nodes = [...nodes, snapshot];
        currentId = snapshot.id;
        return { snapshot, withMemory: false };
      },
    ),
    revert: vi.fn(async (_vmId: string, id: string): Promise<SnapshotRevertResult> => {
      const snapshot = find(id);
      currentId = id;
      return { snapshot, state: snapshot.kind === 'memory' ? 'suspended' : 'off' };
    }),
    remove: vi.fn(async (_vmId: string, id: string): Promise<SnapshotDeleteResult> => {
      const snapshot = find(id);
      nodes = nodes
        .filter((node) => node.id !== id)
        .map((node) => (node.parentId === id ? { ...node, parentId: snapshot.parentId } : node));
      if (currentId === id) currentId = snapshot.parentId;
      return { snapshot, freedBytes: 1.5 * 1024 ** 3, retainedLayers: 0 };
    }),
    rename: vi.fn(async (_vmId: string, id: string, name: string) => {
      const renamed = { ...find(id), name };
      nodes = nodes.map((node) => (node.id === id ? renamed : node));
      return renamed;
    }),
    watchProgress: vi.fn((_vmId: string, _onProgress: (progress: VmProgress) => void) => () => {}),
  } satisfies SnapshotsApi;
  return api;
}
