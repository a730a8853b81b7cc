import { useEffect, useRef, type MouseEvent } from 'react';
import { resolveRoute } from '../routes.ts';
import { useHashPath } from '../use-hash-path.ts';
import { AppHeader } from './AppHeader.tsx';
import { Sidebar } from './Sidebar.tsx';
import './AppShell.css';

export function AppShell() {
  const route = resolveRoute(useHashPath());
  const mainRef = useRef<HTMLElement>(null);
  const shownPath = useRef(route.path);

  // After navigating, move focus to the new screen so keyboard and screen-reader users
  // start there instead of on the sidebar link. Not on first load.
  useEffect(() => {
    if (shownPath.current === route.path) return;
    shownPath.current = route.path;
    mainRef.current?.focus();
  }, [route.path]);

  function skipToContent(event: MouseEvent<HTMLAnchorElement>) {
    // The hash is the router's: focus the content instead of following the link.
    event.preventDefault();
    mainRef.current?.focus();
  }

  const { Screen } = route;
  return (
    <div className="app-shell">
      <a className="app-shell__skip-link" href="#main-content" onClick={skipToContent}>
        Skip to content
      </a>
      <AppHeader />
      <Sidebar currentPath={route.path} />
      <main id="main-content" className="app-shell__main" ref={mainRef} tabIndex={-1}>
        <Screen />
      </main>
    </div>
  );
}
