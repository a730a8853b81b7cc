/**
 * A VM's folder name, derived from its display name when the VM is made: readable in a file
 * manager, safe on any Linux file system and in a shell, and never hidden. The name is
 * chosen once; renaming the VM later changes only vm.json (see docs/vm-library.md).
 */

/** Bytes, not characters: ext4 and most file systems allow 255 bytes per name. */
const maxFolderNameBytes = 120;

/**
 * "Ubuntu 24.04 / dev" → "Ubuntu 24.04 - dev". Letters and digits of any script, spaces and
 * `. _ - ( ) + ,` are kept; anything else (slashes, quotes, control characters, shell
 * metacharacters) becomes "-". Leading dots and dashes are dropped so the folder is neither
 * hidden nor mistaken for a command-line option.
 */
export function folderNameFor(vmName: string): string {
  let name = vmName
    .normalize('NFC')
    .replace(/[^\p{L}\p{M}\p{N} ._\-()+,]/gu, '-')
    .replace(/\s+/g, ' ')
    .replace(/-{2,}/g, '-')
    .replace(/^[\s.-]+/, '')
    .replace(/[\s.]+$/, '');
  name = truncateToBytes(name, maxFolderNameBytes).replace(/[\s.]+$/, '');
  return name === '' ? 'VM' : name;
}

/** The n-th candidate when the plain name is taken: "Alpine", "Alpine (2)", "Alpine (3)"… */
export function numberedFolderName(base: string, attempt: number): string {
  return attempt <= 1 ? base : `${base} (${attempt})`;
}

function truncateToBytes(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let result = '';
  for (const char of text) {
    if (Buffer.byteLength(result + char) > maxBytes) break;
    result += char;
  }
  return result;
}
