/**
 * Decides whether an IPC message may be handled. Only the main frame of one of our windows,
 * showing our app:// renderer, may call the services: not an iframe, not a page that
 * somehow navigated elsewhere, not a frame that has gone away. Pure, for unit tests.
 */
import { isAppUrl } from './app-origin.ts';

/** The parts of Electron's WebFrameMain this check reads. */
export interface FrameLike {
  readonly url: string;
  readonly parent: FrameLike | null;
}

export type SenderVerdict = { trusted: true } | { trusted: false; reason: string };

export function checkSender(
  frame: FrameLike | null | undefined,
  trustedMainFrames: readonly FrameLike[],
): SenderVerdict {
  // senderFrame is null once the frame navigated away or was destroyed.
  if (!frame) return { trusted: false, reason: 'the sending frame no longer exists' };
  if (frame.parent !== null) return { trusted: false, reason: `sub-frame ${frame.url}` };
  if (!trustedMainFrames.includes(frame)) {
    return { trusted: false, reason: `frame of an unknown window (${frame.url})` };
  }
  if (!isAppUrl(frame.url)) return { trusted: false, reason: `foreign page ${frame.url}` };
  return { trusted: true };
}
