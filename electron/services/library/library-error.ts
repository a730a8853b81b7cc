/**
 * Errors from the VM library, with a stable code for the transports (the serve API maps
 * codes to HTTP statuses, the CLI to exit codes) and a message a user can act on.
 */
import type { ValidationIssue } from './validation.ts';

export type LibraryErrorCode =
  /** No VM with that id (or no such folder in the library). */
  | 'not-found'
  /** The library root exists but cannot be listed (permissions, not a folder). */
  | 'library-unreadable'
  /** The request itself is wrong: a bad name, patch or spec; `issues` says where. */
  | 'invalid-request'
  /** The VM's vm.json is broken; the operation needs a valid one. `issues` when known. */
  | 'broken-vm'
  /** The change needs the VM powered off (or the VM must be off to be deleted). */
  | 'vm-running'
  /** import: the folder has no vm.json. */
  | 'not-a-vm'
  /** import: another VM in the library has the same id (the folder is a copy). */
  | 'duplicate-id'
  /** import: the folder is already in the library. */
  | 'already-in-library'
  /** library.json (the list of imported folders) is broken; it is left alone. */
  | 'registry-broken'
  /** Neither the desktop trash nor the library's .trash folder could take the VM. */
  | 'trash-failed'
  /** create: no image-creation function was configured, or it failed. */
  | 'disk-create-failed';

export class LibraryError extends Error {
  override readonly name = 'LibraryError';

  constructor(
    readonly code: LibraryErrorCode,
    message: string,
    readonly issues: readonly ValidationIssue[] = [],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}
