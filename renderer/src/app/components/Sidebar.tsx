import { routes } from '../routes.ts';

/** Lists only screens that exist; each new feature adds its route to `routes`. */
export function Sidebar({ currentPath }: { currentPath: string }) {
  return (
    <nav className="app-sidebar" aria-label="Main">
      <ul className="app-sidebar__list">
        {routes.map(({ path, label, icon: RouteIcon }) => (
          <li key={path}>
            <a
              className="app-sidebar__link"
              href={`#${path}`}
              aria-current={path === currentPath ? 'page' : undefined}
            >
              <RouteIcon className="app-sidebar__icon" />
              {label}
            </a>
          </li>
        ))}
      </ul>
    </nav>
  );
}
