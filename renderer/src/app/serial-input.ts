import { NestboxClientError } from '../client/client-error.ts';
import type { NestboxClient } from '../client/nestbox-client.ts';

/** Well under `vms.sendSerial`'s 512 KiB, even at 4 UTF-8 bytes a character. */
const CHUNK_CHARACTERS = 64 * 1024;
/** How long to wait for the guest to read what is queued (`input-full`), in all. */
const GIVE_UP_MS = 60_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function chunks(text: string): string[] {
  const out: string[] = [];
  for (let start = 0; start < text.length;) {
    let end = Math.min(text.length, start + CHUNK_CHARACTERS);
    // Never split a surrogate pair between two requests.
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    out.push(text.slice(start, end));
    start = end;
  }
  return out;
}

/**
 * Text for a VM's serial console through `vms.sendSerial`, in pieces the channel accepts, one
 * after another; `input-full` (the guest has not read what came before) is waited out.
 */
export async function sendSerialText(
  client: NestboxClient,
  vmId: string,
  text: string,
  wait: (ms: number) => Promise<unknown> = sleep,
): Promise<void> {
  for (const piece of chunks(text)) {
    let waited = 0;
    for (let attempt = 0; ; attempt += 1) {
      try {
        await client.sendSerial({ id: vmId, text: piece });
        break;
      } catch (error) {
        const full = error instanceof NestboxClientError && error.code === 'input-full';
        if (!full || waited >= GIVE_UP_MS) throw error;
        const delay = Math.min(1000, 50 * 2 ** attempt);
        waited += delay;
        await wait(delay);
      }
    }
  }
}
