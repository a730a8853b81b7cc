/**
 * The sandboxed preload (bundled to dist/electron/preload.cjs): puts `window.nestbox` in the
 * page, one function per contract message and per subscription (preload-api.ts). The page
 * never gets ipcRenderer itself, so it can send nothing but these messages, whatever script
 * ends up running in it.
 */
import { contextBridge, ipcRenderer } from 'electron';
import { createPreloadApi, type PageWindowLike } from './preload-api.ts';

// The preload shares the page's window (in its own JavaScript world); this file is type-checked
// without the DOM library, so name the little it uses.
declare const window: PageWindowLike;

contextBridge.exposeInMainWorld('nestbox', createPreloadApi(ipcRenderer, window));
