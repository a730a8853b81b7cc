/**
 * The contract end to end through a real `nestbox serve` (in this process, on port 0) and a
 * real VM host process: create, start, serial both ways, display frames, pause, resume, power
 * off — every step through the contract's HTTP channels and WebSockets, as the renderer does
 * it. Once with the echo test guest on /dev/kvm (skipped where the machine has no KVM device
 * node), and once with the VM host around a scripted machine, so the transports are tested everywhere.
 */
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { buildGuests } from '../../native/test/guests/build-guests.ts';
import type { RequestOf, ResponseOf, SubscriptionEnd, WireError } from '../common/contract.ts';
import {
  DisplayStreamReader,
  encodeAck,
  type DisplayMessage,
} from '../common/display-frame-format.ts';
import type { VmList } from '../common/vm-list.ts';
import { loadNativeAddon } from '../services/native/load-addon.ts';
import { createAppServices, type AppServices } from '../services/request-handlers.ts';
import type { HostLauncher } from '../services/vm-host/host-launcher.ts';
import { isHostProcessAlive, readHostRecord } from '../services/vm-host/runtime-files.ts';
import { openVmServices } from '../services/vm-host/vm-services.ts';
import { startServeServer, type ServeServer } from './serve-server.ts';
import { kvmSkipReason } from '../../native/test/kvm-for-tests.ts';

const STEP_MS = 30_000;
const sockets: WebSocket[] = [];

/** A `nestbox serve` with its own library, runtime folder and VM hosts. */
interface Stack {
  env: NodeJS.ProcessEnv;
  services: AppServices;
  server: ServeServer;
  close(): Promise<void>;
}

async function startStack(launcher?: HostLauncher): Promise<Stack> {
  const scratch = mkdtempSync(path.join(tmpdir(), 'nestbox-serve-vms-'));
  const runtimeDir = mkdtempSync(path.join(tmpdir(), 'nestbox-serve-runtime-'));
  chmodSync(runtimeDir, 0o700);
  const env = { ...process.env, NESTBOX_HOME: scratch, XDG_RUNTIME_DIR: runtimeDir };
  const services = createAppServices({
    appVersion: '0.1.0',
    loadNativeAddon: () => loadNativeAddon(env),
    env,
    ...(launcher ? { openVmServices: () => openVmServices({ env, launcher }) } : {}),
    changeFeed: { intervalMs: 200 },
  });
  const server = await startServeServer({
    handlers: services.handlers,
    subscriptions: services.subscriptions,
    rendererDir: path.join(scratch, 'no-renderer'),
    tokenFilePath: null,
    logError: (message, error) => console.error(message, error),
  });
  return {
    env,
    services,
    server,
    async close() {
      await server.close();
      services.close();
      // Leave no VM running behind a failed test.
      const { library } = await openVmServices({ env });
      for (const entry of (await library.list()).entries) {
        const host = await readHostRecord(entry.folder);
        if (host.kind === 'ok' && isHostProcessAlive(host.record.pid)) {
          process.kill(host.record.pid, 'SIGKILL');
        }
      }
      rmSync(scratch, { recursive: true, force: true });
      rmSync(runtimeDir, { recursive: true, force: true });
    },
  };
}

/** The real VM host process around a scripted echo machine instead of KVM (no /dev/kvm needed). */
const scriptedLauncher: HostLauncher = {
  command: process.execPath,
  args: [
    '--import',
    import.meta.resolve('tsx'),
    path.join(import.meta.dirname, 'testing', 'scripted-vm-host-main.ts'),
  ],
};

let scripted: Stack;
let server: ServeServer;

before(async () => {
  scripted = await startStack(scriptedLauncher);
});

after(async () => {
  for (const socket of sockets) socket.terminate();
  await scripted?.close();
});

async function until(what: string, done: () => boolean, ms = STEP_MS): Promise<void> {
  const deadline = performance.now() + ms;
  while (!done()) {
    if (performance.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A request channel over HTTP, as the renderer's http transport sends it. */
async function call<C extends keyof import('../common/contract.ts').RequestMap>(
  channel: C,
  request: RequestOf<C>,
): Promise<ResponseOf<C>> {
  const response = await fetch(`http://127.0.0.1:${server.port}/api/${channel}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${server.token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(request ?? null),
  });
  const body = (await response.json()) as unknown;
  if (!response.ok) {
    const { error } = body as WireError;
    throw Object.assign(new Error(error.message), { code: error.code, status: response.status });
  }
  return body as ResponseOf<C>;
}

interface Received {
  socket: WebSocket;
  texts: { type: string; data?: unknown; end?: SubscriptionEnd }[];
  binary: Buffer[];
  closed: Promise<number>;
}

/** A WebSocket to the server, recording what arrives. */
function open(
  socketPath: string,
  options: { token?: string | null; origin?: string; host?: string } = {},
) {
  const token = options.token === undefined ? server.token : options.token;
  const url = `ws://127.0.0.1:${server.port}${socketPath}${token ? `${socketPath.includes('?') ? '&' : '?'}token=${token}` : ''}`;
  const socket = new WebSocket(url, {
    ...(options.origin ? { origin: options.origin } : {}),
    ...(options.host ? { headers: { Host: options.host } } : {}),
  });
  sockets.push(socket);
  const received: Received = {
    socket,
    texts: [],
    binary: [],
    closed: new Promise((resolve) => socket.once('close', (code) => resolve(code))),
  };
  socket.on('message', (data, isBinary) => {
    const bytes = Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
    if (isBinary) received.binary.push(bytes);
    else received.texts.push(JSON.parse(bytes.toString('utf8')) as Received['texts'][number]);
  });
  return received;
}

/** The HTTP status a refused upgrade got. */
function refusedStatus(socketPath: string, options: Parameters<typeof open>[1] = {}) {
  const { socket } = open(socketPath, options);
  return new Promise<number>((resolve, reject) => {
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      socket.terminate();
    });
    socket.once('open', () => reject(new Error(`${socketPath} was accepted`)));
    socket.on('error', () => undefined);
  });
}

function whenOpen(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.OPEN) return Promise.resolve();
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
}

const listOf = (received: Received) =>
  received.texts.filter((text) => text.type === 'event').map((text) => text.data as VmList);

test('WebSockets without the token, with a wrong one, from another origin or host name are refused', async () => {
  server = scripted.server;
  const wrong = `${server.token.slice(0, -1)}${server.token.endsWith('A') ? 'B' : 'A'}`;
  const anyVm = '3f2b8c1e-5d4a-4c1b-9e0f-1a2b3c4d5e6f';
  for (const socketPath of [
    '/api/events',
    `/api/vms/${anyVm}/console`,
    `/api/vms/${anyVm}/display`,
  ]) {
    assert.equal(await refusedStatus(socketPath, { token: null }), 401, socketPath);
    assert.equal(await refusedStatus(socketPath, { token: wrong }), 401, socketPath);
    assert.equal(
      await refusedStatus(socketPath, { origin: 'http://attacker.example' }),
      403,
      socketPath,
    );
  }
  // DNS rebinding: a page of another site whose name now points at 127.0.0.1.
  assert.equal(await refusedStatus('/api/events', { host: 'attacker.example' }), 421);
  assert.equal(await refusedStatus('/api/nothing-here'), 404);
  assert.equal(await refusedStatus('/api/vms/not-a-uuid/console'), 400);
  // The page's own origin (as a browser sends it) is accepted.
  const own = open('/api/events', { origin: `http://127.0.0.1:${server.port}` });
  await whenOpen(own.socket);
  own.socket.close();
});

/**
 * Create, start, serial both ways, display, pause, resume, power off, delete: all through the
 * contract's channels, for the echo guest (or the scripted machine that behaves like it).
 */
async function runVmThroughTheContract(kernel: string): Promise<void> {
  const events = open('/api/events');
  await until('the first vms.changed', () => listOf(events).length >= 1);
  assert.deepEqual(listOf(events)[0]?.vms, []);

  // Create: the same inputs as `nestbox create`.
  await assert.rejects(call('vms.create', { name: 'echo', kernel: 'relative/path' }), {
    code: 'bad-request',
    status: 400,
  });
  const created = await call('vms.create', {
    name: 'echo',
    kernel,
    memoryMiB: 64,
    network: { mode: 'none' },
  });
  assert.equal(created.state, 'off');
  assert.equal(created.config.hardware.memoryMiB, 64);
  assert.deepEqual(created.config.hardware.display, { width: 1024, height: 768, vramMiB: 16 });
  const { id } = created;
  await until('vms.changed with the new VM', () =>
    listOf(events).some((list) => list.vms.some((vm) => vm.id === id && vm.state === 'off')),
  );

  // Start.
  await assert.rejects(call('vms.pause', { id }), { code: 'not-running' });
  const started = await call('vms.start', { id });
  assert.equal(started.state, 'running');
  await assert.rejects(call('vms.start', { id }), { code: 'already-running' });
  await until('vms.changed: running', () =>
    listOf(events).some((list) => list.vms.some((vm) => vm.id === id && vm.state === 'running')),
  );
  // Hardware changes wait for power-off; the name does not.
  await assert.rejects(call('vms.update', { id, patch: { hardware: { cpus: 2 } } }), {
    code: 'vm-running',
    status: 409,
  });
  assert.equal((await call('vms.rename', { id, name: 'echo two' })).config.name, 'echo two');

  // The serial console, with what the guest printed before, and input from the socket.
  const console_ = open(`/api/vms/${id}/console?history=1`);
  const serialText = () => Buffer.concat(console_.binary).toString('latin1');
  await until('the guest banner from the history', () => serialText().includes('echo ready'));
  console_.socket.send(Buffer.from('hello '), { binary: true });
  await until('the echo', () => serialText().includes('hello '));
  // `queued`: bytes the guest has not read yet, however fast it reads.
  assert.equal(typeof (await call('vms.sendSerial', { id, text: 'world' })).queued, 'number');
  await until('the echo of a request', () => serialText().includes('hello world'));

  // The display: MODE then a full FRAME, acknowledged over the same socket.
  const display = open(`/api/vms/${id}/display`);
  const reader = new DisplayStreamReader();
  const messages: DisplayMessage[] = [];
  display.socket.on('message', (data, isBinary) => {
    if (!isBinary) return;
    const message = reader.read(data as Buffer);
    messages.push(message);
    display.socket.send(Buffer.from(encodeAck(message.sequence)), { binary: true });
  });
  await until('MODE and a full FRAME', () => messages.length >= 2);
  assert.equal(messages[0]?.type, 'mode');
  assert.deepEqual(reader.mode, { width: 1024, height: 768, format: 'x8r8g8b8' });
  const frame = messages[1];
  assert.ok(frame?.type === 'frame' && frame.full);
  assert.equal(frame.rects[0]?.pixels.byteLength, 1024 * 768 * 4);

  const screenshot = await call('vms.screenshot', { id });
  assert.equal(screenshot.mimeType, 'image/png');
  assert.deepEqual(
    [...Buffer.from(screenshot.base64, 'base64').subarray(0, 4)],
    [0x89, 0x50, 0x4e, 0x47],
  );

  // Pause: input waits; resume: it arrives. vms.changed sees both (no file changes for them).
  assert.deepEqual(await call('vms.pause', { id }), { id, state: 'paused' });
  await until('vms.changed: paused', () =>
    listOf(events).some((list) => list.vms.some((vm) => vm.id === id && vm.state === 'paused')),
  );
  assert.equal((await call('vms.get', { id })).state, 'paused');
  console_.socket.send(Buffer.from('!'), { binary: true });
  await new Promise((resolve) => setTimeout(resolve, 200));
  assert.ok(!serialText().includes('world!'), 'a paused guest reads nothing');
  assert.deepEqual(await call('vms.resume', { id }), { id, state: 'running' });
  await until('the echo after resume', () => serialText().includes('hello world!'));
  await until(
    'vms.changed: running again',
    () => listOf(events).at(-1)?.vms[0]?.state === 'running',
  );

  // Power off: the streams end with how the VM stopped, and the list says off.
  const stopped = await call('vms.stop', { id, force: true });
  assert.equal(stopped.state, 'off');
  assert.equal(stopped.lastExit?.reason, 'powered-off');
  for (const stream of [console_, display]) {
    assert.equal(await stream.closed, 1000);
    const end = stream.texts.find((text) => text.type === 'end')?.end;
    assert.equal(end?.reason, 'vm-stopped');
    assert.equal(end?.lastExit?.reason, 'powered-off');
  }
  await until('vms.changed: off', () => listOf(events).at(-1)?.vms[0]?.state === 'off');

  // A stopped VM's console cannot open: the socket says why and closes.
  const late = open(`/api/vms/${id}/console`);
  assert.equal(await late.closed, 1000);
  assert.equal(late.texts[0]?.end?.error?.code, 'not-running');

  // Hardware changes are allowed again; then the VM goes.
  assert.equal(
    (await call('vms.update', { id, patch: { hardware: { cpus: 2 } } })).config.hardware.cpus,
    2,
  );
  assert.equal((await call('vms.delete', { id, permanently: true })).method, 'permanent');
  await until('vms.changed: empty', () => listOf(events).at(-1)?.vms.length === 0);
  await assert.rejects(call('vms.get', { id }), { code: 'not-found', status: 404 });
  events.socket.close();
}

test(
  'a VM host with a scripted machine, driven through the contract',
  { timeout: 120_000 },
  async () => {
    server = scripted.server;
    // The scripted machine boots nothing; the kernel only has to be a file.
    await runVmThroughTheContract(path.join(import.meta.dirname, 'serve-vms.test.ts'));
  },
);

test(
  'the echo test guest on /dev/kvm, driven through the contract',
  { skip: kvmSkipReason(), timeout: 180_000 },
  async (t) => {
    const guests = buildGuests();
    const real = await startStack();
    t.after(() => real.close());
    server = real.server;
    await runVmThroughTheContract(guests.elf.echo);
  },
);
