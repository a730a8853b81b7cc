/**
 * Hash routes: they work the same under Electron's app:// protocol and `nestbox serve`, and a
 * reload never asks the server for a page.
 */
export type Route =
  | { screen: 'library' }
  | { screen: 'vm'; id: string }
  | { screen: 'vm-settings'; id: string }
  | { screen: 'vm-display'; id: string }
  | { screen: 'vm-console'; id: string }
  | { screen: 'vm-snapshots'; id: string }
  | { screen: 'broken-vm'; folder: string }
  | { screen: 'new-vm' }
  | { screen: 'preferences' }
  | { screen: 'this-computer' };

export const hrefs = {
  library: '#/',
  vm: (id: string) => `#/vms/${encodeURIComponent(id)}`,
  vmSettings: (id: string) => `#/vms/${encodeURIComponent(id)}/settings`,
  vmDisplay: (id: string) => `#/vms/${encodeURIComponent(id)}/display`,
  vmConsole: (id: string) => `#/vms/${encodeURIComponent(id)}/console`,
  vmSnapshots: (id: string) => `#/vms/${encodeURIComponent(id)}/snapshots`,
  brokenVm: (folder: string) => `#/broken/${encodeURIComponent(folder)}`,
  newVm: '#/new-vm',
  preferences: '#/preferences',
  thisComputer: '#/this-computer',
};

function decode(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/** The screen for a hash path; anything unknown shows the library. */
export function parseRoute(path: string): Route {
  if (path === '/new-vm') return { screen: 'new-vm' };
  if (path === '/preferences') return { screen: 'preferences' };
  if (path === '/this-computer') return { screen: 'this-computer' };
  const vm = /^\/vms\/([^/]+)(?:\/(settings|display|console|snapshots))?$/.exec(path);
  const id = vm?.[1] ? decode(vm[1]) : null;
  if (vm && id) {
    if (vm[2] === 'settings') return { screen: 'vm-settings', id };
    if (vm[2] === 'display') return { screen: 'vm-display', id };
    if (vm[2] === 'console') return { screen: 'vm-console', id };
    if (vm[2] === 'snapshots') return { screen: 'vm-snapshots', id };
    return { screen: 'vm', id };
  }
  const broken = /^\/broken\/(.+)$/.exec(path);
  const folder = broken?.[1] ? decode(broken[1]) : null;
  if (folder) return { screen: 'broken-vm', folder };
  return { screen: 'library' };
}

/** A key that changes when the user goes to another screen (not on live data updates). */
export function routeKey(route: Route): string {
  return JSON.stringify(route);
}
