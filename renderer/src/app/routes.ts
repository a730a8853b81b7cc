import type { ComponentType, SVGProps } from 'react';
import { ComputerIcon } from '../components/icons.tsx';
import { HostCheckScreen } from '../features/host-check/components/HostCheckScreen.tsx';

/** A screen reachable from the sidebar. Features add themselves here as they arrive. */
export interface AppRoute {
  /** Hash path, e.g. `#/this-computer`. */
  path: `/${string}`;
  label: string;
  icon: ComponentType<SVGProps<SVGSVGElement>>;
  Screen: ComponentType;
}

export const routes: readonly AppRoute[] = [
  { path: '/this-computer', label: 'This computer', icon: ComputerIcon, Screen: HostCheckScreen },
];

const defaultRoute = routes[0] as AppRoute;

/** The route for a hash path; anything unknown shows the first screen. */
export function resolveRoute(path: string): AppRoute {
  return routes.find((route) => route.path === path) ?? defaultRoute;
}
