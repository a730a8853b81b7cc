/**
 * VM hosts started through the registry as separate processes from source, driven over their
 * control sockets, killed, and fed garbage. Every scenario runs twice: with the real VM host
 * process around a scripted machine that behaves like the test guest (scripted-machines.ts; no
 * /dev/kvm needed, so it always runs), and with the test guests from native/test/guests on the
 * real /dev/kvm (skipped, with the reason, where the machine has no KVM device node).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { buildGuests } from '../../../native/test/guests/build-guests.ts';
import { kvmSkipReason } from '../../../native/test/kvm-for-tests.ts';
import { DisplayStreamReader, encodeAck } from '../../common/display-frame-format.ts';
import { SCRIPTED_VM_HOST_MAIN, scriptedLauncher } from '../../serve/testing/scripted-host.ts';
import type { LibraryVm, VmLibrary } from '../library/vm-library.ts';
import { loadNativeAddon } from '../native/load-addon.ts';
import type { HostLauncher } from './host-launcher.ts';
import {
  FrameDecoder,
  FrameTag,
  MAX_HOST_FRAME_BYTES,
  encodeBinaryFrame,
  encodeJsonFrame,
  frameHeader,
  hostFrameTags,
  parseHostJsonFrame,
} from './protocol.ts';
import {
  hostRecordPath,
  isHostProcessAlive,
  readHostRecord,
  readLastExit,
  vmLogPath,
} from './runtime-files.ts';
import { VmHostClient, VmHostError } from './vm-host-client.ts';
import { VmStartError, type VmHostRegistry } from './vm-host-registry.ts';
import { openVmServices } from './vm-services.ts';

const STEP_MS = 30_000;
/** A scenario that hangs (a guest that never stops) fails instead of stalling the run. */
const TEST_MS = 180_000;

/** The test guests the scenarios boot. */
type Guest = 'echo' | 'acpi-button';
const guestNames: readonly Guest[] = ['echo', 'acpi-button'];

/** Where the scenarios run: what a guest's kernel is, and which VM host runs it. */
interface Platform {
  kernel(guest: Guest): string;
  /** How the registry launches the host for a VM of `guest`; undefined: the default. */
  launcher(guest: Guest): HostLauncher | undefined;
  /** The host's entry, for a host started by hand (without the registry). */
  hostMain: string;
}

interface Variant {
  title: string;
  skip: string | false;
  platform(scratch: string): Platform;
}

const variants: Variant[] = [
  {
    title: '(scripted machine)',
    skip: false,
    platform(scratch) {
      // The scripted machines boot no kernel, but read it, as the native core does.
      const kernels = path.join(scratch, 'kernels');
      mkdirSync(kernels);
      for (const guest of guestNames) {
        writeFileSync(path.join(kernels, `${guest}.elf`), `scripted ${guest} guest\n`);
      }
      return {
        kernel: (guest) => path.join(kernels, `${guest}.elf`),
        launcher: (guest) => scriptedLauncher(guest),
        hostMain: SCRIPTED_VM_HOST_MAIN,
      };
    },
  },
  {
    title: '(test guest on /dev/kvm)',
    skip: kvmSkipReason(),
    platform() {
      const guests = buildGuests();
      return {
        kernel: (guest) => guests.elf[guest],
        launcher: () => undefined,
        hostMain: path.join(import.meta.dirname, 'vm-host-main.ts'),
      };
    },
  },
];

async function until(what: string, done: () => boolean | Promise<boolean>, ms = STEP_MS) {
  const deadline = performance.now() + ms;
  while (!(await done())) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Everything a client's serial subscription received, as text. */
function serialText(connected: VmHostClient): { text: () => string } {
  let text = '';
  connected.onSerial((bytes) => (text += Buffer.from(bytes).toString('latin1')));
  return { text: () => text };
}

/** Sends raw bytes as a misbehaving client would; collects what the host answers until it hangs up. */
async function rawClient(socketPath: string, bytes: Buffer) {
  const socket = connect(socketPath);
  const decoder = new FrameDecoder(MAX_HOST_FRAME_BYTES, hostFrameTags);
  const events: { event: string; data: unknown }[] = [];
  socket.on('data', (chunk: Buffer) => {
    for (const frame of decoder.push(chunk)) {
      if (frame.tag !== FrameTag.json) continue;
      const parsed = parseHostJsonFrame(frame.payload);
      if (parsed.kind === 'event') events.push(parsed.message);
    }
  });
  socket.on('error', () => undefined);
  await new Promise((resolve) => socket.once('connect', resolve));
  socket.write(bytes);
  const closed = await Promise.race([
    new Promise((resolve) => socket.once('close', () => resolve(true))),
    new Promise((resolve) => setTimeout(() => resolve(false), 5000)),
  ]);
  socket.destroy();
  return { events, closed };
}

function describeVmHosts(variant: Variant): void {
  describe(`VM host lifecycle ${variant.title}`, () => {
    let platform: Platform;
    let scratch = '';
    let runtimeDir = '';
    let library: VmLibrary;
    /** The registry of the echo guest's VMs: status and connect are the same for every VM. */
    let registry: VmHostRegistry;
    const registries = new Map<Guest, VmHostRegistry>();
    const guestOf = new Map<string, Guest>();
    const clients: VmHostClient[] = [];

    before(async () => {
      if (variant.skip) return;
      scratch = mkdtempSync(path.join(tmpdir(), 'nestbox-vm-host-test-'));
      runtimeDir = mkdtempSync(path.join(tmpdir(), 'nestbox-runtime-'));
      chmodSync(runtimeDir, 0o700);
      platform = variant.platform(scratch);
      const env = { ...process.env, NESTBOX_HOME: scratch, XDG_RUNTIME_DIR: runtimeDir };
      for (const guest of guestNames) {
        const launcher = platform.launcher(guest);
        const services = await openVmServices({
          env,
          ...(launcher ? { launcher } : {}),
          createDiskImage: (file, options) => loadNativeAddon().imageCreate(file, options),
        });
        registries.set(guest, services.registry);
        if (guest === 'echo') ({ library, registry } = services);
      }
    });

    after(async () => {
      if (scratch === '') return;
      for (const connected of clients) connected.destroy();
      // Leave no VM running behind a failed test.
      const listing = await library.list();
      for (const entry of listing.entries) {
        const host = await readHostRecord(entry.folder);
        if (host.kind === 'ok' && isHostProcessAlive(host.record.pid)) {
          process.kill(host.record.pid, 'SIGKILL');
        }
      }
      rmSync(scratch, { recursive: true, force: true });
      rmSync(runtimeDir, { recursive: true, force: true });
    });

    async function makeVm(
      name: string,
      guest: Guest,
      options: { kernel?: string; newDisk?: boolean } = {},
    ): Promise<LibraryVm> {
      const vm = await library.create({
        name,
        boot: { kind: 'kernel', kernel: options.kernel ?? platform.kernel(guest), cmdline: '' },
        hardware: { memoryMiB: 64, network: { mode: 'none' } },
        ...(options.newDisk ? { newDisk: { sizeBytes: 16 * 1024 * 1024 } } : {}),
      });
      guestOf.set(vm.id, guest);
      return vm;
    }

    /** Starts the VM's host through the registry, as every client does. */
    function start(vm: LibraryVm) {
      const guestRegistry = registries.get(guestOf.get(vm.id) ?? 'echo');
      assert.ok(guestRegistry);
      return guestRegistry.start(vm);
    }

    async function client(vm: LibraryVm): Promise<VmHostClient> {
      const connected = await registry.connect(vm);
      clients.push(connected);
      return connected;
    }

    async function stopAndWait(vm: LibraryVm): Promise<void> {
      const connected = await client(vm);
      await connected.call('powerOff');
      await connected.closed;
    }

    test(
      'runs in its own process; a second host is refused; two clients control it',
      { skip: variant.skip, timeout: TEST_MS },
      async () => {
        const vm = await makeVm('echo', 'echo');
        const started = await start(vm);

        // The socket is in the runtime folder, private to the user.
        assert.equal(started.socketPath, path.join(runtimeDir, 'nestbox', 'vms', `${vm.id}.sock`));
        assert.equal(statSync(started.socketPath).mode & 0o777, 0o600);
        assert.equal(statSync(path.dirname(started.socketPath)).mode & 0o777, 0o700);
        assert.notEqual(started.pid, process.pid);
        const record = await readHostRecord(vm.folder);
        assert.ok(record.kind === 'ok');
        assert.equal(record.record.pid, started.pid);
        assert.deepEqual(await registry.status(vm), {
          state: 'running',
          pid: started.pid,
          socketPath: started.socketPath,
        });
        assert.equal(await registry.isRunning(vm.id), true);

        await assert.rejects(start(vm), { name: 'VmStartError', code: 'already-running' });
        // A second host started directly (no registry check first) is refused by the lock.
        const second = spawn(
          process.execPath,
          ['--import', 'tsx', platform.hostMain, '--vm-folder', vm.folder],
          {
            stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, XDG_RUNTIME_DIR: runtimeDir },
          },
        );
        let secondOut = '';
        second.stdout.on('data', (chunk: Buffer) => (secondOut += chunk.toString()));
        const secondStatus = await new Promise((resolve) => second.on('close', resolve));
        assert.equal(secondStatus, 1);
        assert.deepEqual(JSON.parse(secondOut), {
          ok: false,
          error: {
            code: 'already-running',
            message: `"echo" is already running (VM host pid ${started.pid})`,
          },
        });
        assert.equal((await registry.status(vm)).state, 'running');

        // Two clients at once: input from either reaches the guest; its output reaches both.
        const a = await client(vm);
        const b = await client(vm);
        assert.equal(a.hello.vmId, vm.id);
        assert.equal(a.hello.state, 'running');
        const outA = serialText(a);
        const outB = serialText(b);
        assert.deepEqual(await a.call('subscribe', { serial: true }), {
          serial: true,
          display: false,
        });
        await b.call('subscribe', { serial: true });
        await a.call('sendSerial', { text: 'hello ' });
        b.sendSerialBytes(Buffer.from('world'));
        await until('the echo on both clients', () =>
          [outA, outB].every((out) => out.text() === 'hello world'),
        );

        const status = await b.call('status');
        assert.equal(status.state, 'running');
        assert.equal(status.pid, started.pid);
        assert.equal(status.clients, 2);
        assert.deepEqual(status.display, { width: 1024, height: 768 });
        assert.equal(status.logFile, vmLogPath(vm.folder));

        // Pause: the guest reads nothing while paused, and everything once resumed.
        assert.equal((await a.call('pause')).state, 'paused');
        assert.equal((await b.call('status')).state, 'paused');
        assert.equal((await registry.status(vm)).state, 'paused');
        await b.call('sendSerial', { text: '!' });
        await new Promise((resolve) => setTimeout(resolve, 100));
        assert.equal(outA.text(), 'hello world');
        assert.deepEqual(await b.call('resume'), { state: 'running' });
        await until('the echo after resume', () => outA.text() === 'hello world!');

        // The screen, as a PNG and as a display stream.
        const png = await a.call('screenshot');
        assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
        const reader = new DisplayStreamReader();
        const messages: string[] = [];
        b.onDisplay((bytes) => {
          const message = reader.read(bytes);
          messages.push(message.type === 'frame' && message.full ? 'full-frame' : message.type);
          b.sendDisplay(encodeAck(message.sequence));
        });
        assert.deepEqual(await b.call('subscribe', { display: true }), {
          serial: true,
          display: true,
        });
        await until('MODE and a full FRAME', () => messages.length >= 2);
        assert.deepEqual(messages.slice(0, 2), ['mode', 'full-frame']);
        assert.deepEqual(reader.mode, { width: 1024, height: 768, format: 'x8r8g8b8' });

        // An unknown method is an error answer, not a disconnect.
        await assert.rejects(
          (a as unknown as { call(method: string): Promise<unknown> }).call('selfDestruct'),
          {
            name: 'VmHostError',
            code: 'unknown-method',
            message: 'there is no method "selfDestruct"',
          },
        );
        await assert.rejects(a.call('sendKey', { code: 'KeyA', pressed: 'yes' } as never), {
          code: 'invalid-params',
        });
        assert.equal(a.isOpen, true);

        // Power off: both clients hear how it ended; the host cleans up and exits.
        const exits: unknown[] = [];
        b.on('exit', (exit) => exits.push(exit));
        assert.deepEqual(await a.call('powerOff'), { state: 'stopped', reason: 'powered-off' });
        await Promise.all([a.closed, b.closed]);
        assert.equal(exits.length, 1);
        const lastExit = await readLastExit(vm.folder);
        assert.equal(lastExit?.state, 'stopped');
        assert.equal(lastExit?.reason, 'powered-off');
        assert.equal(lastExit?.pid, started.pid);
        assert.ok(!Number.isNaN(Date.parse(lastExit?.at ?? '')));
        assert.deepEqual(exits[0], lastExit);
        assert.equal(existsSync(hostRecordPath(vm.folder)), false);
        assert.equal(existsSync(started.socketPath), false);
        assert.equal((await registry.status(vm)).state, 'off');
        assert.equal(await registry.isRunning(vm.id), false);
        await until('the host process to exit', () => !isHostProcessAlive(started.pid));

        const log = readFileSync(vmLogPath(vm.folder), 'utf8');
        assert.match(log, /\[vm\] state: running/);
        assert.match(log, /\[vm\] state: paused/);
        assert.match(log, /refused to start a second VM host/);
        assert.match(log, /\[vm\] state: stopped \(powered-off\)/);
        assert.match(log, /\[host\] VM host exiting/);
      },
    );

    test(
      'bad clients are told why and disconnected; the host carries on',
      { skip: variant.skip, timeout: TEST_MS },
      async () => {
        const vm = await makeVm('tough', 'echo');
        const { socketPath } = await start(vm);
        const cases: [string, Buffer, string][] = [
          ['an HTTP request', Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'), 'frame-too-large'],
          ['a frame over 1 MiB', frameHeader(FrameTag.json, 2 * 1024 * 1024), 'frame-too-large'],
          ['an unknown tag', Buffer.from([0, 0, 0, 2, 9, 0]), 'bad-frame'],
          ['a zero length', Buffer.from([0, 0, 0, 0, 1]), 'bad-frame'],
          [
            'bytes that are not JSON',
            encodeBinaryFrame(FrameTag.json, Buffer.from('{nope')),
            'bad-message',
          ],
          ['JSON that is not a request', encodeJsonFrame([1, 2, 3]), 'bad-message'],
          ['a request without an id', encodeJsonFrame({ method: 'powerOff' }), 'bad-message'],
        ];
        const results = await Promise.all(cases.map(([, bytes]) => rawClient(socketPath, bytes)));
        cases.forEach(([what, , code], i) => {
          const result = results[i];
          assert.ok(result?.closed, `${what}: the host hung up`);
          assert.equal(result.events[0]?.event, 'hello', what);
          const error = result.events.find((event) => event.event === 'protocol-error');
          assert.equal((error?.data as { code?: string } | undefined)?.code, code, what);
        });
        // Half a frame, then gone: nothing to answer, nothing broken.
        const half = rawClient(
          socketPath,
          encodeJsonFrame({ id: 1, method: 'status' }).subarray(0, 9),
        );
        await new Promise((resolve) => setTimeout(resolve, 50));
        void half;

        const good = await client(vm);
        const out = serialText(good);
        await good.call('subscribe', { serial: true });
        await good.call('sendSerial', { text: 'still here' });
        await until('the echo', () => out.text() === 'still here');
        assert.equal((await good.call('status')).state, 'running');
        const log = readFileSync(vmLogPath(vm.folder), 'utf8');
        assert.match(log, /a client was disconnected: .* \[frame-too-large\]/);
        await good.call('powerOff');
        await good.closed;
      },
    );

    test(
      'the ACPI power button lets the guest shut itself down',
      { skip: variant.skip, timeout: TEST_MS },
      async () => {
        const vm = await makeVm('acpi', 'acpi-button');
        await start(vm);
        const connected = await client(vm);
        const out = serialText(connected);
        // The guest is quick: its banner is out before we subscribe, and comes from the history.
        await connected.call('subscribe', { serial: true, serialHistory: true });
        await until('the guest to wait for the button', () =>
          out.text().includes('waiting for the power button\n'),
        );
        await connected.call('powerButton');
        await connected.closed;
        assert.match(out.text(), /power button pressed, shutting down\n/);
        assert.deepEqual(
          { ...(await readLastExit(vm.folder)), at: undefined, pid: undefined },
          { state: 'stopped', reason: 'powered-off', at: undefined, pid: undefined },
        );
        assert.equal((await registry.status(vm)).state, 'off');
      },
    );

    test(
      'a host killed with SIGKILL: crashed, log kept, and the VM starts again',
      { skip: variant.skip, timeout: TEST_MS },
      async () => {
        const vm = await makeVm('doomed', 'echo');
        const first = await start(vm);
        process.kill(first.pid, 'SIGKILL');
        await until('the host to die', () => !isHostProcessAlive(first.pid));

        const status = await registry.status(vm);
        assert.equal(status.state, 'crashed');
        assert.equal(status.pid, first.pid);
        assert.match(status.detail ?? '', /ended without shutting down: it crashed or was killed/);
        assert.equal(await registry.isRunning(vm.id), false);
        await assert.rejects(registry.connect(vm), (error: unknown) => {
          return error instanceof VmHostError && error.code === 'not-running';
        });
        assert.match(readFileSync(vmLogPath(vm.folder), 'utf8'), /running; control socket/);

        const second = await start(vm);
        assert.notEqual(second.pid, first.pid);
        assert.equal((await registry.status(vm)).state, 'running');
        const log = readFileSync(vmLogPath(vm.folder), 'utf8');
        assert.match(
          log,
          new RegExp(`the previous VM host \\(pid ${first.pid}, .*\\) ended without shutting down`),
        );
        await stopAndWait(vm);
        assert.equal((await registry.status(vm)).state, 'off');
      },
    );

    test(
      'startup failures come back from the host with their reason',
      { skip: variant.skip, timeout: TEST_MS },
      async () => {
        const kernel = path.join(scratch, 'vanishing-kernel.elf');
        copyFileSync(platform.kernel('echo'), kernel);
        const noKernel = await makeVm('no kernel', 'echo', { kernel });
        rmSync(kernel);
        await assert.rejects(start(noKernel), (error: unknown) => {
          assert.ok(error instanceof VmStartError);
          assert.equal(error.code, 'KERNEL_NOT_FOUND');
          assert.ok(error.message.includes(kernel), error.message);
          return true;
        });
        const status = await registry.status(noKernel);
        assert.equal(status.state, 'off');
        assert.equal(status.lastExit?.state, 'start-failed');
        assert.equal(status.lastExit?.error?.code, 'KERNEL_NOT_FOUND');
        assert.equal(existsSync(hostRecordPath(noKernel.folder)), false);
        assert.match(
          readFileSync(vmLogPath(noKernel.folder), 'utf8'),
          /could not start "no kernel"/,
        );

        const corrupt = await makeVm('corrupt disk', 'echo', { newDisk: true });
        const disk = path.join(corrupt.folder, 'disk.qcow2');
        const bytes = readFileSync(disk);
        bytes.fill(0xff, 8, 16); // the backing file offset: far past the end of the file
        await import('node:fs/promises').then(({ writeFile }) => writeFile(disk, bytes));
        await assert.rejects(start(corrupt), (error: unknown) => {
          assert.ok(error instanceof VmStartError);
          assert.equal(error.code, 'IMAGE_CORRUPT');
          assert.ok(error.message.startsWith(`${disk}: corrupt qcow2 image`), error.message);
          return true;
        });
        assert.equal(await registry.isRunning(corrupt.id), false);
      },
    );
  });
}

for (const variant of variants) describeVmHosts(variant);
