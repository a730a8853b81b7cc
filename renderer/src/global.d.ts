import type { PreloadApi } from './client/contract.ts';

declare global {
  interface Window {
    /** Set by Electron's preload (contextBridge); absent when the page comes from `nestbox serve`. */
    nestbox?: PreloadApi;
  }
}

export {};
