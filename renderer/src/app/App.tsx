import { ClientProvider } from '../client/client-context.tsx';
import type { NestboxClient } from '../client/nestbox-client.ts';
import { AppShell } from './components/AppShell.tsx';
import './styles/theme.css';
import './styles/base.css';

/** The whole UI. The client is passed in, so tests give it a fake one. */
export function App({ client }: { client: NestboxClient }) {
  return (
    <ClientProvider client={client}>
      <AppShell />
    </ClientProvider>
  );
}
