import { render, type RenderResult } from '@testing-library/react';
import type { ReactElement } from 'react';
import { ToastProvider } from '../components/toast/ToastProvider.tsx';
import type { LibraryApi } from '../features/library/api/library-api.ts';
import { LibraryProvider, type LibraryLinks } from '../features/library/hooks/library-context.tsx';

export const testLinks: LibraryLinks = {
  vm: (id) => `#/vms/${id}`,
  vmSettings: (id) => `#/vms/${id}/settings`,
  brokenVm: (folder) => `#/broken/${encodeURIComponent(folder)}`,
  newVm: '#/new-vm',
};

/** Renders with the providers screens expect: toasts, and the library when `library` is given. */
export function renderWithProviders(
  ui: ReactElement,
  { library }: { library?: LibraryApi } = {},
): RenderResult {
  const wrapped = library ? (
    <LibraryProvider api={library} links={testLinks} pollMs={0}>
      {ui}
    </LibraryProvider>
  ) : (
    ui
  );
  return render(<ToastProvider>{wrapped}</ToastProvider>);
}
