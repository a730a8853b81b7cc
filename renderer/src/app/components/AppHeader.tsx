import { useClient } from '../../client/client-context.tsx';
import { LogoMark } from '../../components/icons.tsx';

export function AppHeader() {
  const client = useClient();
  return (
    <header className="app-header">
      <div className="app-header__brand">
        <LogoMark className="logo-mark" />
        <span className="app-header__name">Nestbox</span>
      </div>
      {client.transport === 'http' && (
        // Over `nestbox serve` the page may be on another machine than the VMs: say so.
        <p className="app-header__session">
          Browser session via <code>nestbox serve</code>
        </p>
      )}
    </header>
  );
}
