/**
 * The life of a VM host process around whatever starts its machine: signals, the one startup
 * report, and the exit status. vm-host-main.ts runs it with the addon's KVM machine; the tests'
 * scripted host (electron/serve/testing) with a scripted one, so both behave the same.
 */
import { closeSync, writeSync } from 'node:fs';
import { HostStartError, type StartupReport, type VmHost } from './vm-host.ts';

/** Writes the startup report once, to the launcher's pipe (fd) or to stdout. */
function report(reportFd: number | undefined, message: StartupReport): void {
  const line = `${JSON.stringify(message)}\n`;
  try {
    if (reportFd === undefined) {
      process.stdout.write(line);
    } else {
      writeSync(reportFd, line);
      closeSync(reportFd);
    }
  } catch {
    // The launcher went away: it will find the VM through host.json or the log.
  }
}

/**
 * Starts the host with `start`, reports how that went and exits when the VM is over: status 0
 * when it stopped (powered off, halted), 1 when it failed or could not start.
 */
export async function runVmHostProcess(options: {
  reportFd: number | undefined;
  start: () => Promise<VmHost>;
}): Promise<never> {
  let host: VmHost | undefined;
  // Until the VM runs, a signal just ends the start; afterwards it powers the VM off.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (host) host.requestStop(`received ${signal}`);
      else process.exit(1);
    });
  }
  // Detached from any terminal, a hangup means nothing to a running VM.
  process.on('SIGHUP', () => undefined);
  process.on('uncaughtException', (error) => {
    if (host) {
      host.fail(error);
    } else {
      process.stderr.write(`nestbox vm-host: ${error.stack ?? error.message}\n`);
      process.exit(1);
    }
  });

  try {
    host = await options.start();
  } catch (error) {
    const code = error instanceof HostStartError ? error.code : 'start-failed';
    const message = error instanceof Error ? error.message : String(error);
    report(options.reportFd, { ok: false, error: { code, message } });
    process.exit(1);
  }

  report(options.reportFd, {
    ok: true,
    pid: process.pid,
    socketPath: host.socketPath,
    state: 'running',
  });
  const exit = await host.finished;
  process.exit(exit.state === 'stopped' ? 0 : 1);
}
