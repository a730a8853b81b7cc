import { useClient } from '../../client/client-context.tsx';
import { LogoMark } from '../../components/icons.tsx';
import type { JobsApi } from '../../features/jobs/api/jobs-api.ts';
import { JobsIndicator } from '../../features/jobs/JobsIndicator.tsx';

/** The app's title bar, with long operations in progress when there are any. */
export function AppHeader({ jobs }: { jobs?: JobsApi }) {
  const client = useClient();
  return (
    <header className="app-header">
      <div className="app-header__brand">
        <LogoMark className="logo-mark" />
        <span className="app-header__name">Nestbox</span>
      </div>
      {jobs && <JobsIndicator api={jobs} />}
      {client.transport === 'http' && (
        // Over `nestbox serve` the page may be on another machine than the VMs: say so.
        <p className="app-header__session">
          Browser session via <code>nestbox serve</code>
        </p>
      )}
    </header>
  );
}
