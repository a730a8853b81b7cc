import type { ComponentType, SVGProps } from 'react';
import { ComputerIcon, LayersIcon, SlidersIcon } from '../../components/icons.tsx';
import { LibraryNav } from '../../features/library/components/LibraryNav.tsx';
import { hrefs } from '../routes.ts';

interface NavLink {
  href: string;
  label: string;
  icon: ComponentType<SVGProps<SVGSVGElement>>;
}

interface SidebarProps {
  /** The hash path on show, e.g. `/vms/…`. */
  currentPath: string;
  showPreferences: boolean;
}

/** The library's VMs, then the app's other screens. Only screens that exist are listed. */
export function Sidebar({ currentPath, showPreferences }: SidebarProps) {
  const top: NavLink[] = [{ href: hrefs.library, label: 'Library', icon: LayersIcon }];
  const bottom: NavLink[] = [
    { href: hrefs.thisComputer, label: 'This computer', icon: ComputerIcon },
    ...(showPreferences
      ? [{ href: hrefs.preferences, label: 'Preferences', icon: SlidersIcon }]
      : []),
  ];
  const link = ({ href, label, icon: LinkIcon }: NavLink) => {
    const path = href.replace(/^#/, '');
    const current = path === currentPath || (path === '/' && currentPath === '');
    return (
      <li key={href}>
        <a className="app-sidebar__link" href={href} aria-current={current ? 'page' : undefined}>
          <LinkIcon className="app-sidebar__icon" />
          {label}
        </a>
      </li>
    );
  };
  return (
    <nav className="app-sidebar" aria-label="Main">
      <ul className="app-sidebar__list">{top.map(link)}</ul>
      <LibraryNav currentPath={currentPath} />
      <ul className="app-sidebar__list app-sidebar__list--bottom">{bottom.map(link)}</ul>
    </nav>
  );
}
