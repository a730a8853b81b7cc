/**
 * Serves the built renderer (dist/renderer) for Electron's app:// protocol and for
 * `nestbox serve`, with one resolver so both refuse the same paths: `..` segments (also when
 * percent-encoded), NUL bytes, backslashes, and symlinks that lead outside the directory.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { securityHeaders } from './content-security-policy.ts';
import { mimeTypeFor } from './mime-types.ts';

export type ResolvedRendererPath =
  { ok: true; filePath: string } | { ok: false; reason: 'malformed' | 'traversal' };

function isInside(root: string, candidate: string): boolean {
  const relative = path.relative(root, candidate);
  return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * Maps a URL path (as sent, still percent-encoded, without query) to a file under `root`.
 * Pure: touches no file system, so it is checked before any I/O.
 */
export function resolveRendererPath(root: string, urlPath: string): ResolvedRendererPath {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return { ok: false, reason: 'malformed' };
  }
  if (!decoded.startsWith('/') || decoded.includes('\0') || decoded.includes('\\')) {
    return { ok: false, reason: 'malformed' };
  }
  const segments = decoded.split('/');
  // Refuse rather than normalise: a request that climbs is never a legitimate renderer URL.
  if (segments.includes('..')) return { ok: false, reason: 'traversal' };

  const kept = segments.filter((segment) => segment !== '' && segment !== '.');
  if (decoded.endsWith('/')) kept.push('index.html');
  const absoluteRoot = path.resolve(root);
  const filePath = path.join(absoluteRoot, ...kept);
  if (!isInside(absoluteRoot, filePath)) return { ok: false, reason: 'traversal' };
  return { ok: true, filePath };
}

export interface RendererResponse {
  status: number;
  headers: Record<string, string>;
  /** For errors a short status text, so nothing about the file system leaks. */
  body: Buffer;
}

function plainResponse(status: number, text: string): RendererResponse {
  return {
    status,
    headers: { ...securityHeaders, 'Content-Type': 'text/plain; charset=utf-8' },
    body: Buffer.from(text),
  };
}

/** Reads one renderer file for a GET; callers handle other methods. */
export async function loadRendererFile(root: string, urlPath: string): Promise<RendererResponse> {
  const resolved = resolveRendererPath(root, urlPath);
  if (!resolved.ok) {
    return resolved.reason === 'malformed'
      ? plainResponse(400, 'Bad request')
      : plainResponse(404, 'Not found');
  }
  try {
    const [realRoot, realFile] = await Promise.all([
      realpath(path.resolve(root)),
      realpath(resolved.filePath),
    ]);
    if (!isInside(realRoot, realFile) || !(await stat(realFile)).isFile()) {
      return plainResponse(404, 'Not found');
    }
    const body = await readFile(realFile);
    return {
      status: 200,
      headers: {
        ...securityHeaders,
        'Content-Type': mimeTypeFor(realFile),
        // The build's file names are content-hashed but index.html is not; always revalidate.
        'Cache-Control': 'no-cache',
      },
      body,
    };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
      return plainResponse(404, 'Not found');
    }
    throw error;
  }
}
