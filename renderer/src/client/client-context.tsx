import { createContext, useContext, type ReactNode } from 'react';
import type { NestboxClient } from './nestbox-client.ts';

const ClientContext = createContext<NestboxClient | null>(null);

export function ClientProvider({
  client,
  children,
}: {
  client: NestboxClient;
  children: ReactNode;
}) {
  return <ClientContext value={client}>{children}</ClientContext>;
}

/** The NestboxClient given to the app; features talk to the services only through it. */
export function useClient(): NestboxClient {
  const client = useContext(ClientContext);
  if (!client) throw new Error('useClient() needs a <ClientProvider> above it.');
  return client;
}
