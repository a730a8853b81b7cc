/**
 * For tests of the transports on machines without /dev/kvm: the real VM host process
 * (startVmHost: control socket, serial queue, display stream, runtime files), launched by
 * VmHostRegistry like the real one, but around a scripted machine instead of the addon's KVM
 * one. The machine behaves like the `echo` test guest: it prints "echo ready", echoes serial
 * input (none while paused), and shows a fixed 1024×768 picture.
 *
 *   node --import tsx electron/serve/testing/scripted-vm-host-main.ts --vm-folder DIR --report-fd 3
 */
import { closeSync, writeSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type {
  DisplayMode,
  Machine,
  MachineConfig,
  MachineEvent,
  MachineState,
  NativeAddon,
} from '../../services/native/native-addon.ts';
import { HostStartError, startVmHost, type StartupReport } from '../../services/vm-host/vm-host.ts';

const mode: DisplayMode = { width: 1024, height: 768, bitsPerPixel: 32 };
/** A PNG signature and enough bytes to be a file; nothing reads it as an image. */
const PNG = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]);

class ScriptedMachine {
  state: MachineState = 'created';
  readonly #emit: (event: MachineEvent) => void;
  readonly #pixels = new Uint8Array(mode.width * mode.height * 4);
  /** Input the "guest" has not read yet (it reads nothing while paused). */
  #unread: number[] = [];

  constructor(_config: MachineConfig, onEvent: (event: MachineEvent) => void) {
    this.#emit = (event) => setImmediate(() => onEvent(event));
    for (let i = 0; i < this.#pixels.length; i += 1) this.#pixels[i] = (i * 7) & 0xff;
    this.#emit({ type: 'display-mode', mode });
  }

  #setState(state: MachineState, reason?: 'powered-off'): void {
    this.state = state;
    this.#emit(reason ? { type: 'state', state, reason } : { type: 'state', state });
  }

  #echo(): void {
    if (this.state !== 'running' || this.#unread.length === 0) return;
    const data = Uint8Array.from(this.#unread.splice(0));
    this.#emit({ type: 'serial', data });
  }

  start(): void {
    this.#setState('running');
    this.#emit({ type: 'serial', data: new TextEncoder().encode('echo ready\n') });
  }
  pause(): void {
    this.#setState('paused');
  }
  resume(): void {
    this.#setState('running');
    this.#echo();
  }
  reset(): void {
    this.#emit({ type: 'reset', cause: 'host', reboot: true });
  }
  powerButton(): void {
    this.powerOff();
  }
  powerOff(): void {
    if (this.state === 'stopped') return;
    this.#setState('stopped', 'powered-off');
  }
  sendSerialInput(data: Uint8Array): number {
    this.#unread.push(...data);
    this.#echo();
    return data.byteLength;
  }
  close(): void {
    this.state = 'stopped';
  }
  stats() {
    return {
      unknownPortReads: 0,
      unknownPortWrites: 0,
      unknownMmioReads: 0,
      unknownMmioWrites: 0,
      serialBytesOut: 0,
      resets: 0,
    };
  }
  setDisplayStreaming(): void {}
  requestFullDisplayFrame(): void {}
  readDisplayFrame() {
    return { mode, pixels: this.#pixels.slice() };
  }
  copyDisplayRects(target: Uint8Array): boolean {
    if (target.length !== this.#pixels.length) return false;
    target.set(this.#pixels);
    return true;
  }
  screenshot(): Uint8Array {
    return PNG;
  }
  sendKey(): boolean {
    return true;
  }
  sendKeyCombo(): boolean {
    return true;
  }
  pointerMove(): boolean {
    return true;
  }
  pointerButton(): boolean {
    return true;
  }
  wheel(): boolean {
    return true;
  }
  releaseAllInput(): void {}
}

const scriptedAddon = {
  probeKvm: () => ({ ok: true, devicePath: '/dev/kvm', apiVersion: 12 }),
  Machine: ScriptedMachine as unknown as new (
    config: MachineConfig,
    onEvent: (event: MachineEvent) => void,
  ) => Machine,
  keyCodeNames: () => ['KeyA'],
} as unknown as NativeAddon;

const { values } = parseArgs({
  options: { 'vm-folder': { type: 'string' }, 'report-fd': { type: 'string' } },
});
const reportFd = Number(values['report-fd'] ?? 1);
function report(message: StartupReport): void {
  writeSync(reportFd, `${JSON.stringify(message)}\n`);
  if (reportFd !== 1) closeSync(reportFd);
}

try {
  const host = await startVmHost({
    folder: values['vm-folder'] ?? '',
    loadAddon: () => scriptedAddon,
    hostVersion: 'scripted',
  });
  report({ ok: true, pid: process.pid, socketPath: host.socketPath, state: 'running' });
  const exit = await host.finished;
  process.exit(exit.state === 'stopped' ? 0 : 1);
} catch (error) {
  const code = error instanceof HostStartError ? error.code : 'start-failed';
  report({ ok: false, error: { code, message: String(error) } });
  process.exit(1);
}
