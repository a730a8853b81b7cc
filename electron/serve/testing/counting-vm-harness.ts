/**
 * For tests that drive real VM host processes around the scripted `counting` machine
 * (scripted-machines.ts): a library in a temporary NESTBOX_HOME with hosts launched from
 * source, a VM with a new qcow2 disk, a client that reads what the guest prints, and checks
 * of the VM's snapshots folder as the next process would find it.
 */
import { runNestbox } from '../../cli/testing/run-nestbox.ts';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { LibraryVm } from '../../services/library/vm-library.ts';
import { loadNativeAddon } from '../../services/native/load-addon.ts';
import type { NativeAddon } from '../../services/native/native-addon.ts';
import { toMachineConfig } from '../../services/library/machine-config.ts';
import { SnapshotStore } from '../../services/snapshots/snapshot-store.ts';
import {
  missingLayers,
  readTreeDocument,
  realDiskLayerOps,
  strayEntries,
} from '../../services/snapshots/test-disks.ts';
import { isHostProcessAlive, readHostRecord } from '../../services/vm-host/runtime-files.ts';
import type { VmHostClient } from '../../services/vm-host/vm-host-client.ts';
import { VmSnapshots } from '../../services/vm-host/vm-snapshots.ts';
import { openVmServices, type VmServices } from '../../services/vm-host/vm-services.ts';
import { counterInSector } from './counting-state-file.ts';
import { SCRIPTED_VM_HOST_MAIN, scriptedCliEnv, scriptedLauncher } from './scripted-host.ts';
import { scriptedAddon } from './scripted-machines.ts';

export const STEP_MS = 20_000;
const MAIN = SCRIPTED_VM_HOST_MAIN;

let cachedAddon: NativeAddon | undefined;
/** The real addon. */
export function addon(): NativeAddon {
  cachedAddon ??= loadNativeAddon();
  return cachedAddon;
}

/** What the VM host gets: the counting machine, the real disk functions. */
export const countingAddon = scriptedAddon('counting', addon);

export { scriptedLauncher };

/**
 * The environment under which `nestbox start` (the CLI's own registry, default launcher) runs
 * the counting machine: NESTBOX_VM_HOST names the scripted host, tsx comes in by NODE_OPTIONS.
 */
export function cliHostEnv(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return scriptedCliEnv(env, 'counting');
}

export interface CountingStack {
  env: NodeJS.ProcessEnv;
  services: VmServices;
  snapshots: VmSnapshots;
  close(): Promise<void>;
}

/** A library in a temporary NESTBOX_HOME whose VMs run the counting machine. */
export async function openCountingStack(hostEnv: Record<string, string> = {}) {
  const home = mkdtempSync(path.join(tmpdir(), 'nestbox-counting-'));
  const runtimeDir = mkdtempSync(path.join(tmpdir(), 'nestbox-counting-run-'));
  chmodSync(runtimeDir, 0o700);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    NESTBOX_HOME: home,
    XDG_RUNTIME_DIR: runtimeDir,
  };
  const services = await openVmServices({
    env,
    launcher: scriptedLauncher('counting', hostEnv),
    createDiskImage: (file, options) => addon().imageCreate(file, options),
  });
  const stack: CountingStack = {
    env,
    services,
    // The counting machine's snapshot files are checked by its own describeSnapshot.
    snapshots: new VmSnapshots(services, () => countingAddon),
    async close() {
      // Leave no VM host running behind a failed test.
      for (const entry of (await services.library.list()).entries) {
        const host = await readHostRecord(entry.folder);
        if (host.kind === 'ok' && isHostProcessAlive(host.record.pid)) {
          process.kill(host.record.pid, 'SIGKILL');
        }
      }
      rmSync(home, { recursive: true, force: true });
      rmSync(runtimeDir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** A VM with a new 16 MiB qcow2 disk; the counting machine boots no kernel, any file will do. */
export function createCountingVm(stack: CountingStack, name: string): Promise<LibraryVm> {
  return stack.services.library.create({
    name,
    boot: { kind: 'kernel', kernel: MAIN, cmdline: '' },
    hardware: { memoryMiB: 64, network: { mode: 'none' } },
    newDisk: { sizeBytes: 16 * 1024 * 1024 },
  });
}

/** The VM's base disks, absolute, as the VM host gives them to the snapshot store. */
export function baseDisks(vm: LibraryVm): string[] {
  return (toMachineConfig({ folder: vm.folder, config: vm.config }).disks ?? []).map(
    (disk) => disk.path,
  );
}

/** Runs `nestbox ARGS…` in this process, output captured. */
export function nestbox(env: NodeJS.ProcessEnv, args: string[]) {
  return runNestbox(env, args);
}

export async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms = STEP_MS,
): Promise<T> {
  const deadline = performance.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** One line the counting machine printed. */
export type GuestLine =
  | { kind: 'count'; counter: number }
  | { kind: 'boot'; disk: number }
  | { kind: 'resumed' | 'restored' | 'switched'; counter: number; disk: number };

export function parseGuestLine(line: string): GuestLine {
  let match = /^count (\d+)$/.exec(line);
  if (match) return { kind: 'count', counter: Number(match[1]) };
  match = /^boot disk (\d+)$/.exec(line);
  if (match) return { kind: 'boot', disk: Number(match[1]) };
  match = /^(resumed|restored|switched) (\d+) disk (\d+)$/.exec(line);
  if (match) {
    return {
      kind: match[1] as 'resumed' | 'restored' | 'switched',
      counter: Number(match[2]),
      disk: Number(match[3]),
    };
  }
  throw new Error(`the counting machine printed an unexpected line: ${JSON.stringify(line)}`);
}

/**
 * A client of a running VM's host that reads the guest's serial output from the start (the
 * host's history first), as lines. Requests sent through `client` are answered after every
 * line the guest printed before the answer.
 */
export class GuestWatch {
  readonly lines: GuestLine[] = [];
  #partial = '';

  private constructor(readonly client: VmHostClient) {
    client.onSerial((bytes) => {
      const text = this.#partial + Buffer.from(bytes).toString('latin1');
      const parts = text.split('\n');
      this.#partial = parts.pop() ?? '';
      for (const line of parts) this.lines.push(parseGuestLine(line));
    });
  }

  static async open(services: VmServices, vm: LibraryVm): Promise<GuestWatch> {
    const client = await services.registry.connect(vm);
    const watch = new GuestWatch(client);
    await client.call('subscribe', { serial: true, serialHistory: true });
    return watch;
  }

  /** Where the lines are now, to look at what comes after. */
  mark(): number {
    return this.lines.length;
  }

  lastCount(): number | undefined {
    for (let index = this.lines.length - 1; index >= 0; index -= 1) {
      const line = this.lines[index];
      if (line?.kind === 'count') return line.counter;
    }
    return undefined;
  }

  /** The machine's first line: how it started. */
  async started(): Promise<GuestLine> {
    return until('the guest to start', () => this.lines[0]);
  }

  waitForCount(atLeast: number, ms = STEP_MS): Promise<number> {
    return until(
      `count ${atLeast}`,
      () => {
        const last = this.lastCount();
        return last !== undefined && last >= atLeast ? last : undefined;
      },
      ms,
    );
  }

  /**
   * The first line of `kind` after `mark` and the count that follows it: how the machine
   * continued after a restore.
   */
  async continued(
    mark: number,
    kind: 'restored' | 'switched' | 'resumed',
  ): Promise<{ line: Extract<GuestLine, { counter: number; disk: number }>; next: number }> {
    return until(`a "${kind}" line and a count after it`, () => {
      const at = this.lines.findIndex((line, index) => index >= mark && line.kind === kind);
      if (at < 0) return undefined;
      const line = this.lines[at] as Extract<GuestLine, { counter: number; disk: number }>;
      const next = this.lines.slice(at + 1).find((later) => later.kind === 'count');
      return next?.kind === 'count' ? { line, next: next.counter } : undefined;
    });
  }

  /** Counts after `mark` with no gap and no restore in between: the machine just ran on. */
  ranOn(mark: number): boolean {
    const after = this.lines.slice(mark);
    return after.every((line, index) => {
      if (line.kind !== 'count') return false;
      const previous = after[index - 1];
      return previous?.kind !== 'count' || line.counter === previous.counter + 1;
    });
  }

  close(): Promise<void> {
    return this.client.close();
  }

  destroy(): void {
    this.client.destroy();
  }
}

/** Resolves once the process is gone. */
export function processGone(pid: number, ms = STEP_MS): Promise<true> {
  return until(`process ${pid} to end`, () => !isHostProcessAlive(pid) || undefined, ms);
}

/** The counter in sector 0 of a disk image (through its backing chain). */
export async function sectorCounter(file: string): Promise<number> {
  return counterInSector(await addon().imageRead(file, 0, 512));
}

/**
 * Opens the VM's snapshot store as the next process would (which collects garbage) and checks
 * the folder: a usable tree, no unreferenced entry left, no layer missing.
 */
export async function openAndCheckStore(vm: LibraryVm): Promise<SnapshotStore> {
  const store = await SnapshotStore.open(vm.folder, baseDisks(vm), realDiskLayerOps());
  assert.equal(store.problem, null, `the snapshot store has a problem: ${store.problem?.message}`);
  const snapshotsDir = path.join(vm.folder, 'snapshots');
  if (!existsSync(path.join(snapshotsDir, 'tree.json'))) {
    const left = existsSync(snapshotsDir) ? readdirSync(snapshotsDir) : [];
    assert.deepEqual(left, [], 'no tree.json, but snapshots/ holds files');
    return store;
  }
  assert.deepEqual(await strayEntries(vm.folder), [], 'unreferenced entries after open');
  assert.deepEqual(await missingLayers(vm.folder), [], 'layers tree.json lists are missing');
  return store;
}

/** Every qcow2 file of the VM: its base disk and every layer. */
export async function qcow2Files(vm: LibraryVm): Promise<string[]> {
  const layers = await readTreeDocument(vm.folder).then(
    (document) => document.layers.map((layer) => path.join(vm.folder, 'snapshots', layer.file)),
    () => [],
  );
  return [...baseDisks(vm), ...layers];
}

/** `qemu-img check` of a file: its exit status (0 clean, 2 corrupt, 3 leaked clusters) and output. */
export function qemuImgCheck(file: string): { status: number; output: string } {
  const run = spawnSync('qemu-img', ['check', '-f', 'qcow2', file], { encoding: 'utf8' });
  if (run.error) throw run.error;
  return { status: run.status ?? -1, output: `${run.stdout}${run.stderr}`.trim() };
}
