/**
 * The per-VM lock: whoever holds it owns the VM's files — a VM host for as long as it runs,
 * or a process changing the snapshot tree of a VM that is off. It is a name in Linux's
 * abstract socket namespace, which the kernel frees when the process dies however it dies,
 * so a crash never leaves a stale lock and two that take it at the same moment cannot both win.
 */
import { createServer, type Server } from 'node:net';

/** The lock, or undefined when another process holds it. */
export async function acquireVmLock(vmId: string): Promise<Server | undefined> {
  const name = `\0nestbox/vm-host/${process.getuid?.() ?? 0}/${vmId}`;
  const server = createServer((socket) => socket.destroy());
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EADDRINUSE') resolve(undefined);
      else reject(error);
    });
    server.listen(name, () => {
      server.unref();
      resolve(server);
    });
  });
}
