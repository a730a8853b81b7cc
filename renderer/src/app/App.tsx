import { useMemo } from 'react';
import { ClientProvider } from '../client/client-context.tsx';
import type { NestboxClient } from '../client/nestbox-client.ts';
import { ToastProvider } from '../components/toast/ToastProvider.tsx';
import { LibraryProvider, type LibraryLinks } from '../features/library/hooks/library-context.tsx';
import { AppShell } from './components/AppShell.tsx';
import { hrefs } from './routes.ts';
import { servicesFromClient, type AppServices } from './services.ts';
import './styles/theme.css';
import './styles/base.css';

/** Where the library's links lead; only to screens the services can fill. */
function libraryLinksFor(services: AppServices): LibraryLinks {
  return {
    vm: hrefs.vm,
    vmSettings: hrefs.vmSettings,
    vmDisplay: hrefs.vmDisplay,
    ...(services.console ? { vmConsole: hrefs.vmConsole } : {}),
    ...(services.snapshots ? { vmSnapshots: hrefs.vmSnapshots } : {}),
    brokenVm: hrefs.brokenVm,
    newVm: hrefs.newVm,
  };
}

interface AppProps {
  client: NestboxClient;
  /** What the features use; built from the client unless a test gives its own. */
  services?: AppServices;
  /** How often the library asks again when it has no change events (ms); 0 never. */
  libraryPollMs?: number;
}

/** The whole UI. The client is passed in, so tests give it a fake one. */
export function App({ client, services, libraryPollMs }: AppProps) {
  const wired = useMemo(() => services ?? servicesFromClient(client), [services, client]);
  const libraryLinks = useMemo(() => libraryLinksFor(wired), [wired]);
  return (
    <ClientProvider client={client}>
      <ToastProvider>
        <LibraryProvider api={wired.library} links={libraryLinks} pollMs={libraryPollMs}>
          <AppShell services={wired} />
        </LibraryProvider>
      </ToastProvider>
    </ClientProvider>
  );
}
