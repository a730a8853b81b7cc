import { useEffect, useRef, type MouseEvent } from 'react';
import { parseRoute, routeKey } from '../routes.ts';
import type { AppServices } from '../services.ts';
import { useAppSettings } from '../use-app-settings.ts';
import { useHashPath } from '../use-hash-path.ts';
import { AppHeader } from './AppHeader.tsx';
import { RouteScreen } from './RouteScreen.tsx';
import { Sidebar } from './Sidebar.tsx';
import './AppShell.css';

export function AppShell({ services }: { services: AppServices }) {
  const path = useHashPath();
  const route = parseRoute(path);
  const key = routeKey(route);
  const mainRef = useRef<HTMLElement>(null);
  const shownKey = useRef(key);
  const { settings, replace } = useAppSettings(services.preferences);

  // After navigating, move focus to the new screen's heading (or the content), so keyboard and
  // screen-reader users start there instead of on the link they used. Not on first load.
  useEffect(() => {
    if (shownKey.current === key) return;
    shownKey.current = key;
    const main = mainRef.current;
    if (!main || main.contains(document.activeElement)) return;
    const heading = main.querySelector<HTMLElement>('h1[tabindex="-1"]');
    (heading ?? main).focus();
  }, [key]);

  function skipToContent(event: MouseEvent<HTMLAnchorElement>) {
    // The hash is the router's: focus the content instead of following the link.
    event.preventDefault();
    mainRef.current?.focus();
  }

  return (
    <div className="app-shell">
      <a className="app-shell__skip-link" href="#main-content" onClick={skipToContent}>
        Skip to content
      </a>
      <AppHeader {...(services.jobs ? { jobs: services.jobs } : {})} />
      <Sidebar currentPath={path} showPreferences={services.preferences !== undefined} />
      <main id="main-content" className="app-shell__main" ref={mainRef} tabIndex={-1}>
        <RouteScreen
          key={key}
          route={route}
          services={services}
          settings={settings}
          onSettingsSaved={replace}
        />
      </main>
    </div>
  );
}
